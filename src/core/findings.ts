/**
 * Review findings: the JSON contract asked of Codex, the parser that turns whatever Codex answered
 * into findings, and the verdict. Pure: no I/O, no @actions imports. The PR comment built from
 * them is rendered in review-comment.ts.
 *
 * The structured shape is the one Codex's own review mode is trained to emit (title with a [Pn]
 * tag, body, confidence_score, priority 0-3, code_location, overall_correctness). We ask for it
 * through `--output-schema`, so a real model is held to it by structured outputs; the parser still
 * accepts fenced JSON, Codex review's rendered text ("- [P1] Title — /abs/path:1-2"), markdown
 * CRITICAL / NON-CRITICAL sections, [Pn]-tagged bullets and plain bullets, because a proxy or an
 * older CLI may not enforce the schema. It never invents a finding: prose without bullets is
 * reported as unparseable, not guessed at.
 */

export type Severity = "critical" | "non-critical";

export interface Finding {
  severity: Severity;
  title: string;
  body?: string;
  file?: string;
  line?: number;
  /** 0 (drop everything) … 3 (nice to have), when the reviewer gave one. */
  priority?: number;
}

export interface TokenUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

export interface ReviewOutput {
  lastMessage: string;
  agentMessages: string[];
  /** Already-parsed structured answer, when the caller has one. */
  structured?: unknown;
  /** Repository root: absolute finding paths under it are shown relative to it. */
  root?: string;
}

export interface ParseResult {
  findings: Finding[];
  /** False when the answer held neither findings nor a clear "no issues" statement. */
  parsed: boolean;
  note?: string;
  /** The reviewer's overall explanation, when it gave one. */
  summary?: string;
}

export type Verdict = "critical" | "clean" | "error";

export const REVIEW_MARKER = "<!-- aegis:review -->";

/** JSON Schema for `codex exec --output-schema`. Strict structured outputs need every property required. */
export const REVIEW_OUTPUT_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["findings", "overall_correctness", "overall_explanation", "overall_confidence_score"],
  properties: {
    findings: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["title", "body", "confidence_score", "priority", "code_location"],
        properties: {
          title: { type: "string", description: "At most 80 chars, imperative, starting with [P0]..[P3]" },
          body: { type: "string", description: "One Markdown paragraph: why this is a problem" },
          confidence_score: { type: "number", minimum: 0, maximum: 1 },
          priority: { type: "integer", enum: [0, 1, 2, 3] },
          code_location: {
            type: "object",
            additionalProperties: false,
            required: ["absolute_file_path", "line_range"],
            properties: {
              absolute_file_path: { type: "string" },
              line_range: {
                type: "object",
                additionalProperties: false,
                required: ["start", "end"],
                properties: { start: { type: "integer" }, end: { type: "integer" } },
              },
            },
          },
        },
      },
    },
    overall_correctness: { type: "string", enum: ["patch is correct", "patch is incorrect"] },
    overall_explanation: { type: "string" },
    overall_confidence_score: { type: "number", minimum: 0, maximum: 1 },
  },
} as const;

const CRITICAL_WORDS =
  /\b(security|secur|vulnerab\w*|inject\w*|xss|csrf|rce|ssrf|secrets?|credentials?|leak\w*|data[- ]loss|los(?:e|es|t|ing) data|corrupt\w*|crash\w*|panic\w*|race(?: condition)?|deadlock\w*|logic error|off[- ]by[- ]one|infinite loop|null (?:pointer|dereference))\b/i;
const CLEAN_PHRASES =
  /\b(no (?:issues?|problems?|findings?|bugs?|concerns?)(?: (?:were |was )?(?:found|identified|detected))?|nothing to (?:flag|report)|looks good|lgtm|patch is correct)\b/i;
const PRIORITY_TAG = /^\s*\[P([0-3])\]\s*/i;
const LOCATION = /`?(\/?(?:[\w.@~-]+\/)*[\w.@-]+\.[A-Za-z0-9]+):(\d+)(?:[-–](\d+))?`?/;

function severityOfPriority(p: number): Severity {
  return p <= 1 ? "critical" : "non-critical";
}

function byKeywords(text: string): Severity {
  return CRITICAL_WORDS.test(text) ? "critical" : "non-critical";
}

function relativize(file: string, root?: string): string {
  if (root) {
    const r = root.endsWith("/") ? root : `${root}/`;
    if (file.startsWith(r)) return file.slice(r.length);
  }
  return file;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}

