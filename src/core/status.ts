// The one status comment per issue, edited in place as the task moves. Pure.
import type { Config } from "../config.js";
import type { Task } from "./ledger.js";
import { transcriptCell } from "./transcript.js";

export const STATUS_MARKER = "<!-- aegis:status -->";
export const NOTICE_MARKER = "<!-- aegis:notice -->";

const NEXT_STEP: Partial<Record<Task["state"], (task: Task, config: Config) => string>> = {
  "awaiting-approval": (_t, c) =>
    `A maintainer (write, maintain or admin) approves by adding the \`${c.approvalLabel}\` label.`,
  queued: () => "Waiting for a runner; the next plan claims it.",
  deferred: (t) => `Held: ${t.deferredReason ?? "over a cap"}.`,
  running: () => "A Claude Code session is working on it.",
  "pr-open": () => "Review the pull request; Codex reviews it next.",
  reviewed: () => "Reviewed: merge the pull request when satisfied.",
  blocked: (_t, c) =>
    `The agent stopped. Clarify the issue, then remove and re-add \`${c.triggerLabel}\` to try again.`,
  failed: (_t, c) => `Fix the cause, then remove and re-add \`${c.triggerLabel}\` to try again.`,
};

export function money(usd: number): string {
  return `$${usd.toFixed(usd > 0 && usd < 0.01 ? 4 : 2)}`;
}

/** Markdown-safe single line for table cells and quotes. */
export function cell(text: string, max = 200): string {
  const flat = text
    .replace(/\s+/g, " ")
    // A pipe ends a table cell unless an odd run of backslashes escapes it; text already made
    // inert (core/inert.ts) arrives escaped, and a second escape would end the cell again.
    .replace(/(?<!\\)((?:\\\\)*)\|/g, "$1\\|")
    .replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"))
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function renderStatusComment(task: Task, config: Config): string {
  const last = task.history[task.history.length - 1]!;
  const attempt = task.attempts[task.attempts.length - 1];
  const rows: [string, string][] = [
    ["Task", `\`${task.id}\``],
    ["State", `**${task.state}**`],
    ["Category", `${task.category} (${task.authority})`],
    ["Requested by", `@${task.requestedBy}`],
  ];
  if (task.approvedBy) rows.push(["Approved by", `@${task.approvedBy.login}`]);
  if (task.attempts.length) rows.push(["Attempts", `${task.attempts.length} of ${config.run.maxAttempts}`]);
  if (task.fixRounds)
    rows.push([
      "Fix rounds",
      `${task.fixRound ? `fix round ${task.fixRound} of ${config.review.maxFixRounds}, under way` : `${task.fixRounds} of ${config.review.maxFixRounds}`}`,
    ]);
  if (attempt?.outcome)
    rows.push([
      "Last outcome",
      `${attempt.outcome}${attempt.reason ? ` — ${cell(attempt.reason, 300)}` : ""}`,
    ]);
  if (attempt?.sandbox === "none")
    rows.push(["Sandbox", "⚠️ none: the agent shared the runner's OS user (`run.sandbox: none`)"]);
  if (task.pr) rows.push(["Pull request", `#${task.pr.number}`]);
  const read = [...task.attempts].reverse().find((a) => a.transcript);
  const transcript = transcriptCell(read?.transcript);
  if (read && transcript) rows.push([`Transcript (attempt ${read.number})`, transcript]);
  if (task.turns) rows.push(["Turns", String(task.turns)]);
  if (task.costUsd) rows.push(["Cost", money(task.costUsd)]);
  if (task.review) rows.push(["Review", task.review.verdict]);
  const history = task.history
    .slice(-6)
    .map(
      (h) =>
        `| ${h.at.slice(0, 16).replace("T", " ")} | ${h.from ?? "—"} → ${h.to} | @${cell(h.actor, 40)} | ${cell(h.reason)} |`,
    )
    .join("\n");
  const next = NEXT_STEP[task.state]?.(task, config);
  return [
    STATUS_MARKER,
    `### aegis · ${task.state}`,
    "",
    cell(last.reason, 500),
    ...(next ? ["", `**Next:** ${next}`] : []),
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    "<details><summary>History</summary>",
    "",
    "| When (UTC) | Move | By | Why |",
    "|---|---|---|---|",
    history,
    "",
    "</details>",
  ].join("\n");
}

/** A one-off explanation for an issue aegis will not take (no task to hang a status on). */
export function renderNotice(reason: string): string {
  return `${NOTICE_MARKER}\n### aegis\n\n${reason}`;
}
