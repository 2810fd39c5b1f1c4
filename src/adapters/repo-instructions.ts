/**
 * Reads the repository's instructions for agents out of one commit (the default branch's tip),
 * never the working tree: by the time a session or a review runs, the tree is the task's branch.
 */
import {
  type InstructionFile,
  isScopedInstructionPath,
  MAX_INSTRUCTION_FILE_BYTES,
  MAX_SCOPED_FILES,
  ROOT_INSTRUCTION_FILES,
  SCOPED_INSTRUCTIONS_DIR,
} from "../core/instructions.js";
import { runGit } from "./git.js";

/** Blobs above this are read only in part: the brief caps each file well below it. */
const READ_LIMIT = MAX_INSTRUCTION_FILE_BYTES * 4;

/** The instruction files at `rev` (a commit sha). A file git cannot read is left out, not guessed. */
export async function readInstructions(cwd: string, rev: string): Promise<InstructionFile[]> {
  if (!/^[0-9a-f]{40,64}$/.test(rev)) throw new Error(`readInstructions: expected a commit id, got ${rev}`);
  const listed = await runGit(
    cwd,
    ["ls-tree", "-r", "-z", "--long", rev, "--", ...ROOT_INSTRUCTION_FILES, `${SCOPED_INSTRUCTIONS_DIR}/`],
    "git ls-tree (instructions)",
  );
  const entries: { path: string; oid: string; size: number }[] = [];
  for (const line of listed.split("\0")) {
    // <mode> SP <type> SP <object> SP+ <size> TAB <path>
    const m = /^(\d+) (\w+) ([0-9a-f]+) +(\d+|-)\t(.+)$/s.exec(line);
    if (!m || m[2] !== "blob" || m[1] === "120000") continue; // links point anywhere: not read
    const p = m[5]!;
    if (!(ROOT_INSTRUCTION_FILES as readonly string[]).includes(p) && !isScopedInstructionPath(p)) continue;
    entries.push({ path: p, oid: m[3]!, size: Number(m[4]) });
  }
  const scoped = entries.filter((e) => isScopedInstructionPath(e.path)).slice(0, MAX_SCOPED_FILES * 2);
  const chosen = [...entries.filter((e) => !isScopedInstructionPath(e.path)), ...scoped];
  const out: InstructionFile[] = [];
  for (const e of chosen) {
    if (e.size > 1024 * 1024) continue; // not a rule file; never read a blob that size into memory
    try {
      const text = await runGit(cwd, ["cat-file", "blob", e.oid], `git cat-file (${e.path})`);
      out.push({ path: e.path, text: e.size > READ_LIMIT ? text.slice(0, READ_LIMIT) : text });
    } catch {
      // Unreadable (a partial clone without the blob): the brief says nothing rather than guess.
    }
  }
  return out;
}
