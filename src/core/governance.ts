// Governance decisions: intake, approval, admission and claiming. Pure — each function reads
// the ledger draft it is given and, where it decides a change, applies it to that draft, so the
// ledger store can re-run it after a compare-and-swap conflict.
import type { Config } from "../config.js";
import { classify, dependenciesOf, priorityOf, skipReason } from "./classify.js";
import type { Ledger, Task } from "./ledger.js";
import {
  addTask,
  countIn,
  normalizeTitle,
  OPEN_STATES,
  openTaskForIssue,
  PENDING_STATES,
  round,
  transition,
} from "./lifecycle.js";
import { namedPaths } from "./brief.js";
import { sanitizeUntrusted } from "./sanitize.js";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface Sender {
  login: string;
  permission: Permission;
  isBot: boolean;
}

export interface IssueView {
  number: number;
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
}

/** The issue fields aegis reads, as both webhook payloads and the REST API spell them. */
export interface RawIssue {
  number: number;
  title: string;
  body?: string | null;
  labels?: ({ name?: string } | string)[];
  assignees?: { login: string }[] | null;
}

export function issueViewOf(raw: RawIssue): IssueView {
  return {
    number: raw.number,
    title: raw.title,
    body: raw.body ?? "",
    labels: (raw.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter(Boolean),
    assignees: (raw.assignees ?? []).map((a) => a.login),
  };
}

export function canApprove(permission: Permission): boolean {
  return permission === "admin" || permission === "maintain" || permission === "write";
}

export type IntakeDecision =
  | { kind: "exists"; task: Task }
  | { kind: "reject"; reason: string }
  | { kind: "duplicate"; original: Task }
  | { kind: "created"; task: Task };

export interface IntakeContext {
  config: Config;
  now: string;
  runId: string;
  /** A trusted approval already on the issue (approval label added before the trigger). */
  approvedBy?: { login: string; at: string };
}

/** Decides what the trigger label on `issue` means, and records a new task in the draft. */
export function intake(ledger: Ledger, issue: IssueView, sender: Sender, ctx: IntakeContext): IntakeDecision {
  const { config, now } = ctx;
  const existing = openTaskForIssue(ledger, issue.number);
  // A failed or blocked task is retried by re-adding the trigger label: it ends, and a new task
  // with a fresh attempt budget takes over its status comment. Anything else is already tracked.
  const retry =
    existing && (existing.state === "failed" || existing.state === "blocked") ? existing : undefined;
  if (existing && !retry) return { kind: "exists", task: existing };
  if (sender.isBot && !config.allowedBots.includes(sender.login)) {
    return {
      kind: "reject",
      reason: `the trigger label was added by the bot @${sender.login}, which is not in \`allowedBots\` of the aegis config`,
    };
  }
  const skip = skipReason(issue, config);
  if (skip) return { kind: "reject", reason: `aegis will not take this issue: ${skip}.` };
  const classification = classify(issue.labels, config);
  if (classification.kind === "unmapped") {
    const understood = classification.understood.map((l) => `\`${l}\``).join(", ");
    return {
      kind: "reject",
      reason: `aegis could not classify this issue: it needs one of the labels ${understood} to know the kind of work. Add one, then re-add \`${config.triggerLabel}\`.`,
    };
  }
  const key = normalizeTitle(issue.title);
  const original = ledger.tasks.find(
    (t) => OPEN_STATES.includes(t.state) && t.issue !== issue.number && normalizeTitle(t.title) === key,
  );
  if (original) return { kind: "duplicate", original };

  // Work proposed by the label map, or requested by someone who could not approve it, waits.
  const trusted = canApprove(sender.permission);
  const needsApproval = classification.authority === "proposed" || !trusted;
  const approved = needsApproval && ctx.approvedBy !== undefined;
  const ready = !needsApproval || approved;
  const full = countIn(ledger, PENDING_STATES) >= config.caps.pendingPerRepo;
  const state = full ? "deferred" : ready ? "queued" : "awaiting-approval";
  const why = !needsApproval
    ? `${classification.category} is auto_safe and @${sender.login} has ${sender.permission} permission`
    : classification.authority === "proposed"
      ? `${classification.category} work is proposed: a maintainer approves it with \`${config.approvalLabel}\``
      : `@${sender.login} (${sender.permission}) cannot start work alone: a maintainer approves it with \`${config.approvalLabel}\``;
  const task = addTask(
    ledger,
    {
      issue: issue.number,
      title: issue.title,
      category: classification.category,
      authority: classification.authority,
      priority: priorityOf(issue.labels, config),
      requestedBy: sender.login,
      needsApproval,
      dependsOn: dependenciesOf(issue.body, issue.number),
      predictedFiles: namedPaths(sanitizeUntrusted(issue.body, { maxBytes: 65_536 }), 50),
    },
    state,
    {
      actor: sender.login,
      reason: approved ? `${why}; approved by @${ctx.approvedBy!.login}` : why,
      now,
      runId: ctx.runId,
    },
  );
  if (approved) task.approvedBy = ctx.approvedBy;
  if (retry) {
    task.history[0]!.reason = `retry of ${retry.state} task ${retry.id}; ${task.history[0]!.reason}`;
    transition(retry, {
      to: "cancelled",
      actor: sender.login,
      reason: `re-triggered by @${sender.login}; continued as task ${task.id}`,
      now,
      runId: ctx.runId,
    });
    if (retry.statusCommentId) task.statusCommentId = retry.statusCommentId;
  }
  if (full) {
    task.deferredReason = `the pending cap (${config.caps.pendingPerRepo} tasks awaiting approval, queued or running) is reached; admitted automatically when room frees`;
  }
  return { kind: "created", task };
}

export type ApprovalDecision =
  | { kind: "approved"; task: Task }
  | { kind: "refused"; reason: string }
  | { kind: "no-task" }
  | { kind: "noop"; task: Task; reason: string };

/** The approval label was added by `sender`. */
export function approve(
  ledger: Ledger,
  issueNumber: number,
  sender: Sender,
  ctx: { config: Config; now: string; runId: string },
): ApprovalDecision {
  if (!canApprove(sender.permission)) {
    return {
      kind: "refused",
      reason: `@${sender.login} added \`${ctx.config.approvalLabel}\`, but only people with write, maintain or admin permission can approve aegis work; the label was removed.`,
    };
  }
  const task = openTaskForIssue(ledger, issueNumber);
  if (!task) return { kind: "no-task" };
  if (task.approvedBy === undefined) task.approvedBy = { login: sender.login, at: ctx.now };
  if (task.state === "awaiting-approval") {
    transition(task, {
      to: "queued",
      actor: sender.login,
      reason: `approved by @${sender.login}`,
      now: ctx.now,
      runId: ctx.runId,
    });
    return { kind: "approved", task };
  }
  return { kind: "noop", task, reason: `task ${task.id} is ${task.state}; the approval is recorded` };
}

export interface QueueContext {
  config: Config;
  now: string;
  runId: string;
  runAttempt: number;
  /** Whether a dependency issue is resolved, for issues the ledger has no done task for. */
  issueClosed: (issue: number) => boolean | undefined;
}

export interface QueueResult {
  claimed: Task[];
  /** Why queued tasks were not claimed this time, for the summary. */
  held: { task: Task; reason: string }[];
  /** Held tasks whose dependency failed or was cancelled, reported for the first time: one notice each. */
  reported: { task: Task; reason: string; notice: string }[];
}

export type BreakerReset = { kind: "reset"; note: string } | { kind: "refused"; note: string };

/**
 * A `workflow_dispatch` plan closes an open circuit breaker when a maintainer started it:
 * dispatching is an explicit act, so the person has seen the failures. Anyone else, or a bot
 * (automation would retry blindly), leaves it open. Undefined when the breaker is closed.
 */
export function resetBreaker(
  ledger: Ledger,
  sender: Sender,
  config: Config,
  now: string,
): BreakerReset | undefined {
  if (!ledger.breaker.open) return undefined;
  const bot = sender.isBot && !config.allowedBots.includes(sender.login);
  if (bot || !canApprove(sender.permission))
    return {
      kind: "refused",
      note: `circuit breaker stays open: @${sender.login} (${bot ? "a bot" : `${sender.permission} permission`}) started this run; only a person with write, maintain or admin permission resets it by dispatching the workflow`,
    };
  const was = ledger.breaker.reason ?? "repeated infrastructure failures";
  ledger.breaker = { consecutiveInfraFailures: 0, open: false };
  return { kind: "reset", note: `circuit breaker reset by @${sender.login} at ${now} (it was open: ${was})` };
}

/** Spend (USD) recorded since `sinceIso`, from live attempts and archived daily rollups. */
export function spendSince(ledger: Ledger, sinceIso: string): number {
  let total = 0;
  for (const task of ledger.tasks) {
    for (const attempt of task.attempts)
      if ((attempt.endedAt ?? attempt.startedAt) >= sinceIso) total += attempt.costUsd ?? 0;
  }
  const sinceDay = sinceIso.slice(0, 10);
  for (const [day, rollup] of Object.entries(ledger.rollups)) if (day >= sinceDay) total += rollup.costUsd;
  return round(total);
}

export function budgetState(
  ledger: Ledger,
  config: Config,
  now: string,
): { spentToday: number; spentMonth: number; exhausted?: string } {
  const spentToday = spendSince(ledger, `${now.slice(0, 10)}T00:00:00Z`);
  const spentMonth = spendSince(ledger, `${now.slice(0, 7)}-01T00:00:00Z`);
  const { dailyUsd, monthlyUsd } = config.budgets;
  let exhausted: string | undefined;
  if (dailyUsd > 0 && spentToday >= dailyUsd)
    exhausted = `the daily budget is spent ($${spentToday.toFixed(2)} of $${dailyUsd.toFixed(2)}); resumes after midnight UTC`;
  else if (monthlyUsd > 0 && spentMonth >= monthlyUsd)
    exhausted = `the monthly budget is spent ($${spentMonth.toFixed(2)} of $${monthlyUsd.toFixed(2)}); resumes next month`;
  return { spentToday, spentMonth, ...(exhausted ? { exhausted } : {}) };
}

const byRank = (a: Task, b: Task) =>
  a.priority - b.priority || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/**
 * Admits deferred tasks when room frees (oldest first within priority), defers queued work
 * while a budget is spent, and claims queued tasks up to the running cap, skipping tasks whose
 * dependencies are open or whose predicted files overlap a running task.
 */
export function admitAndClaim(ledger: Ledger, ctx: QueueContext): QueueResult {
  const { config, now } = ctx;
  const actor = "aegis";
  const budget = budgetState(ledger, config, now);
  const held: QueueResult["held"] = [];
  const reported: QueueResult["reported"] = [];

  for (const task of ledger.tasks.filter((t) => t.state === "deferred").sort(byRank)) {
    const budgetHeld = task.deferredReason?.includes("budget");
    if (budgetHeld && budget.exhausted) continue;
    if (!budgetHeld && countIn(ledger, PENDING_STATES) >= config.caps.pendingPerRepo) break;
    const ready = !task.needsApproval || task.approvedBy !== undefined;
    transition(task, {
      to: ready ? "queued" : "awaiting-approval",
      actor,
      reason: budgetHeld ? "the budget period rolled over" : "room freed under the pending cap",
      now,
      runId: ctx.runId,
    });
  }

  const queued = ledger.tasks.filter((t) => t.state === "queued").sort(byRank);
  if (budget.exhausted) {
    for (const task of queued) {
      transition(task, { to: "deferred", actor, reason: budget.exhausted, now, runId: ctx.runId });
      task.deferredReason = budget.exhausted;
      // Reported like any hold, so the plan summary says why the task was not claimed.
      held.push({ task, reason: budget.exhausted });
    }
    return { claimed: [], held, reported };
  }
  if (ledger.breaker.open) {
    for (const task of queued)
      held.push({
        task,
        reason: `the circuit breaker is open: ${ledger.breaker.reason ?? "repeated failures"}`,
      });
    return { claimed: [], held, reported };
  }

  const claimed: Task[] = [];
  for (const task of queued) {
    if (countIn(ledger, ["running"]) >= config.caps.running) {
      held.push({ task, reason: `${config.caps.running} task(s) already running (caps.running)` });
      continue;
    }
    const waitingOn = task.dependsOn.filter((dep) => !dependencyDone(ledger, dep, ctx.issueClosed));
    const hold = dependencyHold(ledger, task, waitingOn);
    if (hold) {
      held.push({ task, reason: hold.reason });
      if (hold.notice) reported.push({ task, reason: hold.reason, notice: hold.notice });
      continue;
    }
    const busy = new Set(ledger.tasks.filter((t) => t.state === "running").flatMap((t) => t.predictedFiles));
    const overlap = task.predictedFiles.filter((f) => busy.has(f));
    if (overlap.length) {
      held.push({ task, reason: `a running task touches ${overlap.slice(0, 3).join(", ")}` });
      continue;
    }
    const number = task.attempts.length + 1;
    transition(task, {
      to: "running",
      actor,
      reason: `claimed for attempt ${number}`,
      now,
      runId: ctx.runId,
    });
    task.attempts.push({ number, runId: `${ctx.runId}/${ctx.runAttempt}`, startedAt: now });
    claimed.push(task);
  }
  return { claimed, held, reported };
}

/**
 * Where a dependency issue stands in the ledger. `untracked`: no task ever; `cancelled`: every
 * task for it was cancelled. Both are then decided by whether the issue is closed.
 */
export type DependencyStatus = "done" | "waiting" | "failed" | "blocked" | "cancelled" | "untracked";

export function dependencyStatus(ledger: Ledger, issue: number): DependencyStatus {
  const tasks = ledger.tasks.filter((t) => t.issue === issue);
  if (tasks.some((t) => t.state === "done")) return "done";
  const open = openTaskForIssue(ledger, issue);
  if (open) return open.state === "failed" || open.state === "blocked" ? open.state : "waiting";
  return tasks.length ? "cancelled" : "untracked";
}

function dependencyDone(ledger: Ledger, issue: number, issueClosed: QueueContext["issueClosed"]): boolean {
  const status = dependencyStatus(ledger, issue);
  if (status === "done") return true;
  if (status !== "cancelled" && status !== "untracked") return false;
  return issueClosed(issue) === true;
}

const STUCK_WORDS: Partial<Record<DependencyStatus, string>> = {
  failed: "failed",
  blocked: "is blocked",
  cancelled: "was cancelled",
};

/**
 * Why a task with unresolved dependencies is held. A dependency that failed, is blocked or was
 * cancelled will not finish by itself: the reason says so, and the task remembers it reported
 * that (`dependencyReported`), so the issue gets one notice per stuck dependency, not one per plan.
 */
function dependencyHold(
  ledger: Ledger,
  task: Task,
  waitingOn: number[],
): { reason: string; notice?: string } | undefined {
  const noted = task as Task & { dependencyReported?: string };
  const stuck = waitingOn
    .map((issue) => ({ issue, status: dependencyStatus(ledger, issue) }))
    .filter((d) => STUCK_WORDS[d.status] !== undefined);
  if (stuck.length === 0) {
    // Resolved or retried: a later failure is news again.
    delete noted.dependencyReported;
    return waitingOn.length
      ? { reason: `waiting for ${waitingOn.map((n) => `#${n}`).join(", ")}` }
      : undefined;
  }
  const waiting = waitingOn.filter((n) => !stuck.some((d) => d.issue === n));
  const reason =
    stuck.map((d) => `dependency #${d.issue} ${STUCK_WORDS[d.status]}`).join("; ") +
    "; this task waits until a maintainer resolves it" +
    (waiting.length ? ` (also waiting for ${waiting.map((n) => `#${n}`).join(", ")})` : "");
  // The key names the dependency's current task, so a retried dependency that fails again is reported anew.
  const key = stuck
    .map(
      (d) => `#${d.issue}:${ledger.tasks.filter((t) => t.issue === d.issue).at(-1)?.id ?? "?"}:${d.status}`,
    )
    .join(",");
  if (noted.dependencyReported === key) return { reason };
  noted.dependencyReported = key;
  const how = stuck
    .map((d) =>
      d.status === "cancelled"
        ? `#${d.issue}: re-add its trigger label to run it again, or close it to release this task`
        : `#${d.issue}: fix the cause and re-add its trigger label, or close it to release this task`,
    )
    .join("; ");
  return {
    reason,
    notice: `This task (\`${task.id}\`) is held: ${reason}. A maintainer can resolve it — ${how}.`,
  };
}

/**
 * Dependency issues of queued tasks that the ledger cannot answer for: never tracked, or every
 * task for them cancelled. Whether the issue is closed then decides (one call each, rare).
 */
export function untrackedDependencies(ledger: Ledger): number[] {
  const deps = ledger.tasks.filter((t) => t.state === "queued").flatMap((t) => t.dependsOn);
  return [...new Set(deps)].filter((d) => {
    const status = dependencyStatus(ledger, d);
    return status === "untracked" || status === "cancelled";
  });
}