function fromStructuredItem(raw: unknown, root?: string): Finding | undefined {
  const item = asRecord(raw);
  if (!item || typeof item.title !== "string" || !item.title.trim()) return undefined;
  let title = item.title.trim();
  let priority =
    typeof item.priority === "number" && item.priority >= 0 && item.priority <= 3
      ? Math.trunc(item.priority)
      : undefined;
  const tag = PRIORITY_TAG.exec(title);
  if (tag) {
    priority ??= Number(tag[1]);
    title = title.slice(tag[0].length).trim();
  }
  const body = typeof item.body === "string" && item.body.trim() ? item.body.trim() : undefined;
  let severity: Severity;
  const stated = typeof item.severity === "string" ? item.severity.toLowerCase() : "";
  if (priority !== undefined) severity = severityOfPriority(priority);
  else if (stated) severity = /^(critical|high|blocker)$/.test(stated) ? "critical" : "non-critical";
  else severity = byKeywords(`${title} ${body ?? ""}`);

  const loc = asRecord(item.code_location);
  const fileRaw = loc?.absolute_file_path ?? item.file ?? item.path;
  const range = asRecord(loc?.line_range);
  const line = positiveInt(range?.start) ?? positiveInt(item.line);
  const finding: Finding = { severity, title };
  if (body) finding.body = body;
  if (typeof fileRaw === "string" && fileRaw.trim()) finding.file = relativize(fileRaw.trim(), root);
  if (line !== undefined) finding.line = line;
  if (priority !== undefined) finding.priority = priority;
  return finding;
}

function fromStructured(value: unknown, root?: string): ParseResult | undefined {
  const obj = asRecord(value);
  if (!obj || !Array.isArray(obj.findings)) return undefined;
  const findings = obj.findings
    .map((f) => fromStructuredItem(f, root))
    .filter((f): f is Finding => f !== undefined);
  const result: ParseResult = { findings, parsed: true };
  if (typeof obj.overall_explanation === "string" && obj.overall_explanation.trim())
    result.summary = obj.overall_explanation.trim();
  const dropped = obj.findings.length - findings.length;
  if (dropped > 0) result.note = `${dropped} finding(s) without a title were ignored`;
  else if (findings.length === 0 && obj.overall_correctness === "patch is incorrect") {
    result.note = "the reviewer judged the patch incorrect but listed no findings";
  }
  return result;
}

/** JSON candidates in a message: the whole text, then each fenced block, then the outermost braces. */
function jsonCandidates(text: string): unknown[] {
  const out: unknown[] = [];
  const tryParse = (s: string) => {
    try {
      out.push(JSON.parse(s));
    } catch {
      /* not JSON: try the next candidate */
    }
  };
  tryParse(text.trim());
  for (const m of text.matchAll(/```[\w-]*[ \t]*\n([\s\S]*?)```/g)) tryParse(m[1]!.trim());
  const first = text.indexOf("{");
  const last = text.lastIndexOf("}");
  if (first >= 0 && last > first) tryParse(text.slice(first, last + 1));
  return out;
}

interface Bullet {
  text: string;
  continuation: string[];
  section?: Severity | "ignore";
}

const BULLET = /^(\s*)(?:[-*+•]|\d+[.)])\s+(.*)$/;

/** The label of a line that reads as a heading ("## CRITICAL", "**Non-critical**", "Summary:"), else undefined. */
function headingLabel(line: string): string | undefined {
  const t = line.trim();
  const m =
    /^#{1,6}\s+(.+?)\s*#*$/.exec(t) ??
    /^(?:\*\*|__)(.+?)(?:\*\*|__):?$/.exec(t) ??
    (t.length <= 40 ? /^([A-Za-z][\w /()-]*?):?$/.exec(t) : null);
  return m ? m[1]!.replace(/[*_:]/g, " ").trim().toUpperCase() : undefined;
}

type Section = Severity | "ignore" | undefined;

function sectionOf(label: string): Section {
  if (/^(NON[- ]?CRITICAL|MINOR|NITS?|SUGGESTIONS?)\b/.test(label)) return "non-critical";
  if (/^CRITICAL\b/.test(label)) return "critical";
  // Bullets under these headings describe the change, they are not findings.
  if (/^(SUMMARY|OVERVIEW|CHANGES|WHAT CHANGED|STRENGTHS|POSITIVES|TESTING|NOTES)\b/.test(label))
    return "ignore";
  return undefined;
}

