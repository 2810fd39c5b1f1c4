/**
 * How aegis's pull requests ended, and what that says: the figure the job is measured by is the
 * merged PR, not the opened one. Each PR that ends (merged, or closed unmerged) leaves one small
 * entry in the ledger's `outcomes` list — kept 35 days, longer than the digest's widest window,
 * while the task itself may move to the archive after 8 — and a revert marks its entry. Pure.
 */
import type { Ledger, PrOutcome, RoundKind, Task } from "./ledger.js";

export type { PrOutcome, RoundKind };

/** Entries older than this (by the time the PR ended) are dropped on the next write. */
export const OUTCOME_KEEP_DAYS = 35;

/** When the task's PR opened: its first move to `pr-open`. */
export function openedAt(task: Task): string {
  return task.history.find((h) => h.to === "pr-open")?.at ?? task.createdAt;
}

/**
 * Records that the task's PR ended at `at` (GitHub's `merged_at` / `closed_at`, else now). Safe to
 * re-apply: a PR already recorded is left as it was.
 */
export function recordPrEnd(
  draft: Ledger,
  task: Task,
  ended: "merged" | "closed",
  at: string,
  now: string,
): void {
  if (!task.pr) return;
  task.pr = { ...task.pr, ended, endedAt: at, ...(ended === "merged" ? { merged: true } : {}) };
  const list = (draft.outcomes ??= []);
  if (!list.some((o) => o.taskId === task.id && o.pr === task.pr!.number))
    list.push({
      taskId: task.id,
      issue: task.issue,
      pr: task.pr.number,
      category: task.category,
      openedAt: openedAt(task),
      endedAt: at,
      ended,
      costUsd: task.costUsd,
      rounds: task.fixRounds ?? 0,
      ...(task.roundsBy && Object.keys(task.roundsBy).length ? { roundsBy: { ...task.roundsBy } } : {}),
    });
  const cutoff = Date.parse(now) - OUTCOME_KEEP_DAYS * 86_400_000;
  draft.outcomes = list.filter((o) => Date.parse(o.endedAt) >= cutoff);
}

/** A merged PR that aegis reverted (the revert PR opened at `at`). */
export function recordPrRevert(draft: Ledger, taskId: string, at: string): void {
  const entry = draft.outcomes?.find((o) => o.taskId === taskId && o.ended === "merged");
  if (entry && !entry.revertedAt) entry.revertedAt = at;
}

export interface OutcomeRow {
  /** A category, or "all". */
  category: string;
  opened: number;
  merged: number;
  closed: number;
  reverted: number;
  /** merged / (merged + closed), of the PRs that ended in the window; undefined when none did. */
  mergeRate?: number;
  medianHoursToMerge?: number;
  costPerMerged?: number;
  roundsPerMerged?: number;
}

/** The window's figures by category (busiest first), then "all". */
export function outcomeRows(ledger: Ledger, now: string, days: number): OutcomeRow[] {
  const since = Date.parse(now) - days * 86_400_000;
  const inWindow = (at: string | undefined) => at !== undefined && Date.parse(at) >= since;
  const outcomes = ledger.outcomes ?? [];
  // Opened: every PR whose opening falls in the window, whether it has ended (outcomes) or not (tasks).
  const opened = new Map<string, string>();
  for (const o of outcomes) if (inWindow(o.openedAt)) opened.set(`${o.taskId}#${o.pr}`, o.category);
  for (const t of ledger.tasks)
    if (t.pr && inWindow(openedAt(t))) opened.set(`${t.id}#${t.pr.number}`, t.category);
  const categories = [
    ...new Set([...opened.values(), ...outcomes.filter((o) => inWindow(o.endedAt)).map((o) => o.category)]),
  ];
  const row = (category: string, match: (c: string) => boolean): OutcomeRow => {
    const ended = outcomes.filter((o) => match(o.category) && inWindow(o.endedAt));
    const merged = ended.filter((o) => o.ended === "merged");
    const closed = ended.length - merged.length;
    const hours = merged.map((o) => (Date.parse(o.endedAt) - Date.parse(o.openedAt)) / 3_600_000);
    return {
      category,
      opened: [...opened.values()].filter(match).length,
      merged: merged.length,
      closed,
      reverted: outcomes.filter((o) => match(o.category) && inWindow(o.revertedAt)).length,
      ...(ended.length ? { mergeRate: merged.length / ended.length } : {}),
      ...(merged.length
        ? {
            medianHoursToMerge: median(hours),
            costPerMerged: merged.reduce((s, o) => s + o.costUsd, 0) / merged.length,
            roundsPerMerged: merged.reduce((s, o) => s + o.rounds, 0) / merged.length,
          }
        : {}),
    };
  };
  const rows = categories.map((c) => row(c, (x) => x === c));
  rows.sort(
    (a, b) =>
      b.opened + b.merged + b.closed - (a.opened + a.merged + a.closed) ||
      a.category.localeCompare(b.category),
  );
  return [...rows, row("all", () => true)];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
