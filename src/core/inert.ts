/**
 * Text the agent influenced, made inert before aegis posts it under its own name. GitHub reads
 * more than Markdown in a comment: `@name` and `@org/team` notify people, `#12`, `owner/repo#12`
 * and `GH-12` cross-reference (and after `Closes`/`Fixes`, close) issues, bare URLs become links.
 * None of these is markup a backslash can escape — GitHub finds them in the rendered text — so a
 * word joiner (U+2060, invisible) goes inside each (the text reads the same), and Markdown's own links, images,
 * HTML and code spans are escaped.
 *
 * `inert` is for a line of prose (a blocked reason, a finding's title); `code` puts a name (a file
 * path) in a code span no backtick in it can close.
 */

const ZWJ = "\u2060"; // WORD JOINER: invisible, not a word character, not whitespace

/** Every run of whitespace or control characters (a line break would end the line in Markdown). */
// eslint-disable-next-line no-control-regex
const BREAKS = /[\u0000-\u001f\u007f\u0085\u2028\u2029\s]+/g;

/** A single line of agent text that renders as itself, with nothing live in it. */
export function inert(text: string, max = 200): string {
  const flat = text.replace(BREAKS, " ").trim();
  const capped = Array.from(flat);
  const line = capped.length > max ? `${capped.slice(0, max - 1).join("")}…` : flat;
  return (
    line
      // Markdown: links and images (no `[`, no link), code spans, table cells, HTML and entities.
      // Emphasis is left alone: it is no way out, and `snake_case` names stay readable.
      .replace(/[\\`[\]|]/g, (c) => `\\${c}`)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      // GitHub: mentions (and e-mail autolinks), references, and autolinked URLs.
      .replace(/@/g, `@${ZWJ}`)
      .replace(/#/g, `#${ZWJ}`)
      .replace(/\b(GH)-(\d)/gi, `$1-${ZWJ}$2`)
      .replace(/:\/\//g, `:${ZWJ}//`)
      .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWJ}.`)
  );
}

/** `name` as an inline code span: on one line, fenced by more backticks than it holds. */
export function code(name: string, max = 120): string {
  const flat = name.replace(BREAKS, " ");
  const chars = Array.from(flat);
  const text = chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : flat;
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  // A space on each side keeps a leading or trailing backtick off the fence (CommonMark strips one).
  const pad = text.startsWith("`") || text.endsWith("`") || longest > 0 ? " " : "";
  // A table cell ends at a pipe, even in a code span: GitHub reads `\|` there as the pipe itself.
  return `${fence}${pad}${text.replace(/\|/g, "\\|")}${pad}${fence}`;
}
