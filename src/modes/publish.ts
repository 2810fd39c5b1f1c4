// The publisher: outside the agent's room, with the credentials. It takes the agent's commits in
// as a bundle (every object checked as it arrives, the history required to descend from where the
// session started), describes the branch in the action's own repository, runs the pre-push checks
// and the test ratchet (the tests themselves run back in the room), pushes exactly the checked
// commit and opens the pull request. No code of the agent's runs here, and every process of the
// room is dead before the push: the room's reaper runs after each thing the room did.
import * as core from "@actions/core";
import type { SessionResult } from "../adapters/claude.js";
import { republishCommits } from "../adapters/commit-rewrite.js";
import * as git from "../adapters/git.js";
import { publishVerified, VerifiedCommitError } from "../adapters/verified-commits.js";
import type { Task } from "../core/ledger.js";
import { round } from "../core/lifecycle.js";
import { INSTRUCTIONS_CHANGED_LABEL } from "../core/labels.js";
import { ciExecutedChanges, instructionChanges } from "../core/protected-paths.js";
import { classifyOutcome, type OutcomeResult } from "../core/outcome.js";
import * as decide from "../core/run-decisions.js";
import { planFixRound } from "../core/fix-rounds.js";
import { agentSummary, describeEgress, failureComment, prBody, prTitle } from "../core/run-report.js";
import type { Violation } from "../core/secret-scan.js";
import type { TranscriptLink } from "../core/transcript.js";
import type { AgentRoom, Sealed } from "../room/agent-room.js";
import type { ModeContext } from "./context.js";
import {
  checkDependencies,
  type DependencyCheck,
  dependencyFacts,
  malwareReason,
} from "./dependency-check.js";
import type { Claimed, Conclusion } from "./run-attempt.js";
import * as steps from "./run-steps.js";
import { publishTranscript } from "./transcript.js";

export interface PublishRequest {
  claim: Claimed;
  branch: string;
  model?: string;
  /** The action's own checkout and remote (with the token). */
  cwd: string;
  remote: git.Remote;
  defaultBranch: string;
  baseSha: string;
  startSha: string;
  continued: boolean;
  /** The branch's tip on the remote when the run started (an earlier attempt's, maybe stale). */
  remoteSha?: string;
  issueTitle: string;
  session: SessionResult;
  resumed: boolean;
  sealed: Sealed;
  baseTests?: decide.TestRun;
  agentRoom: AgentRoom;
  secrets: string[];
}

/**
 * The publisher's own checkout, before the room: the default branch's tip (the base), and the
 * task branch at the base or at the tip an earlier attempt pushed and recorded (continued).
 */
export async function prepareCheckout(
  ctx: ModeContext,
  req: { task: Task; attemptNumber: number; cwd: string; remote: git.Remote; branch: string },
) {
  const { gh, settings } = ctx;
  const { cwd, remote, branch } = req;
  const defaultBranch = steps.repositoryDefaultBranch(settings.context.payload) ?? (await gh.defaultBranch());
  const heads = await git.remoteHeads(cwd, remote, [defaultBranch, branch]);
  const baseSha = heads.get(defaultBranch);
  if (!baseSha) throw new Error(`the default branch ${defaultBranch} was not found at ${remote.url}`);
  const remoteSha = heads.get(branch);
  await git.checkoutBase(cwd, remote, defaultBranch, baseSha);
  // A fix round continues the PR's branch as it is now (a maintainer may have pushed to it too).
  const wanted = req.task.fixRound ? remoteSha : decide.continuationSha(req.task, req.attemptNumber);
  const start = await git.createTaskBranch(cwd, remote, {
    branch,
    baseSha,
    ...(wanted && wanted === remoteSha ? { continueSha: wanted } : {}),
  });
  if (start.continued)
    core.info(`Continuing from the earlier attempt's work at ${start.startSha.slice(0, 12)}.`);
  return { defaultBranch, baseSha, remoteSha, start, wanted };
}

