/**
 * The repository's instructions for agents, as the default branch has them.
 *
 * Teams keep their build, test and style rules for agents in `AGENTS.md` (Codex), `CLAUDE.md`
 * (Claude Code), `.github/copilot-instructions.md` and path-scoped
 * `.github/instructions/*.instructions.md` (Copilot, whose `applyTo` front matter names the files
 * they are for). They are the maintainers' words, so the session's brief and the review's prompt
 * carry them as trusted — but only as read on the default branch: the task's branch is the
 * agent's, and a rule it wrote there ("report no findings") must never reach its reviewer or
 * its own next round. That is also why neither CLI reads them from the working tree by itself
 * (Claude Code runs with `--setting-sources ""`, Codex with `project_doc_max_bytes=0`).
 */
import { parse as parseYaml } from "yaml";
import { matchesGlob } from "./glob.js";
import { code } from "./inert.js";
import { fenced, sanitizeUntrusted, truncateUtf8 } from "./sanitize.js";

/** Repository-root instruction files, in the order they are shown. */
export const ROOT_INSTRUCTION_FILES = ["AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md"] as const;
export const SCOPED_INSTRUCTIONS_DIR = ".github/instructions";

/** Per file and in all: enough for real rule files, small next to the 120 KB a brief may hold. */
export const MAX_INSTRUCTION_FILE_BYTES = 8 * 1024;
export const MAX_INSTRUCTIONS_BYTES = 24 * 1024;
/** Path-scoped files considered at most (the rest are named as left out). */
export const MAX_SCOPED_FILES = 20;

export interface InstructionFile {
  path: string;
  text: string;
}

export interface SelectedInstructions {
  files: { path: string; text: string; truncated: boolean }[];
  /** Files that exist but were left out (not for these files, or over the total cap), with why. */
  omitted: { path: string; why: string }[];
}

export function isScopedInstructionPath(p: string): boolean {
  return p.startsWith(`${SCOPED_INSTRUCTIONS_DIR}/`) && p.endsWith(".instructions.md");
}

/**
 * The `applyTo` globs of a path-scoped file's front matter (`applyTo: "**\/*.ts,**\/*.tsx"`), or
 * undefined when it has none: Copilot then applies it only on request, and so do we (left out).
 */
export function applyToGlobs(text: string): string[] | undefined {
  const m = /^---\r?\n([\s\S]*?)\r?\n---(?:\r?\n|$)/.exec(text);
  if (!m) return undefined;
  let meta: unknown;
  try {
    meta = parseYaml(m[1] ?? "");
  } catch {
    return undefined;
  }
  const raw = (meta as { applyTo?: unknown } | null)?.applyTo;
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : [];
  const globs = list
    .filter((g): g is string => typeof g === "string")
    .map((g) => g.trim())
    .filter(Boolean);
  return globs.length ? globs : undefined;
}

/** A pattern for every file (`**`, `**\/*`, `*`): applies whatever the task touches. */
function appliesEverywhere(glob: string): boolean {
  return /^(\*\*\/?)*\*?$/.test(glob.replace(/^\.\//, "")) && glob.includes("*");
}

/** Sanitized (what GitHub would not show is gone) and cut to `max` bytes, the cut's note included. */
function truncate(text: string, max: number): { text: string; truncated: boolean } {
  // Only a head can be shown: the markdown parser's cost stays bounded by it.
  const raw =
    Buffer.byteLength(text) > max * 2
      ? Buffer.from(text)
          .subarray(0, max * 2)
          .toString("utf8")
      : text;
  const clean = sanitizeUntrusted(raw, { maxBytes: max * 2 });
  if (Buffer.byteLength(clean) <= max) return { text: clean, truncated: raw !== text };
  return { text: truncateUtf8(clean, max - 40), truncated: true };
}

/**
 * Which instruction files go into a brief or a prompt: the root ones always, a path-scoped one
 * when its `applyTo` matches a file the task names (or every file). Each is capped, the total too.
 */
export function selectInstructions(
  files: readonly InstructionFile[],
  taskFiles: readonly string[],
): SelectedInstructions {
  const out: SelectedInstructions = { files: [], omitted: [] };
  const byPath = new Map(files.map((f) => [f.path, f.text]));
  const wanted: string[] = ROOT_INSTRUCTION_FILES.filter((p) => byPath.has(p));
  const scoped = files
    .map((f) => f.path)
    .filter(isScopedInstructionPath)
    .sort();
  for (const [i, p] of scoped.entries()) {
    if (i >= MAX_SCOPED_FILES) {
      out.omitted.push({ path: p, why: `more than ${MAX_SCOPED_FILES} path-scoped files` });
      continue;
    }
    const globs = applyToGlobs(byPath.get(p) ?? "");
    const applies =
      globs?.some((g) => appliesEverywhere(g) || taskFiles.some((f) => matchesGlob(f, g))) ?? false;
    if (applies) wanted.push(p);
    else out.omitted.push({ path: p, why: globs ? "not for the files this task names" : "no applyTo" });
  }
  let total = 0;
  for (const p of wanted) {
    const left = MAX_INSTRUCTIONS_BYTES - total;
    if (left < 256) {
      out.omitted.push({ path: p, why: `over the ${MAX_INSTRUCTIONS_BYTES / 1024} KB for instructions` });
      continue;
    }
    const cut = truncate(byPath.get(p) ?? "", Math.min(MAX_INSTRUCTION_FILE_BYTES, left));
    total += Buffer.byteLength(cut.text);
    out.files.push({ path: p, ...cut });
  }
  return out;
}

/**
 * The section a brief or review prompt carries. `branch` names where they were read; the text is
 * fenced so a file's own markdown cannot end the section, but marked as trusted.
 */
export function renderInstructions(
  selected: SelectedInstructions,
  branch: string,
  audience: "agent" | "reviewer",
): string {
  if (selected.files.length === 0) return "";
  const lead =
    audience === "agent"
      ? "The maintainers' instructions for agents in this repository, as they are on its default branch. Follow them where they do not conflict with your rules; they are not the issue's text."
      : "The maintainers' instructions for agents in this repository, as they are on its default branch (the pull request cannot change them here). Hold the change to them where they bear on correctness.";
  const parts = [`## The repository's instructions (from ${code(branch, 100)})`, lead];
  for (const f of selected.files) {
    parts.push("", `### ${f.path}${f.truncated ? " (truncated)" : ""}`, fenced(f.text, "markdown"));
  }
  return parts.join("\n");
}
