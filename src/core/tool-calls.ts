/**
 * The session's tool calls as a reader of the step summary wants them: one line each — the tool,
 * its input in short, and whether it was refused (by a hook, or as not permitted) — collapsed
 * under one line. The inputs are the agent's: they are rendered inert, with the job's secrets
 * masked, and the list is bounded.
 */
import { code } from "./inert.js";

export interface ToolCallLine {
  id: string;
  tool: string;
  /** The field a reader cares about first (a command, a path), on one line. */
  input: string;
  refused?: "refused by a hook" | "not permitted" | "failed";
}

/** The most lines kept per session; the summary says how many more there were. */
export const MAX_TOOL_CALL_LINES = 200;

/** What a failed tool result says it was: the hooks' and the CLI's refusals read as such. */
export function refusalOf(text: string): ToolCallLine["refused"] {
  if (/hook/i.test(text) && /block/i.test(text)) return "refused by a hook";
  if (/permission|not allowed|denied/i.test(text)) return "not permitted";
  return "failed";
}

/** The collapsed list (inputs masked by the caller, who holds the secrets). */
export function renderToolCalls(calls: readonly ToolCallLine[], total: number): string {
  if (!total) return "";
  const refused = calls.filter((c) => c.refused && c.refused !== "failed").length;
  const lines = calls.map(
    (c) =>
      `- ${code(c.tool, 40)} ${c.input ? code(c.input, 120) : ""}${c.refused ? ` — **${c.refused}**` : ""}`,
  );
  if (total > calls.length) lines.push(`- … and ${total - calls.length} more`);
  return [
    `<details><summary>Tool calls: ${total}${refused ? ` (${refused} refused)` : ""}</summary>`,
    "",
    ...lines,
    "",
    "</details>",
    "",
  ].join("\n");
}
