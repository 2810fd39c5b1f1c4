// Run mode's decisions, pure: whether a task may run, which model, what the session's end means
// for the branch (open a PR, keep work in progress for a retry, push nothing) and for the task,
// the circuit breaker, and the ledger write that closes the attempt (safe to re-apply).
import type { EarlierTask, PreviousAttempt } from "./brief.js";
import type { Attempt, Ledger, Task, TaskState } from "./ledger.js";
import { findTask, round, transition } from "./lifecycle.js";
import { isRetryable, type OutcomeResult } from "./outcome.js";
import type { Violation } from "./secret-scan.js";

export type StartCheck =
  | { ok: true; task: Task; attempt: Attempt }
  /** `fatal`: the input names no task at all (a wiring error); otherwise a benign skip. */
  | { ok: false; fatal: boolean; reason: string; state?: TaskState };

export function checkStart(ledger: Ledger, taskId: string): StartCheck {
  const task = findTask(ledger, taskId);
  if (!task)
    return {
      ok: false,
      fatal: true,
      reason: `task ${taskId} is not in the ledger: pass a task id from this run's plan \`tasks\` output`,
    };
  if (task.state !== "running")
    return {
      ok: false,
      fatal: false,
      state: task.state,
      reason: `task ${taskId} is ${task.state}, not running (claimed by plan): nothing to do`,
    };
  const attempt = task.attempts.at(-1);
  if (!attempt || attempt.endedAt)
    return {
      ok: false,
      fatal: false,
      state: task.state,
      reason: `task ${taskId} has no open attempt: nothing to do`,
    };
  return { ok: true, task, attempt };
}

export function taskBranch(task: Pick<Task, "category" | "id">): string {
  return `auto/${task.category}/${task.id}`;
}

/** Cost-aware routing: the `model` input, else the category's model, else the default, else the CLI's. */
export function chooseModel(
  input: string,
  models: Readonly<Record<string, string>>,
  category: string,
): string | undefined {
  return input || models[category] || models.default || undefined;
}

/**
 * Files the action never commits on the agent's behalf: they usually hold credentials. Left in
 * the work tree and named in the summary; if the agent committed one itself, the pre-push
 * check refuses the branch.
 */
export function isSecretLikePath(p: string): boolean {
  const base = p.split("/").at(-1) ?? p;
  if (base === ".env.example") return false;
  return (
    base.startsWith(".env") ||
    base.endsWith(".pem") ||
    base.startsWith("id_rsa") ||
    base === ".git-credentials" ||
    base === ".npmrc"
  );
}

/** Memory across attempts: how each earlier one ended, for the brief. */
export function earlierAttempts(task: Task, current: number): PreviousAttempt[] {
  return task.attempts
    .filter((a) => a.number < current && a.outcome)
    .map((a) => ({ attempt: a.number, outcome: a.outcome!, ...(a.reason ? { reason: a.reason } : {}) }));
}

/**
 * Earlier tasks of `task`'s issue still in the live ledger, oldest first, three at most: how each
 * ended (its last transition's reason), its PR, and what the review found.
 */
export function earlierTasks(tasks: readonly Task[], task: Task): EarlierTask[] {
  return tasks
    .filter((t) => t.issue === task.issue && t.id !== task.id && t.createdAt <= task.createdAt)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .slice(-3)
    .map((t) => {
      // A retry cancels the task it replaces ("continued as task …"): how it ended is the step before.
      const ended = [...t.history].reverse().find((h) => !/continued as task /.test(h.reason ?? ""));
      const reason = ended?.reason;
      const notes = (t.review as { notes?: unknown } | undefined)?.notes;
      return {
        id: t.id,
        state: ended?.to ?? t.state,
        ...(reason ? { reason } : {}),
        ...(t.pr ? { pr: t.pr.number } : {}),
        ...(Array.isArray(notes)
          ? { reviewNotes: notes.filter((n): n is string => typeof n === "string") }
          : {}),
      };
    });
}

/**
 * The tip an earlier attempt of this task left on the remote branch, checked and recorded
 * (`branchSha`): the session continues from it. Only the attempt just before counts.
 */
export function continuationSha(task: Task, current: number): string | undefined {
  const previous = task.attempts.find((a) => a.number === current - 1);
  const sha = (previous as { branchSha?: unknown } | undefined)?.branchSha;
  return typeof sha === "string" && /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined;
}