/** Takes the agent's commits in; a bundle that cannot be taken in fails the task, with the reason. */
async function importCommits(req: PublishRequest): Promise<{ head: string; refused?: string }> {
  if (!req.sealed.bundle) return { head: req.startSha };
  try {
    return await core.group("Take in the agent's commits", async () => {
      const imported = await git.importBundle(
        req.cwd,
        req.sealed.bundle!.file,
        req.sealed.bundle!.head,
        req.startSha,
      );
      const out = await republishCommits(req.cwd, req.startSha, imported, req.claim.task.issue);
      if (out.rewritten)
        core.info(
          `Published ${out.rewritten} commit(s) under aegis's identity${out.closersRemoved ? `; ${out.closersRemoved} message(s) had a closing keyword for another issue, now \`Refs\`` : ""}.`,
        );
      return { head: out.head };
    });
  } catch (error) {
    return { head: req.startSha, refused: (error as Error).message };
  }
}

export async function publish(ctx: ModeContext, req: PublishRequest): Promise<Conclusion> {
  const { settings, gh } = ctx;
  const { config } = settings;
  const { task, attemptNumber } = req.claim;
  const { session, secrets } = req;
  const imported = await importCommits(req);
  const state = await git.describeBranch(req.cwd, req.baseSha, req.startSha, imported.head);
  const spend = req.agentRoom.spend();
  const outcome: OutcomeResult = classifyOutcome({
    session,
    commitsAhead: state.commitsAhead,
    changedFiles: state.netPaths.length,
    proxy: spend,
  });
  core.info(
    `Outcome: ${outcome.outcome}${outcome.reason ? ` (${outcome.reason})` : ""}; ${state.commitsAhead} commit(s) ahead of ${req.defaultBranch}.`,
  );
  let plan = decide.planAfterSession({
    outcome,
    commitsAhead: state.commitsAhead,
    newCommits: state.newCommits,
    attempt: attemptNumber,
    maxAttempts: config.run.maxAttempts,
  });
  if (imported.refused) {
    core.warning(`The agent's commits were not taken in: ${imported.refused}`);
    plan = { push: "none", state: "failed", reason: `the agent's commits were refused: ${imported.refused}` };
  }

  // Only work that would be pushed is checked; the ratchet only guards a pull request.
  let violations: Violation[] | undefined;
  let branchTests: decide.TestRun | undefined;
  let dependencies: DependencyCheck | undefined;
  if (plan.push !== "none") {
    violations = steps.checkBranch(state, secrets, settings);
    // A push the checks already refuse needs no advisory lookup (each call counts on the token).
    if (!violations.length) dependencies = await checkDependencies(ctx, req.cwd, req.baseSha, state);
    if (violations.length) core.warning(`Pre-push check failed: ${decide.describeViolations(violations)}`);
    // Known malware is never pushed, nor its tests run.
    else if (plan.push === "pr" && req.baseTests && !dependencies?.malware.length)
      branchTests = await req.agentRoom.runTests("branch", imported.head);
    plan = decide.applyGates(plan, {
      violations,
      ...(req.baseTests ? { base: req.baseTests } : {}),
      ...(branchTests ? { branch: branchTests } : {}),
    });
    if (dependencies?.malware.length)
      plan = { push: "none", state: "failed", reason: malwareReason(dependencies.malware) };
  }
  if (task.fixRound)
    plan = planFixRound(plan, {
      number: task.fixRound,
      max: config.review.maxFixRounds,
      newCommits: state.newCommits,
    });
  const tests = decide.testsLabel(req.baseTests, branchTests);
  // A task that did not make it, where the network was refused, says so: the fix may be run.egress.
  const egress = await req.agentRoom.room.egressReport();
  if ((egress?.refused || egress?.lookupsRefused) && plan.state !== "pr-open")
    plan = { ...plan, reason: `${plan.reason}; ${describeEgress(egress)}`.slice(0, 600) };
  if (plan.state === "queued" && session.sessionId)
    await req.agentRoom.saveSession(attemptNumber, session.sessionId, secrets);
  // The wall: nothing of the room runs from here on, while the token is in use.
  const reaped = await req.agentRoom.room.reap();
  if (reaped) core.info(`Stopped ${reaped} process(es) of the room before publishing.`);
  const transcript = await publishTranscript(ctx, req.agentRoom, {
    taskId: task.id,
    attempt: attemptNumber,
    ...(task.fixRound ? { fixRound: task.fixRound } : {}),
    ...(session.sessionId ? { sessionId: session.sessionId } : {}),
    secrets,
  });

  let branchSha = req.continued ? req.startSha : undefined;
  if (plan.push !== "none" && settings.dryRun) {
    core.info(
      `Dry run: would push ${state.headSha.slice(0, 12)} as ${req.branch}${plan.push === "pr" ? " and open a pull request" : ""}.`,
    );
    plan = { ...plan, push: "none" };
  } else if (plan.push !== "none") {
    // A stale branch of an earlier attempt is replaced by compare-and-swap on the tip seen at the
    // start; creating the branch, or continuing from its tip, is a plain push.
    const replaceSha = req.remoteSha && req.remoteSha !== req.startSha ? req.remoteSha : undefined;
    try {
      if (config.run.verifiedCommits) {
        const made = await core.group(`Publish ${req.branch} as verified commits`, () =>
          publishVerified(gh, {
            cwd: req.cwd,
            branch: req.branch,
            from: req.startSha,
            head: state.headSha,
            ...(req.remoteSha ? { remoteSha: req.remoteSha } : {}),
          }),
        );
        core.info(
          `Published ${made.commits} verified commit(s) (${made.blobs} file(s) sent) as ${req.branch}.`,
        );
        branchSha = made.head;
      } else {
        await core.group(`Push ${req.branch}`, () =>
          git.pushBranch(req.cwd, req.remote, {
            sha: state.headSha,
            branch: req.branch,
            ...(replaceSha ? { replaceSha } : {}),
          }),
        );
        branchSha = state.headSha;
      }
    } catch (error) {
      const what =
        error instanceof VerifiedCommitError ? "publishing verified commits failed" : "the push was refused";
      plan = { push: "none", state: "failed", reason: `${what}: ${(error as Error).message}` };
      if (error instanceof VerifiedCommitError)
        await gh.createComment(task.issue, verifiedFailureComment(task.id, error.message));
    }
  }
  const published = { ...state, headSha: branchSha ?? state.headSha };
  const pr =
    plan.push === "pr"
      ? await openPull(ctx, req, task, { outcome, state: published, tests, dependencies, transcript })
      : undefined;

  const leftOut = req.sealed.leftOut.filter((p) => decide.isSecretLikePath(p));
  const record: decide.AttemptRecord = {
    outcome: outcome.outcome,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    ...(outcome.failureKind ? { failureKind: outcome.failureKind } : {}),
    turns: decide.reportedCount(session.result?.num_turns),
    // The proxy's count of what the provider answered; the CLI's own figure only for comparison.
    costUsd: round(spend.costUsd),
    ...(decide.reportedUsd(session.costUsd) !== undefined
      ? { reportedCostUsd: decide.reportedUsd(session.costUsd) }
      : {}),
    durationMs: session.durationMs,
    ...(session.sessionId ? { sessionId: session.sessionId } : {}),
    resumed: req.resumed,
    commits: state.commitsAhead,
    files: state.netPaths.slice(0, 200),
    ...(tests ? { tests } : {}),
    ...(req.model ? { model: req.model } : {}),
    ...(branchSha ? { branchSha } : {}),
    ...(violations?.length ? { checks: decide.describeViolations(violations).slice(0, 500) } : {}),
    sandbox: req.agentRoom.room.sandbox,
    ...(task.fixRound ? { fixRound: task.fixRound } : {}),
    ...(transcript && "url" in transcript ? { transcript: transcript.url } : {}),
  };
  const testFailed = branchTests !== undefined && !branchTests.passed;
  const malware = Boolean(dependencies?.malware.length);
  if (plan.state === "failed" && (violations?.length || testFailed || imported.refused || malware)) {
    const comment = failureComment({
      taskId: task.id,
      reason: plan.reason,
      violations: violations ?? [],
      ...(testFailed ? { testCommand: config.run.testCommand.trim(), branchTests } : {}),
    });
    await gh.createComment(task.issue, comment);
  }
  return {
    ...req.claim,
    branch: req.branch,
    ...(req.model ? { model: req.model } : {}),
    plan,
    record,
    outcome,
    session,
    leftOut,
    ...(pr ? { pr } : {}),
    ...(violations ? { violations } : {}),
    ...(tests ? { tests } : {}),
    ...(egress ? { egress } : {}),
    ...(transcript ? { transcript } : {}),
  };
}

async function openPull(
  ctx: ModeContext,
  req: PublishRequest,
  task: Task,
  what: {
    outcome: OutcomeResult;
    state: git.BranchState;
    tests?: string;
    dependencies?: DependencyCheck;
    transcript?: TranscriptLink | undefined;
  },
) {
  const { config } = ctx.settings;
  const leftOut = req.sealed.leftOut.filter((p) => decide.isSecretLikePath(p));
  const fixRound = task.fixRound ? { number: task.fixRound, max: config.review.maxFixRounds } : undefined;
  // Reaches here only under `run.instructionChanges: flag` (else the pre-push check refused it).
  const instructionFiles = instructionChanges(what.state.netPaths);
  const body = prBody({
    issue: task.issue,
    taskId: task.id,
    category: task.category,
    attempt: req.claim.attemptNumber,
    maxAttempts: config.run.maxAttempts,
    outcome: decide.OUTCOME_LABEL[what.outcome.outcome],
    summary: agentSummary(req.session.result?.result, req.secrets),
    turns: req.session.result?.num_turns ?? 0,
    costUsd: round(req.agentRoom.spend().costUsd),
    durationMs: req.session.durationMs,
    ...(what.tests ? { tests: what.tests } : {}),
    ...(req.model ? { model: req.model } : {}),
    commits: what.state.commitsAhead,
    files: what.state.netPaths.length,
    leftOut,
    ciFiles: ciExecutedChanges(what.state.netPaths),
    instructionFiles,
    ...(what.dependencies ? { dependencies: dependencyFacts(what.dependencies) } : {}),
    ...(fixRound ? { fixRound } : {}),
    ...(what.transcript ? { transcript: what.transcript } : {}),
  });
  // A fix round's commits went onto the PR's own branch: the same PR, its body brought up to date.
  const opened =
    fixRound && task.pr && !task.pr.merged
      ? await updatePull(
          ctx,
          task.pr,
          fixRound.number,
          { title: prTitle(req.issueTitle), body },
          req.defaultBranch,
        )
      : await core.group("Pull request", () =>
          steps.openPull(
            ctx,
            task,
            { head: req.branch, base: req.defaultBranch, headSha: what.state.headSha },
            req.issueTitle,
            body,
          ),
        );
  // A person should read a change to the agents' instructions before it merges (adding is idempotent).
  if (opened && instructionFiles.length) await ctx.gh.addLabels(opened.number, [INSTRUCTIONS_CHANGED_LABEL]);
  return opened;
}

function updatePull(
  ctx: ModeContext,
  pr: { number: number; url: string },
  round: number,
  change: { title: string; body: string },
  base: string,
) {
  return core.group(`Pull request #${pr.number}, fix round ${round}`, async () => {
    await ctx.gh.updatePull(pr.number, change);
    return { number: pr.number, url: pr.url, base };
  });
}

/** The issue's note when GitHub refused part of a verified publish: which file, and why. */
function verifiedFailureComment(taskId: string, reason: string): string {
  return [
    "<!-- aegis:run-failure -->",
    `Task \`${taskId}\`: the agent's commits could not be published as verified commits (\`run.verifiedCommits\`).`,
    "",
    `> ${reason.replace(/\n/g, " ")}`,
    "",
    "The task branch was left as it was. Remove and re-add the trigger label to try again, or turn `run.verifiedCommits` off to push the commits as they are.",
  ].join("\n");
}
