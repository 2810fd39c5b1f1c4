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
import path from "node:path";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import type { LedgerSnapshot } from "../adapters/ledger-store.js";
import { runClaudeSession } from "../adapters/claude.js";
import * as git from "../adapters/git.js";
import { restoreSession, saveSession } from "../adapters/session-store.js";
import { runTestCommand } from "../adapters/test-command.js";
import { buildBrief, maxTurnsFor, namedPaths } from "../core/brief.js";
import type { Task } from "../core/ledger.js";
import { classifyOutcome } from "../core/outcome.js";
import * as decide from "../core/run-decisions.js";
import { agentSummary, failureComment, prBody } from "../core/run-report.js";
import type { Violation } from "../core/secret-scan.js";
import type { ModeContext } from "./context.js";
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

  // The branch starts at the default branch's current tip, or at an earlier attempt's checked work.
  const defaultBranch = steps.repositoryDefaultBranch(context.payload) ?? (await gh.defaultBranch());
  const heads = await git.remoteHeads(cwd, remote, [defaultBranch, branch]);
  const baseSha = heads.get(defaultBranch);
  if (!baseSha) throw new Error(`the default branch ${defaultBranch} was not found at ${remote.url}`);
  const remoteSha = heads.get(branch);
  await git.checkoutBase(cwd, remote, defaultBranch, baseSha);
  const testCommand = config.run.testCommand.trim();
  const runTests = testCommand
    ? async (where: string) => {
        const env = await steps.testEnv(ctx);
        const timeoutMs = config.run.timeoutMinutes * 60_000;
        const result = await core.group(`Tests on the ${where}`, () =>
          runTestCommand({ command: testCommand, cwd, env, timeoutMs, secrets }),
        );
        core.info(`Tests on the ${where}: ${result.passed ? "pass" : "fail"} (${result.durationMs} ms).`);
        return result;
      }
    : undefined;
  const baseTests = await runTests?.("base");
  const wanted = decide.continuationSha(task, attemptNumber);
  const start = await git.createTaskBranch(cwd, remote, {
    branch,
    baseSha,
    ...(wanted && wanted === remoteSha ? { continueSha: wanted } : {}),
  });
  if (start.continued)
    core.info(`Continuing from the earlier attempt's work at ${start.startSha.slice(0, 12)}.`);
  const dirtyBefore = new Set(await git.dirtyPaths(cwd));
  const guard = await git.guardRepository(cwd);

  // The session.
  const body = issue.body ?? "";
  const namedFiles = await steps.lineCounts(cwd, namedPaths(`${issue.title}\n${body}`));
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
  const hooksDir = path.join(context.actionPath, "hooks");
  const home = await steps.freshAgentHome(context.runnerTemp);
  const env = steps.agentEnv(ctx, home);
  // Context across attempts: the earlier session's transcript (Actions cache), unless the branch
  // it describes was replaced — then the brief's memory of attempts is the safer guide.
  const store = { cache, home, cwd, taskId: task.id };
  const resumed =
    attemptNumber > 1 && (!wanted || start.continued)
      ? await core.group("Earlier session", () => restoreSession({ ...store, attempt: attemptNumber }))
      : undefined;
  const resumeSessionId = resumed?.restored ? resumed.sessionId : undefined;
  const session = await core.group(`Claude Code session (task ${task.id}, attempt ${attemptNumber})`, () =>
    runClaudeSession({
      executable,
      cwd,
      prompt: brief.prompt,
      appendSystemPrompt: brief.appendSystemPrompt,
      maxTurns: maxTurnsFor(config.run.maxTurns, namedFiles),
      ...(model ? { model } : {}),
      ...(config.budgets.perTaskUsd > 0 ? { maxBudgetUsd: config.budgets.perTaskUsd } : {}),
      ...(resumeSessionId ? { resumeSessionId } : {}),
      settingsPath: path.join(hooksDir, "settings.json"),
      hooksDir,
      env,
      timeoutMs: steps.sessionTimeoutMs(config.run.timeoutMinutes),
    }),
  );

  // After the session: put .git/ back before any git command, commit what was left, look at the branch.
  const tampered = await guard.restore();
  if (tampered.length) core.warning(`The session changed ${tampered.join(", ")}; restored.`);
  const leftovers = await git.commitLeftovers(cwd, {
    leaveOut: (p) => decide.isSecretLikePath(p) || dirtyBefore.has(p),
    message: `aegis: commit the session's uncommitted changes (task ${task.id})`,
  });
  if (leftovers.committed.length)
    core.info(`Committed ${leftovers.committed.length} file(s) the session left.`);
  const leftOut = leftovers.leftOut.filter((p) => decide.isSecretLikePath(p));
  if (leftOut.length) core.warning(`Not committed (they look like credentials): ${leftOut.join(", ")}`);
  const state = await git.describeBranch(cwd, baseSha, start.startSha);
  const outcome = classifyOutcome({
    session,
    commitsAhead: state.commitsAhead,
    changedFiles: state.netPaths.length,
  });
  core.info(
    `Outcome: ${outcome.outcome}${outcome.reason ? ` (${outcome.reason})` : ""}; ${state.commitsAhead} commit(s) ahead of ${defaultBranch}.`,
  );
  let plan = decide.planAfterSession({
    outcome,
    commitsAhead: state.commitsAhead,
    newCommits: state.newCommits,
    attempt: attemptNumber,
    maxAttempts: config.run.maxAttempts,
  });

  // Only work that would be pushed is checked; the ratchet only guards a pull request.
  let violations: Violation[] | undefined;
  let branchTests;
  if (plan.push !== "none") {
    violations = steps.checkBranch(state, secrets, settings);
    if (violations.length) core.warning(`Pre-push check failed: ${decide.describeViolations(violations)}`);
    else if (plan.push === "pr" && baseTests) branchTests = await runTests?.("branch");
    plan = decide.applyGates(plan, {
      violations,
      ...(baseTests ? { base: baseTests } : {}),
      ...(branchTests ? { branch: branchTests } : {}),
    });
  }
  const tests = decide.testsLabel(baseTests, branchTests);
  if (plan.state === "queued" && session.sessionId)
    await core.group("Save the session for the next attempt", () =>
      saveSession({ ...store, attempt: attemptNumber, sessionId: session.sessionId!, knownSecrets: secrets }),
    );

  let branchSha = start.continued ? start.startSha : undefined;
  if (plan.push !== "none" && settings.dryRun) {
    core.info(
      `Dry run: would push ${state.headSha.slice(0, 12)} as ${branch}${plan.push === "pr" ? " and open a pull request" : ""}.`,
    );
    plan = { ...plan, push: "none" };
  } else if (plan.push !== "none") {
    // A stale branch of an earlier attempt is replaced by compare-and-swap on the tip seen at the
    // start; creating the branch, or continuing from its tip, is a plain push.
    const replaceSha = remoteSha && remoteSha !== start.startSha ? remoteSha : undefined;
    try {
      await core.group(`Push ${branch}`, () =>
        git.pushBranch(cwd, remote, { sha: state.headSha, branch, ...(replaceSha ? { replaceSha } : {}) }),
      );
      branchSha = state.headSha;
    } catch (error) {
      plan = { push: "none", state: "failed", reason: `the push was refused: ${(error as Error).message}` };
    }
  }
  const pr =
    plan.push === "pr"
      ? await core.group("Pull request", () =>
          steps.openPull(
            ctx,
            task,
            { head: branch, base: defaultBranch },
            issue.title,
            prBody({
              issue: task.issue,
              taskId: task.id,
              category: task.category,
              attempt: attemptNumber,
              maxAttempts: config.run.maxAttempts,
              outcome: decide.OUTCOME_LABEL[outcome.outcome],
              summary: agentSummary(session.result?.result, secrets),
              turns: session.result?.num_turns ?? 0,
              costUsd: session.costUsd,
              durationMs: session.durationMs,
              ...(tests ? { tests } : {}),
              ...(model ? { model } : {}),
              commits: state.commitsAhead,
              files: state.netPaths.length,
              leftOut,
            }),
          ),
        )
      : undefined;

  const record: decide.AttemptRecord = {
    outcome: outcome.outcome,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    ...(outcome.failureKind ? { failureKind: outcome.failureKind } : {}),
    turns: session.result?.num_turns ?? 0,
    costUsd: session.costUsd,
    durationMs: session.durationMs,
    ...(session.sessionId ? { sessionId: session.sessionId } : {}),
    resumed: resumeSessionId !== undefined,
    commits: state.commitsAhead,
    files: state.netPaths.slice(0, 200),
    ...(tests ? { tests } : {}),
    ...(model ? { model } : {}),
    ...(branchSha ? { branchSha } : {}),
    ...(violations?.length ? { checks: decide.describeViolations(violations).slice(0, 500) } : {}),
  };
  const testFailed = branchTests !== undefined && !branchTests.passed;
  if (plan.state === "failed" && (violations?.length || testFailed)) {
    const comment = failureComment({
      taskId: task.id,
      reason: plan.reason,
      violations: violations ?? [],
      ...(testFailed ? { testCommand, branchTests } : {}),
    });
    await gh.createComment(task.issue, comment);
  }
  return conclude(ctx, {
    ...base,
    plan,
    record,
    outcome,
    session,
    leftOut,
    ...(pr ? { pr } : {}),
    ...(violations ? { violations } : {}),
    ...(tests ? { tests } : {}),
  });
}
