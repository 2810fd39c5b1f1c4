/**
 * Untrusted text (issue bodies and titles) made safe to place in a brief: what a human reviewer
 * cannot see on GitHub is removed, so the agent reads no more than the approver did, and the text
 * cannot break out of the fence the brief puts around it.
 */
import type { Nodes } from "mdast";
import { fromMarkdown } from "mdast-util-from-markdown";
import { gfmFromMarkdown } from "mdast-util-gfm";
import { gfm } from "micromark-extension-gfm";

/**
 * Characters that render as nothing or reorder what is shown: zero-width and joiners, bidi
 * embeddings/overrides/isolates, word joiner and invisible operators, BOM, soft hyphen, Hangul and
 * Mongolian fillers, variation selectors, interlinear annotation marks, and the tag block
 * (U+E0000–U+E007F, used to smuggle ASCII). C0/C1 controls other than tab and newline go too.
 */
const INVISIBLE =
  // eslint-disable-next-line no-control-regex, no-misleading-character-class
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB]|[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}]/gu;

/** `<!-- … -->`, and an unterminated `<!--` that hides everything after it on GitHub. */
const HTML_COMMENT = /<!--[\s\S]*?(?:-->|$)/g;

export interface SanitizeOptions {
  maxBytes: number;
}

/**
 * Source ranges of the Markdown GitHub renders as nothing, found by a CommonMark + GFM parser
 * (not patterns, which miss the forms the grammar allows): link reference definitions (the
 * `[//]: # (hidden text)` comment idiom, and any definition: only its uses show, never its text or
 * URL), HTML comments, and links whose text is empty (`[](…)` shows nothing of its URL or title).
 */
export function invisibleMarkdown(text: string): [number, number][] {
  const tree = fromMarkdown(text, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  const ranges: [number, number][] = [];
  const visit = (node: Nodes) => {
    const at = node.position;
    const hidden =
      node.type === "definition" ||
      (node.type === "html" && /^\s*<!--/.test(node.value)) ||
      ((node.type === "link" || node.type === "linkReference") && shownText(node).trim() === "");
    if (hidden && at?.start.offset !== undefined && at.end.offset !== undefined) {
      ranges.push([at.start.offset, at.end.offset]);
      return;
    }
    if ("children" in node) for (const child of node.children) visit(child as Nodes);
  };
  visit(tree);
  return ranges;
}

function shownText(node: Nodes): string {
  if (node.type === "text" || node.type === "inlineCode") return node.value;
  if (node.type === "image" || node.type === "imageReference") return node.alt || "[image]";
  if ("children" in node) return node.children.map((c) => shownText(c as Nodes)).join("");
  return "";
}

/** Removes what GitHub would not show; removing can expose a new hidden construct, so repeat. */
function withoutInvisibleMarkdown(text: string): string {
  let out = text;
  for (let pass = 0; pass < 8; pass++) {
    const ranges = invisibleMarkdown(out);
    if (ranges.length === 0) return out;
    for (const [start, end] of ranges.sort((a, b) => b[0] - a[0])) out = out.slice(0, start) + out.slice(end);
  }
  return out;
}

export function sanitizeUntrusted(text: string, opts: SanitizeOptions): string {
  // Invisible characters first: `<!\u200B--` must not survive as a comment GitHub hides.
  let out = text.replace(INVISIBLE, "");
  out = out.replace(/\r\n?|[\u2028\u2029]/g, "\n");
  // Only the head can reach the brief: the parser's cost stays bounded for a 1 MB body.
  out = truncateUtf8(out, opts.maxBytes + 16 * 1024);
  // Taking one comment out can join its neighbours into a new one (`<!<!---->--`), so repeat; a
  // text built to need many passes (each one linear) loses everything from its first opener on.
  for (let pass = 0; out.includes("<!--"); pass++) {
    out = pass < 8 ? out.replace(HTML_COMMENT, "") : out.slice(0, out.indexOf("<!--"));
  }
  out = withoutInvisibleMarkdown(out);
  return truncateUtf8(out, opts.maxBytes);
}

/** Cut to at most `maxBytes` of UTF-8 without splitting a character, noting what was cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const total = Buffer.byteLength(text, "utf8");
  if (total <= maxBytes) return text;
  const buf = Buffer.from(text, "utf8");
  let end = Math.max(0, maxBytes);
  // Back up to a character boundary: UTF-8 continuation bytes are 10xxxxxx.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  const kept = buf.subarray(0, end).toString("utf8");
  return `${kept}\n[truncated ${total - end} bytes]`;
}

/**
 * A backtick fence longer than any backtick run in `text` (at least three), so nothing inside can
 * close it early. Tilde fences are not a risk: a backtick fence is only closed by backticks.
 */
export function fenceFor(text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return "`".repeat(Math.max(3, longest + 1));
}

/** `text` inside a fence it cannot break, with an info string naming what it is. */
export function fenced(text: string, info = "text"): string {
  const fence = fenceFor(text);
  const body = text.endsWith("\n") ? text : `${text}\n`;
  return `${fence}${info}\n${body}${fence}`;
}

/** A single line of untrusted text (a title): sanitized, whitespace collapsed, capped. */
export function sanitizeLine(text: string, maxChars = 200): string {
  const flat = sanitizeUntrusted(text, { maxBytes: maxChars * 4 })
    .replace(/\s+/g, " ")
    .trim();
  const chars = Array.from(flat);
  return chars.length > maxChars ? `${chars.slice(0, maxChars - 1).join("")}…` : flat;
}

/** One line of log text: control characters and line breaks flattened, at most `max` characters. */
export function oneLine(text: string, max = 160): string {
  const flat = text
    .replace(/[\p{Cc}\u2028\u2029]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
