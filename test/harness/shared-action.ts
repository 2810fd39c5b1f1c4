// A runner user other than the suite's own (the sudo runner of GitHub-hosted runners) must read the
// action — the bundle, its hooks, the pinned CLIs the tests name as `claude-executable` and
// `codex-executable` — as the runner reads `_actions/` on a real machine. A clone in a folder other
// users cannot enter (a HOME of mode 700, a `mktemp -d`) hides them: then the action's files are
// placed once per suite run where every user can reach them, hard-linked where the filesystem
// allows (no copy of the CLIs' 700 MB), and the run is pointed there. Nothing of the clone changes.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);
const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED_ACTION_PREFIX = "aegis-test-action-";

/** What of the project the action reads at run time, and the CLIs the tests hand it. */
const PARTS = [
  "dist",
  "hooks",
  "action.yml",
  "package.json",
  "node_modules/.bin",
  "node_modules/@anthropic-ai",
  "node_modules/@openai",
];

/** Every folder from `/` to `dir` can be entered by others, and `dir` read: another user reaches it. */
export function reachableByOthers(dir: string): boolean {
  let at = path.resolve(dir);
  for (;;) {
    const mode = statSync(at).mode;
    if ((mode & 0o001) === 0) return false;
    if (at === path.resolve(dir) && (mode & 0o004) === 0) return false;
    const up = path.dirname(at);
    if (up === at) return true;
    at = up;
  }
}

let staged: Promise<string> | undefined;

/** Where another user reads the project's action from: the project itself when it can. */
export function sharedActionRoot(): Promise<string> {
  if (reachableByOthers(PROJECT)) return Promise.resolve(PROJECT);
  staged ??= stage();
  return staged;
}

async function stage(): Promise<string> {
  // Named after the bundle it holds: a rebuilt dist/ gets a fresh copy, parallel workers share one.
  const bundle = statSync(path.join(PROJECT, "dist/index.js"));
  const id = createHash("sha256")
    .update(`${PROJECT}\0${bundle.size}\0${bundle.mtimeMs}`)
    .digest("hex")
    .slice(0, 16);
  const final = path.join(os.tmpdir(), `${SHARED_ACTION_PREFIX}${id}`);
  if (existsSync(path.join(final, ".complete"))) return final;
  const work = await mkdtemp(path.join(os.tmpdir(), `${SHARED_ACTION_PREFIX}tmp-`));
  try {
    for (const part of PARTS) {
      const from = path.join(PROJECT, part);
      if (!existsSync(from)) continue;
      const to = path.join(work, part);
      await mkdir(path.dirname(to), { recursive: true });
      // Hard links share the files (same filesystem); elsewhere a copy. Modes come along either way.
      await exec("cp", ["-al", from, to]).catch(() => exec("cp", ["-a", from, to]));
    }
    await exec("touch", [path.join(work, ".complete")]);
    await chmod(work, 0o755);
    await rename(work, final).catch(async (err: NodeJS.ErrnoException) => {
      // Another worker placed it first: use theirs.
      if (!existsSync(path.join(final, ".complete"))) throw err;
      await rm(work, { recursive: true, force: true });
    });
    return final;
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/** `p` as the shared copy has it, when `p` is a file of the project; else `p` unchanged. */
export function inShared(root: string, p: string): string {
  if (root === PROJECT || !path.isAbsolute(p)) return p;
  const rel = path.relative(PROJECT, p);
  return rel.startsWith("..") || path.isAbsolute(rel) ? p : path.join(root, rel);
}
