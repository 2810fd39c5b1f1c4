/**
 * The digest's outcomes: what became of aegis's pull requests over the last 7 and 30 days, by
 * category — opened, merged, closed unmerged, reverted, the merge rate, the median time from
 * opening to merge, and what each merged PR cost in money and fix rounds (core/outcomes.ts).
 */
import type { Ledger } from "./ledger.js";
import { type OutcomeRow, outcomeRows } from "./outcomes.js";
import { cell, money } from "./status.js";

const WINDOWS = [7, 30] as const;

export function renderOutcomes(ledger: Ledger, now: string): string[] {
  const out: string[] = [];
  for (const days of WINDOWS) {
    const rows = outcomeRows(ledger, now, days);
    const all = rows[rows.length - 1]!;
    if (!all.opened && !all.merged && !all.closed && !all.reverted) continue;
    out.push(
      `### Pull requests: last ${days} days`,
      "",
      "| Category | Opened | Merged | Closed unmerged | Reverted | Merge rate | Median time to merge | Cost per merged PR | Rounds per merged PR |",
      "|---|---|---|---|---|---|---|---|---|",
      // A single category says everything the total would.
      ...(rows.length === 2 ? rows.slice(0, 1) : rows).map(line),
      "",
    );
  }
  return out;
}

function line(r: OutcomeRow): string {
  const name = r.category === "all" ? "**all**" : cell(r.category, 40);
  return `| ${[
    name,
    r.opened,
    r.merged,
    r.closed,
    r.reverted,
    r.mergeRate === undefined ? "—" : `${Math.round(r.mergeRate * 100)}%`,
    r.medianHoursToMerge === undefined ? "—" : hours(r.medianHoursToMerge),
    r.costPerMerged === undefined ? "—" : money(r.costPerMerged),
    r.roundsPerMerged === undefined ? "—" : r.roundsPerMerged.toFixed(1),
  ].join(" | ")} |`;
}

function hours(h: number): string {
  if (h < 1) return `${Math.max(1, Math.round(h * 60))} min`;
  if (h < 48) return `${h.toFixed(1)} h`;
  return `${(h / 24).toFixed(1)} days`;
}