function collectBullets(text: string): Bullet[] {
  const bullets: Bullet[] = [];
  let section: Section;
  let current: Bullet | undefined;
  let baseIndent = -1;
  let inFence = false;
  let afterBlank = false;
  for (const line of text.split(/\r?\n/)) {
    const fenceLine = /^\s*```/.test(line);
    if (fenceLine) inFence = !inFence;
    if (!inFence && !fenceLine) {
      const m = BULLET.exec(line);
      if (m && (current === undefined || m[1]!.length <= baseIndent)) {
        if (baseIndent < 0) baseIndent = m[1]!.length;
        current = { text: m[2]!.trim(), continuation: [], ...(section ? { section } : {}) };
        bullets.push(current);
        afterBlank = false;
        continue;
      }
      const label = /^\S/.test(line) ? headingLabel(line) : undefined;
      if (label !== undefined) {
        section = sectionOf(label);
        current = undefined;
        baseIndent = -1;
        afterBlank = false;
        continue;
      }
      // A paragraph that starts at the margin after a blank line is no longer part of the bullet.
      if (afterBlank && /^\S/.test(line)) current = undefined;
    }
    afterBlank = !line.trim();
    if (current && line.trim()) current.continuation.push(line.trim());
  }
  return bullets;
}

function stripMarkup(s: string): string {
  return s
    .replace(/\*\*/g, "")
    .trim()
    .replace(/^`([^`]*)`$/, "$1");
}

function fromBullet(b: Bullet, root?: string): Finding | undefined {
  if (b.section === "ignore") return undefined;
  let head = b.text;
  let priority: number | undefined;
  const tag = PRIORITY_TAG.exec(stripMarkup(head));
  if (tag) {
    priority = Number(tag[1]);
    head = stripMarkup(head).slice(tag[0].length);
  }
  let file: string | undefined;
  let line: number | undefined;
  const loc = LOCATION.exec(head) ?? LOCATION.exec(b.continuation.join(" "));
  if (loc) {
    file = relativize(loc[1]!, root);
    line = Number(loc[2]);
  }
  // "Title — /path:1-2" (Codex review's rendering) or "Title (path:1)": drop the location from the title.
  head = head
    .replace(/\s+[—–-]\s+`?\S+:\d+(?:[-–]\d+)?`?\s*$/, "")
    .replace(/\s*\(`?\S+:\d+(?:[-–]\d+)?`?\)\s*$/, "");
  head = stripMarkup(head);
  let title = head;
  let rest = "";
  const split = /^(.{3,100}?)(?:\*\*)?(?::\s+|\s+[—–]\s+|\.\s+)(.+)$/.exec(head);
  if (split) {
    title = stripMarkup(split[1]!);
    rest = split[2]!.trim();
  }
  title = title.replace(/[.:]\s*$/, "").trim();
  if (!title) return undefined;
  const body = [rest, ...b.continuation].filter(Boolean).join(" ").trim();
  let severity: Severity;
  if (priority !== undefined) severity = severityOfPriority(priority);
  else if (b.section === "critical" || b.section === "non-critical") severity = b.section;
  else severity = byKeywords(`${title} ${body}`);
  const f: Finding = { severity, title };
  if (body) f.body = body;
  if (file) f.file = file;
  if (line) f.line = line;
  if (priority !== undefined) f.priority = priority;
  return f;
}

/** Turns Codex's answer into findings; see the module comment for the formats understood. */
export function parseFindings(output: ReviewOutput): ParseResult {
  if (output.structured !== undefined) {
    const r = fromStructured(output.structured, output.root);
    if (r) return r;
  }
  const text =
    output.lastMessage.trim() ||
    [...output.agentMessages]
      .reverse()
      .find((m) => m.trim())
      ?.trim() ||
    "";
  if (!text) return { findings: [], parsed: false, note: "the reviewer returned no message" };

  for (const candidate of jsonCandidates(text)) {
    const r = fromStructured(candidate, output.root);
    if (r) return r;
  }
  const bullets = collectBullets(text);
  const findings = bullets
    .map((b) => fromBullet(b, output.root))
    .filter((f): f is Finding => f !== undefined);
  if (findings.length > 0) return { findings, parsed: true };
  if (CLEAN_PHRASES.test(text))
    return { findings: [], parsed: true, summary: text.split(/\n\s*\n/)[0]!.trim() };
  if (bullets.length > 0) return { findings: [], parsed: true, note: "only summary bullets, no findings" };
  return { findings: [], parsed: false, note: "no parseable findings in the reviewer's answer" };
}

export function verdictOf(findings: readonly Finding[], ok: boolean): Verdict {
  if (!ok) return "error";
  return findings.some((f) => f.severity === "critical") ? "critical" : "clean";
}
