/**
 * The one PR comment a review posts: headline, findings grouped CRITICAL first, and a footer.
 * Model text is untrusted, so it is defused before it reaches Markdown the bot posts.
 * Pure: no I/O, no @actions imports.
 */
import { REVIEW_MARKER, type Finding, type TokenUsage, type Verdict } from "./findings.js";

export interface RenderOptions {
  findings: readonly Finding[];
  verdict: Verdict;
  /** Bullets shown in total, CRITICAL first (config `review.maxFindings`). */
  maxFindings?: number;
  /** Hidden marker that lets a later review find and edit this comment. */
  marker?: string;
  error?: string;
  model?: string;
  usage?: TokenUsage;
  prUrl?: string;
  summary?: string;
  /** Parser note, e.g. that the answer held no parseable findings. */
  note?: string;
}

const BODY_LIMIT = 600;

/**
 * Model text goes into a comment the bot posts: neutralise HTML comments (a fake marker would
 * hijack the edit-in-place lookup) and @mentions (the bot would ping people on the model's say).
 */
function safeText(s: string): string {
  return s
    .replace(/<!--/g, "&lt;!--")
    .replace(/-->/g, "--&gt;")
    .replace(/@(?=[A-Za-z0-9])/g, "@\u200b");
}

function clip(s: string, limit: number): string {
  if (s.length <= limit) return s;
  let cut = s.slice(0, limit).replace(/\s+\S*$/, "");
  if ((cut.match(/```/g) ?? []).length % 2 === 1) cut += "\n```";
  return `${cut} …`;
}

function renderFinding(f: Finding): string {
  const tag = f.priority !== undefined ? `[P${f.priority}] ` : "";
  const where = f.file ? ` — \`${safeText(f.file)}${f.line ? `:${f.line}` : ""}\`` : "";
  const head = `- **${tag}${safeText(f.title).replace(/\*\*/g, "")}**${where}`;
  if (!f.body) return head;
  const body = clip(safeText(f.body), BODY_LIMIT)
    .split("\n")
    .map((l) => (l ? `  ${l}` : ""))
    .join("\n");
  return `${head}\n${body}`;
}

function headline(verdict: Verdict, critical: number, other: number): string {
  if (verdict === "error") return "⚠️ Codex review could not complete";
  if (critical + other === 0) return "✅ Codex review: no findings";
  const parts = [];
  if (critical) parts.push(`${critical} critical`);
  if (other) parts.push(`${other} non-critical`);
  return `${critical ? "🛑" : "📝"} Codex review: ${parts.join(", ")}`;
}

/** The one PR comment a review posts (and later reviews edit in place). */
export function renderReviewComment(opts: RenderOptions): string {
  const max = Math.max(0, Math.trunc(opts.maxFindings ?? 5));
  const critical = opts.findings.filter((f) => f.severity === "critical");
  const other = opts.findings.filter((f) => f.severity !== "critical");
  const lines: string[] = [
    opts.marker ?? REVIEW_MARKER,
    `### ${headline(opts.verdict, critical.length, other.length)}`,
    "",
  ];

  if (opts.verdict === "error") {
    lines.push(`The review failed: ${safeText(clip(opts.error ?? "unknown error", 400))}`, "");
    lines.push("This review is advisory: the failure is reported here and does not fail the workflow.", "");
  }
  if (opts.summary) lines.push(`> ${safeText(clip(opts.summary, 400)).replace(/\n/g, "\n> ")}`, "");

  let shown = 0;
  for (const [title, group] of [
    ["CRITICAL", critical],
    ["NON-CRITICAL", other],
  ] as const) {
    const take = group.slice(0, Math.max(0, max - shown));
    if (take.length === 0) continue;
    lines.push(`#### ${title}`, ...take.map(renderFinding), "");
    shown += take.length;
  }
  const hidden = opts.findings.length - shown;
  if (hidden > 0) lines.push(`_+${hidden} more not shown._`, "");
  if (opts.note) lines.push(`_Note: ${safeText(opts.note)}._`, "");

  const meta = ["aegis review (advisory)"];
  if (opts.model) meta.push(`model \`${safeText(opts.model)}\``);
  if (opts.usage) meta.push(`${opts.usage.inputTokens} input / ${opts.usage.outputTokens} output tokens`);
  if (opts.prUrl) meta.push(`[PR](${opts.prUrl})`);
  lines.push("---", `<sub>${meta.join(" · ")}</sub>`);
  return lines.join("\n");
}