export const OUTCOME_LABEL: Record<OutcomeResult["outcome"], string> = {
  complete: "complete",
  "implicit-complete": "implicit complete",
  blocked: "blocked",
  "max-turns": "max turns",
  timeout: "timeout",
  "api-error": "API error",
  "budget-exceeded": "budget exceeded",
  "no-changes": "no changes",
};

export type Push = "pr" | "wip" | "none";

export interface Plan {
  /** `pr`: push and open a PR; `wip`: push the work for the next attempt; `none`: push nothing. */
  push: Push;
  state: Extract<TaskState, "pr-open" | "queued" | "failed" | "blocked" | "cancelled">;
  reason: string;
}

export interface AfterSession {
  outcome: OutcomeResult;
  /** Commits from the base (what a PR would carry) and from where this attempt started. */
  commitsAhead: number;
  newCommits: number;
  attempt: number;
  maxAttempts: number;
}

function describe(o: OutcomeResult): string {
  const label = OUTCOME_LABEL[o.outcome];
  return o.reason ? `${label}: ${o.reason}` : label;
}

/** What the session's end means, before the pre-push checks and the test ratchet. */
export function planAfterSession(i: AfterSession): Plan {
  const o = i.outcome;
  if ((o.outcome === "complete" || o.outcome === "implicit-complete") && i.commitsAhead > 0) {
    return {
      push: "pr",
      state: "pr-open",
      reason:
        o.outcome === "complete"
          ? "the agent finished"
          : "implicit complete: no TASK_COMPLETE marker, but the branch has commits",
    };
  }
  if (o.outcome === "blocked")
    return { push: "none", state: "blocked", reason: `blocked: ${o.reason ?? "no reason given"}` };
  // A bad key stays bad, and a spent budget would only be spent again: neither is retried. Nor a
  // session that died in the room while the provider answered: that is the task's own failure.
  const progress = i.newCommits > 0;
  const retryable = o.failureKind !== "auth" && o.failureKind !== "crash" && isRetryable(o, progress);
  if (retryable && i.attempt < i.maxAttempts) {
    return {
      push: progress && i.commitsAhead > 0 ? "wip" : "none",
      state: "queued",
      reason: `${describe(o)}; queued for attempt ${i.attempt + 1} of ${i.maxAttempts}`,
    };
  }
  const why = retryable
    ? "; no attempts left"
    : (o.outcome === "max-turns" || o.outcome === "timeout") && !progress
      ? "; no progress to continue from"
      : "";
  return { push: "none", state: "failed", reason: `${describe(o)}${why}` };
}

export interface TestRun {
  passed: boolean;
  timedOut: boolean;
  exitCode: number | null;
  /** Last lines of the output, secrets redacted. */
  tail: string;
  durationMs: number;
}

export interface Gates {
  violations: Violation[];
  base?: TestRun;
  branch?: TestRun;
}

export function testsLabel(base?: TestRun, branch?: TestRun): string | undefined {
  if (!base && !branch) return undefined;
  const word = (t?: TestRun) => (!t ? "not run" : t.timedOut ? "timeout" : t.passed ? "pass" : "fail");
  return `${word(base)} → ${word(branch)}`;
}

export function isRegression(base?: TestRun, branch?: TestRun): boolean {
  return base?.passed === true && branch !== undefined && !branch.passed;
}

