// The queue: admission of deferred work, budgets, dependencies, contention and claiming.
// Pure — like governance.ts, each function decides on the ledger draft it is given and applies
// its decision to that draft, so the ledger store can re-run it after a conflict.
import type { Config } from "../config.js";
import type { Ledger, Task } from "./ledger.js";
import { countIn, openTaskForIssue, PENDING_STATES, round, transition } from "./lifecycle.js";

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

/**
 * What one session may still spend, for the model proxy to enforce (0 = no limit): the task's
 * `perTaskUsd` less what its earlier attempts cost, and what is left of the day's and the month's
 * budgets, whichever is least. A limit that is already used up is a hair above zero, not "none".
 */
export function sessionSpendLimit(ledger: Ledger, task: Task, config: Config, now: string): number {
  const { perTaskUsd, dailyUsd, monthlyUsd } = config.budgets;
  const { spentToday, spentMonth } = budgetState(ledger, config, now);
  const left = [
    perTaskUsd > 0 ? perTaskUsd - task.costUsd : Infinity,
    dailyUsd > 0 ? dailyUsd - spentToday : Infinity,
    monthlyUsd > 0 ? monthlyUsd - spentMonth : Infinity,
  ];
  const least = Math.min(...left);
  return least === Infinity ? 0 : Math.max(least, 1e-6);
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
    // The cap holds for work the budget held too: its slot may have gone to another task meanwhile.
    if (countIn(ledger, PENDING_STATES) >= config.caps.pendingPerRepo) break;
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
