// The plan step's summary: per issue, what was decided and why. Pure rendering.
import type { Ledger, Task } from "../core/ledger.js";
import { cell } from "../core/status.js";

export interface PlanLine {
  issue: number;
  decision: string;
  detail: string;
  /** Text to post on the issue when no task carries a status comment for it. */
  notice?: string;
}

export interface PlanSummaryInput {
  event: string;
  lines: PlanLine[];
  claimed: Task[];
  held: { task: Task; reason: string }[];
  /** Repository-wide events of this plan (a circuit breaker reset), shown above the table. */
  notes?: string[];
  ledger: Ledger;
  written: boolean;
  conflicts: number;
  apiCalls: number;
  dryRun: boolean;
}

export function renderPlanSummary(input: PlanSummaryInput): string {
  const out: string[] = [`## aegis plan · ${input.event}${input.dryRun ? " · dry run" : ""}`, ""];
  for (const note of input.notes ?? []) out.push(`> ${cell(note, 400)}`, "");
  if (input.lines.length) {
    out.push("| Issue | Decision | Why |", "|---|---|---|");
    for (const line of input.lines)
      out.push(`| #${line.issue} | ${cell(line.decision, 40)} | ${cell(line.detail, 300)} |`);
  } else {
    out.push("No issue needed a decision.");
  }
  out.push("");
  out.push(
    input.claimed.length
      ? `**Claimed for this run:** ${input.claimed.map((t) => `\`${t.id}\` (#${t.issue}, ${t.category})`).join(", ")}`
      : "**Claimed for this run:** none",
  );
  if (input.held.length) {
    out.push("", "| Queued task | Held because |", "|---|---|");
    for (const { task, reason } of input.held)
      out.push(`| \`${task.id}\` #${task.issue} | ${cell(reason)} |`);
  }
  const counts = new Map<string, number>();
  for (const task of input.ledger.tasks) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  const queue = [...counts].map(([state, n]) => `${state} ${n}`).join(" · ");
  out.push(
    "",
    `<sub>Ledger: ${queue || "empty"} · ${input.written ? "written" : "unchanged"}${input.conflicts ? ` after ${input.conflicts} concurrent-write retr${input.conflicts === 1 ? "y" : "ies"}` : ""} · GitHub API calls: ${input.apiCalls}</sub>`,
    "",
  );
  return out.join("\n");
}