/** One line per violation, naming the check and the path, never a secret. */
export function describeViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.check}${v.path ? ` (${v.path})` : ""}: ${v.detail}`).join("; ");
}

/** The pre-push checks and the ratchet can only turn a plan that pushes into a failure. */
export function applyGates(plan: Plan, gates: Gates): Plan {
  if (plan.push === "none") return plan;
  if (gates.violations.length > 0) {
    const checks = [...new Set(gates.violations.map((v) => v.check))].join(", ");
    return { push: "none", state: "failed", reason: `pre-push check failed (${checks}): nothing was pushed` };
  }
  if (plan.push === "pr" && isRegression(gates.base, gates.branch)) {
    return {
      push: "none",
      state: "failed",
      reason: "test regression: the test command passes on the base and fails on the branch; no pull request",
    };
  }
  return plan;
}

/** Infrastructure failures (auth, API) open the breaker at the threshold; any working session closes it. */
export function nextBreaker(
  breaker: Ledger["breaker"],
  outcome: OutcomeResult,
  threshold: number,
  now: string,
): Ledger["breaker"] {
  if (outcome.outcome === "api-error" && outcome.failureKind === "rate-limit") return breaker;
  // A session that died in the room with the provider answering: neither infrastructure nor proof it works.
  if (outcome.outcome === "api-error" && outcome.failureKind === "crash") return breaker;
  if (outcome.outcome !== "api-error") return { consecutiveInfraFailures: 0, open: false };
  const count = breaker.consecutiveInfraFailures + 1;
  if (breaker.open) return { ...breaker, consecutiveInfraFailures: count };
  if (count < threshold) return { consecutiveInfraFailures: count, open: false };
  return {
    consecutiveInfraFailures: count,
    open: true,
    reason: `${count} consecutive infrastructure failures; the last: ${describe(outcome)}`.slice(0, 300),
    since: now,
  };
}

export interface AttemptRecord {
  outcome: string;
  reason?: string;
  failureKind?: string;
  turns: number;
  costUsd: number;
  /** What the CLI said it cost (the proxy's count is `costUsd`). */
  reportedCostUsd?: number;
  durationMs: number;
  sessionId?: string;
  resumed: boolean;
  commits: number;
  files: string[];
  tests?: string;
  model?: string;
  /** The remote task branch's tip after this attempt, when it holds work to continue or review. */
  branchSha?: string;
  checks?: string;
  /** Whether the agent had a room of its own (`user`) or shared the runner's user (`none`). */
  sandbox?: "user" | "none";
  /** The fix round this attempt was. */
  fixRound?: number;
  /** Where the session's transcript can be read (a workflow artifact's page). */
  transcript?: string;
}

/**
 * A count the CLI reported (turns): it comes from inside the room, so anything but a plain,
 * finite, non-negative number is read as 0 rather than written to the ledger.
 */
export function reportedCount(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Math.min(Math.floor(value), 1_000_000)
    : 0;
}

/** A cost the CLI reported, kept beside the proxy's count only when it is a plausible figure. */
export function reportedUsd(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 1_000_000
    ? Math.round(value * 10_000) / 10_000
    : undefined;
}

/** The record of an attempt that ended before (or without) a session. */
export function sessionlessRecord(outcome: string, reason: string): AttemptRecord {
  return { outcome, reason, turns: 0, costUsd: 0, durationMs: 0, resumed: false, commits: 0, files: [] };
}

export type CloseResult =
  | { kind: "recorded"; task: Task; from: TaskState }
  | { kind: "moved-on"; state: TaskState }
  | { kind: "gone" };

/**
 * Closes the attempt and moves the task. Safe to re-apply on a fresh ledger: an attempt that is
 * already closed, or a task that left `running` (cancelled meanwhile), is left alone.
 */
export function closeAttempt(
  draft: Ledger,
  taskId: string,
  attemptNumber: number,
  record: AttemptRecord,
  plan: Plan,
  meta: {
    now: string;
    runId: string;
    breakerThreshold: number;
    /** The session's outcome; undefined (an action error before or after it) leaves the breaker alone. */
    outcome?: OutcomeResult;
    branch: string;
    pr?: { number: number; url: string; base?: string };
  },
): CloseResult {
  const task = findTask(draft, taskId);
  if (!task) return { kind: "gone" };
  const attempt = task.attempts.find((a) => a.number === attemptNumber);
  if (!attempt || attempt.endedAt || task.state !== "running") return { kind: "moved-on", state: task.state };
  const clean = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
  Object.assign(attempt, clean, { endedAt: meta.now });
  task.costUsd = round(task.attempts.reduce((s, a) => s + (a.costUsd ?? 0), 0));
  task.turns = task.attempts.reduce((s, a) => s + (a.turns ?? 0), 0);
  if (record.sessionId) task.sessionId = record.sessionId;
  if (record.branchSha) task.branch = meta.branch;
  if (meta.pr) {
    // What the review needs to fetch the PR, so the review in the same workflow run skips a call.
    const opened =
      meta.pr.base && record.branchSha
        ? { base: meta.pr.base, headSha: record.branchSha, openedRun: meta.runId }
        : {};
    task.pr = { number: meta.pr.number, url: meta.pr.url, ...opened };
  }
  const from = task.state;
  // A fix round is one attempt: whatever it ended as, it is no longer under way.
  delete task.fixRound;
  transition(task, { to: plan.state, actor: "aegis", reason: plan.reason, now: meta.now, runId: meta.runId });
  if (meta.outcome) draft.breaker = nextBreaker(draft.breaker, meta.outcome, meta.breakerThreshold, meta.now);
  return { kind: "recorded", task, from };
}
