// mode: run — one headless Claude Code session for one claimed task, from task to pull request.
//
// Read the ledger → the task must be running → issue text → Claude Code (pinned, cached) →
// branch auto/<category>/<task> from the default branch → tests on the base → the session
// (hooks, scrubbed env, fresh HOME, timeout) → restore .git/ → commit leftovers → classify →
// pre-push checks and the test ratchet → push (token on the command line only) → PR → close
// the attempt in the ledger (compare-and-swap) → label and status comment → outputs, summary.
//
// The step fails only for action errors (unknown task, corrupt ledger, a git or API failure of
// the action itself). A task outcome — blocked, max turns, a refused check, a test regression —
// is recorded, labelled and explained on the issue, and the step stays green so the review and
// digest jobs still run.
import * as core from "@actions/core";
import * as git from "../adapters/git.js";
import type { LedgerSnapshot } from "../adapters/ledger-store.js";
import { buildBrief, maxTurnsFor, namedPaths } from "../core/brief.js";
import type { Task } from "../core/ledger.js";
import * as decide from "../core/run-decisions.js";
import { enterRoom } from "./agent-room.js";
import type { ModeContext } from "./context.js";
import { publish } from "./publish.js";
import { conclude, finish } from "./run-conclude.js";
import * as steps from "./run-steps.js";

const MAX_ISSUE_BYTES = 32_000;

export interface RunReport {
  taskId: string;
  state?: string;
  outcome?: string;
  pr?: { number: number; url: string };
  costUsd: number;
}

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

export interface Claimed {
  task: Task;
  attemptNumber: number;
  snapshot: LedgerSnapshot;
  started: number;
}

async function work(ctx: ModeContext, claim: Claimed): Promise<RunReport> {
  const { settings, gh } = ctx;
  const { config, context } = settings;
  const { task, attemptNumber } = claim;
  const cwd = context.workspace;
  const server = context.serverUrl.replace(/\/+$/, "");
  const remote: git.Remote = { url: `${server}/${gh.owner}/${gh.repo}.git`, token: settings.githubToken };
  const branch = decide.taskBranch(task);
  const secrets = [settings.githubToken, settings.anthropicApiKey, settings.openaiApiKey].filter(Boolean);
  const model = decide.chooseModel(settings.model, config.models, task.category);
  const base = { ...claim, branch, ...(model ? { model } : {}) };

  const issue = await gh.getIssue(task.issue);
  if (!issue || issue.state === "closed") {
    const reason = `issue #${task.issue} is ${issue ? "closed" : "gone"}`;
    return conclude(ctx, { ...base, plan: { push: "none", state: "cancelled", reason } });
  }
  const executable = await core.group("Claude Code", () => steps.claudeExecutable(ctx));

  // The publisher's checkout: the default branch's current tip, or an earlier attempt's checked work.
  const defaultBranch = steps.repositoryDefaultBranch(context.payload) ?? (await gh.defaultBranch());
  const heads = await git.remoteHeads(cwd, remote, [defaultBranch, branch]);
  const baseSha = heads.get(defaultBranch);
  if (!baseSha) throw new Error(`the default branch ${defaultBranch} was not found at ${remote.url}`);
  const remoteSha = heads.get(branch);
  await git.checkoutBase(cwd, remote, defaultBranch, baseSha);
  const wanted = decide.continuationSha(task, attemptNumber);
  const start = await git.createTaskBranch(cwd, remote, {
    branch,
    baseSha,
    ...(wanted && wanted === remoteSha ? { continueSha: wanted } : {}),
  });
  if (start.continued)
    core.info(`Continuing from the earlier attempt's work at ${start.startSha.slice(0, 12)}.`);
  const body = issue.body ?? "";
  const namedFiles = await steps.lineCounts(cwd, namedPaths(`${issue.title}\n${body}`));

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
    }),
  );
  try {
    const testCommand = config.run.testCommand.trim();
    const baseTests = testCommand ? await agentRoom.runTests("base") : undefined;
    const dirtyBefore = new Set(await git.dirtyPaths(agentRoom.work, agentRoom.room.launch));
    const brief = buildBrief({
      task: {
        id: task.id,
        issue: task.issue,
        title: issue.title,
        category: task.category,
        attempt: attemptNumber,
      },
      issueBody: body,
      ...(testCommand ? { testCommand } : {}),
      namedFiles,
      previousAttempts: decide.earlierAttempts(task, attemptNumber),
      maxBodyBytes: MAX_ISSUE_BYTES,
      protectedPaths: [...config.run.protectedPaths],
    });
    const session = await core.group(`Claude Code session (task ${task.id}, attempt ${attemptNumber})`, () =>
      agentRoom.runSession({
        prompt: brief.prompt,
        appendSystemPrompt: brief.appendSystemPrompt,
        maxTurns: maxTurnsFor(config.run.maxTurns, namedFiles),
        ...(model ? { model } : {}),
        ...(config.budgets.perTaskUsd > 0 ? { maxBudgetUsd: config.budgets.perTaskUsd } : {}),
        ...(resumeSessionId ? { resumeSessionId } : {}),
        timeoutMs: steps.sessionTimeoutMs(config.run.timeoutMinutes),
      }),
    );
    const sealed = await agentRoom.seal({
      leaveOut: (p) => decide.isSecretLikePath(p) || dirtyBefore.has(p),
      message: `aegis: commit the session's uncommitted changes (task ${task.id})`,
    });
    if (sealed.committed.length) core.info(`Committed ${sealed.committed.length} file(s) the session left.`);
    const leftOut = sealed.leftOut.filter((p) => decide.isSecretLikePath(p));
    if (leftOut.length) core.warning(`Not committed (they look like credentials): ${leftOut.join(", ")}`);

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
