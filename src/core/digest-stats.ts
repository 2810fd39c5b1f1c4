// The digest's numbers: what happened in a time window, spend per category and model, and the
// tasks a workflow run touched. Pure; src/core/digest.ts renders them.
import type { Attempt, Ledger, Task } from "./ledger.js";
import { round } from "./lifecycle.js";

const HOUR_MS = 3_600_000;
/** Outcomes in which the session finished the work. */
const SUCCESS = new Set(["complete", "implicit-complete"]);

export interface WindowStats {
  /** Sessions (attempts) that ended in the window. */
  sessions: number;
  /** Sessions that finished the work: `complete` or `implicit-complete`. */
  completed: number;
  /** Commits but no TASK_COMPLETE marker: a prompt or model problem worth watching. */
  implicitComplete: number;
  /** Sessions that ended `blocked`, plus archived blocked tasks. */
  blocked: number;
  /** Sessions that ended in any other outcome, plus archived failed tasks. */
  failed: number;
  /** Failed sessions by kind: `api-error (auth)`, `max-turns`, … */
  failedByKind: Map<string, number>;
  prsOpened: number;
  prsMerged: number;
  cancelled: number;
  costUsd: number;
}

/** Time an attempt counts at: its end, or its start while it is still running. */
const attemptTime = (attempt: Attempt) => attempt.endedAt ?? attempt.startedAt;

/** The attempt's kind of failure as a person reads it. */
export function failureLabel(attempt: Attempt): string {
  const outcome = attempt.outcome ?? "unknown";
  return attempt.failureKind ? `${outcome} (${attempt.failureKind})` : outcome;
}

/**
 * What happened in the `hours` before `now`: live tasks by their attempts and transitions, and
 * archived tasks by their daily rollups. A rollup covers a whole UTC day, so a day that overlaps
 * the window counts in full (as the budget's spend does).
 */
export function windowStats(ledger: Ledger, now: string, hours: number): WindowStats {
  const since = new Date(Date.parse(now) - hours * HOUR_MS).toISOString();
  const inWindow = (at: string) => at > since && at <= now;
  const stats: WindowStats = {
    sessions: 0,
    completed: 0,
    implicitComplete: 0,
    blocked: 0,
    failed: 0,
    failedByKind: new Map(),
    prsOpened: 0,
    prsMerged: 0,
    cancelled: 0,
    costUsd: 0,
  };
  const addKind = (kind: string, n: number) =>
    stats.failedByKind.set(kind, (stats.failedByKind.get(kind) ?? 0) + n);
  for (const task of ledger.tasks) {
    for (const attempt of task.attempts) {
      if (!inWindow(attemptTime(attempt))) continue;
      stats.costUsd += attempt.costUsd ?? 0;
      if (!attempt.endedAt) continue;
      stats.sessions += 1;
      if (attempt.outcome && SUCCESS.has(attempt.outcome)) {
        stats.completed += 1;
        if (attempt.outcome === "implicit-complete") stats.implicitComplete += 1;
      } else if (attempt.outcome === "blocked") {
        stats.blocked += 1;
      } else {
        stats.failed += 1;
        addKind(failureLabel(attempt), 1);
      }
    }
    for (const step of task.history) {
      if (!inWindow(step.at)) continue;
      if (step.to === "pr-open" && step.from === "running") stats.prsOpened += 1;
      else if (step.to === "done") stats.prsMerged += 1;
      else if (step.to === "cancelled") stats.cancelled += 1;
    }
  }
  const firstDay = since.slice(0, 10);
  const lastDay = now.slice(0, 10);
  for (const [day, rollup] of Object.entries(ledger.rollups)) {
    if (day < firstDay || day > lastDay) continue;
    // A task is archived only once it has ended, and `done` is reached only through a merge.
    stats.prsMerged += rollup.done;
    stats.cancelled += rollup.cancelled;
    stats.blocked += rollup.blocked;
    stats.failed += rollup.failed;
    if (rollup.failed) addKind("archived (kind not kept)", rollup.failed);
    stats.costUsd += rollup.costUsd;
  }
  stats.costUsd = round(stats.costUsd);
  return stats;
}

export interface CategoryCost {
  category: string;
  model: string;
  sessions: number;
  completed: number;
  turns: number;
  costUsd: number;
}

/** Spend per category and model over the window, most expensive first: the data for routing. */
export function costByCategory(ledger: Ledger, now: string, hours: number): CategoryCost[] {
  const since = new Date(Date.parse(now) - hours * HOUR_MS).toISOString();
  const rows = new Map<string, CategoryCost>();
  for (const task of ledger.tasks) {
    for (const attempt of task.attempts) {
      const at = attemptTime(attempt);
      if (!attempt.endedAt || at <= since || at > now) continue;
      const model = attempt.model ?? "default";
      const key = `${task.category}\u0000${model}`;
      const row = rows.get(key) ?? {
        category: task.category,
        model,
        sessions: 0,
        completed: 0,
        turns: 0,
        costUsd: 0,
      };
      row.sessions += 1;
      if (attempt.outcome && SUCCESS.has(attempt.outcome)) row.completed += 1;
      row.turns += attempt.turns ?? 0;
      row.costUsd = round(row.costUsd + (attempt.costUsd ?? 0));
      rows.set(key, row);
    }
  }
  return [...rows.values()].sort(
    (a, b) => b.costUsd - a.costUsd || a.category.localeCompare(b.category) || a.model.localeCompare(b.model),
  );
}

/** Whether an attempt's `<run id>/<run attempt>` belongs to the workflow run `runId`. */
export const ofRun = (attemptRunId: string, runId: string) =>
  attemptRunId === runId || attemptRunId.startsWith(`${runId}/`);

/** Tasks this workflow run touched: an attempt or a transition carries its run id. */
export function tasksOfRun(ledger: Ledger, runId: string): Task[] {
  return ledger.tasks.filter(
    (t) => t.attempts.some((a) => ofRun(a.runId, runId)) || t.history.some((h) => h.runId === runId),
  );
}
