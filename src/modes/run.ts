// mode: run — one headless Claude Code session for one claimed task, from task to pull request.
//
// It reads as two rooms. Outside, with the credentials: read the ledger → the task must be
// running → issue text → Claude Code (pinned, cached) → the publisher's checkout of the base (or
// of an earlier attempt's work) on auto/<category>/<task>. Inside the agent's room (room/agent-room.ts:
// its own OS user, no credentials, limited egress): tests on the base → the session (hooks,
// timeout) → commit what was left → the commits handed out as a bundle. Outside again
// (publish.ts): take the bundle in → classify → pre-push checks and the test ratchet (the tests run
// back in the room) → every room process gone → push (token in git's environment) → PR → close the
// attempt in the ledger (compare-and-swap) → label and status comment → outputs, summary.
//
// The step fails only for action errors (unknown task, corrupt ledger, a git or API failure of
// the action itself). A task outcome — blocked, max turns, a refused check, a test regression —
// is recorded, labelled and explained on the issue, and the step stays green so the review and
// digest jobs still run.
import * as core from "@actions/core";
import * as git from "../adapters/git.js";
import { namedPaths } from "../core/brief.js";
import { sessionSpendLimit } from "../core/queue.js";
import * as decide from "../core/run-decisions.js";
import { enterRoom, workInRoom } from "../room/agent-room.js";
import { jobSecrets } from "../settings.js";
import type { ModeContext } from "./context.js";
import { prepareCheckout, publish } from "./publish.js";
import type { Claimed, RunReport } from "./run-attempt.js";
import { conclude, finish } from "./run-conclude.js";
import * as steps from "./run-steps.js";

export async function runTask(ctx: ModeContext): Promise<RunReport> {
  const started = Date.now();
  const { settings, store } = ctx;
  const snapshot = await core.group("Read the ledger", () => store.read());
  const start = decide.checkStart(snapshot.ledger, settings.task);
  if (!start.ok) {
    if (start.fatal) throw new Error(start.reason);
    core.info(start.reason);
    return finish(ctx, {
      taskId: settings.task,
      wallMs: Date.now() - started,
      apiCalls: ctx.gh.calls,
      note: `Nothing done: ${start.reason}.`,
      ...(start.state ? { state: start.state } : {}),
    });
  }
  const { task, attempt } = start;
  try {
    return await work(ctx, { task, attemptNumber: attempt.number, snapshot, started });
  } catch (error) {
    await steps.recordActionError(ctx, task, attempt.number, error as Error);
    throw error;
  }
}

async function work(ctx: ModeContext, claim: Claimed): Promise<RunReport> {
  const { settings, gh } = ctx;
  const { config, context } = settings;
  const { task, attemptNumber } = claim;
  const cwd = context.workspace;
  const server = context.serverUrl.replace(/\/+$/, "");
  const remote: git.Remote = { url: `${server}/${gh.owner}/${gh.repo}.git`, token: settings.githubToken };
  const branch = decide.taskBranch(task);
  const secrets = jobSecrets(settings);
  const model = decide.chooseModel(settings.model, config.models, task.category);
  const base = { ...claim, branch, ...(model ? { model } : {}) };

  const issue = await gh.getIssue(task.issue);
  if (!issue || issue.state === "closed") {
    const reason = `issue #${task.issue} is ${issue ? "closed" : "gone"}`;
    return conclude(ctx, { ...base, plan: { push: "none", state: "cancelled", reason } });
  }
  const executable = await core.group("Claude Code", () => steps.claudeExecutable(ctx));

  // The publisher's checkout: the default branch's current tip, or an earlier attempt's checked work.
  const checkout = await prepareCheckout(ctx, { task, attemptNumber, cwd, remote, branch });
  const { defaultBranch, baseSha, remoteSha, start, wanted } = checkout;
  const body = issue.body ?? "";
  const named = namedPaths(`${issue.title}\n${body}`);
  const namedFiles = await steps.lineCounts(cwd, named);
  const instructions = await steps.repositoryInstructions(cwd, baseSha, defaultBranch, named);

  // The agent's room. Context across attempts: the earlier session's transcript (Actions cache),
  // unless the branch it describes was replaced — then the brief's memory of attempts is the guide.
  const { agentRoom, resumeSessionId } = await core.group("The agent's room", () =>
    enterRoom(ctx, {
      claude: executable,
      workspace: cwd,
      baseSha,
      startSha: start.startSha,
      branch,
      taskId: task.id,
      attempt: attemptNumber,
      resume: !wanted || start.continued,
      meter: {
        limitUsd: sessionSpendLimit(claim.snapshot.ledger, task, config, ctx.now()),
        ...(model ? { model } : {}),
      },
    }),
  );
  try {
    const { baseTests, session, sealed } = await workInRoom(ctx, agentRoom, {
      task,
      attemptNumber,
      issue: { title: issue.title, body },
      namedFiles,
      ...(instructions ? { instructions } : {}),
      tasks: claim.snapshot.ledger.tasks,
      ...(task.fixRound && task.pr
        ? { fixRound: await steps.fixRoundBrief(ctx, task, task.fixRound, task.pr.number) }
        : {}),
      ...(model ? { model } : {}),
      ...(resumeSessionId ? { resumeSessionId } : {}),
    });
    const conclusion = await publish(ctx, {
      claim,
      branch,
      ...(model ? { model } : {}),
      cwd,
      remote,
      defaultBranch,
      baseSha,
      startSha: start.startSha,
      continued: start.continued,
      ...(remoteSha ? { remoteSha } : {}),
      issueTitle: issue.title,
      session,
      resumed: resumeSessionId !== undefined,
      sealed,
      ...(baseTests ? { baseTests } : {}),
      agentRoom,
      secrets,
    });
    return await conclude(ctx, { ...conclusion, sandboxed: agentRoom.room.sandbox === "user" });
  } finally {
    await agentRoom.close();
  }
}
