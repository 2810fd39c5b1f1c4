/**
 * The room's copy of a checkout: the files (the build's installed dependencies included) and
 * the repository — and nothing of the job's credentials. A checkout can hold them in more places
 * than `.git/config`:
 *
 * - every git config in the repository: `.git/config`, each submodule's `.git/modules/…/config`
 *   (actions/checkout persists its auth header there too with `submodules: true`), worktree
 *   configs. Each is rewritten from a short allow-list of keys; remotes, includes, credential
 *   helpers and extra headers never come along;
 * - files other steps wrote into the workspace: google-github-actions/auth's `gha-creds-*.json`,
 *   or any file holding one of this job's own credentials (the token, the model keys, the
 *   runtime tokens) in a form the pre-push check knows — such a file is left out of the copy,
 *   and the log says so.
 */
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { secretForms } from "../core/secret-scan.js";
import * as git from "./git.js";

const execFileAsync = promisify(execFile);

/** Files credential-writing actions put into the workspace, by name. */
const CREDENTIAL_FILE_NAMES = [/^gha-creds-[\w-]*\.json$/];

export interface LeftOut {
  path: string;
  why: string;
}

export async function copyCheckout(
  workspace: string,
  work: string,
  opts: { secrets: string[]; scratch: string },
): Promise<{ leftOut: LeftOut[] }> {
  await execFileAsync("cp", ["-a", "--no-preserve=ownership", "--", `${workspace}/.`, work], {
    maxBuffer: 16 * 1024 * 1024,
  });
  // cp -a gave the copy the workspace's own mode (which may be closed to others by now): the
  // action, as a user other than the room's, must still enter it to start the room's processes.
  await chmod(work, 0o755);
  for (const config of await gitConfigs(path.join(work, ".git")))
    await rewriteGitConfig(config, config === path.join(work, ".git", "config"));
  const leftOut: LeftOut[] = [];
  for (const file of await filesNamed(work, CREDENTIAL_FILE_NAMES))
    leftOut.push({ path: file, why: "a credential file another step wrote" });
  for (const file of await filesHolding(work, opts.secrets, opts.scratch))
    if (!leftOut.some((l) => l.path === file))
      leftOut.push({ path: file, why: "it holds a credential of this job" });
  for (const l of leftOut) await rm(path.join(work, l.path), { force: true });
  return { leftOut };
}

/** Every git config file under `gitDir` (objects skipped: nothing there is a config). */
async function gitConfigs(gitDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== "objects") await walk(full);
      else if (e.isFile() && (e.name === "config" || e.name === "config.worktree")) found.push(full);
    }
  };
  await walk(gitDir);
  return found;
}

/**
 * Rewrites a git config with only what the repository needs to be read: its format version and
 * extensions, and (for a submodule's) a relative `core.worktree`; then aegis's identity.
 */
async function rewriteGitConfig(file: string, main: boolean): Promise<void> {
  const keep = await execFileAsync(
    "git",
    [
      "config",
      "--file",
      file,
      "--get-regexp",
      "^(core\\.repositoryformatversion|core\\.worktree|core\\.bare|extensions\\.)",
    ],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CONFIG_NOSYSTEM: "1" } },
  ).then(
    (r) => r.stdout,
    () => "",
  );
  const core = ["[core]", "\tlogallrefupdates = true", "\tfilemode = true"];
  const extensions: string[] = [];
  let bare = main ? "false" : "";
  for (const line of keep.split("\n").filter(Boolean)) {
    const [key = "", ...rest] = line.split(" ");
    const value = rest.join(" ");
    if (!/^[A-Za-z0-9.-]+$/.test(key) || /[\n"\\]/.test(value)) continue;
    const lower = key.toLowerCase();
    if (lower === "core.repositoryformatversion") core.push(`\trepositoryformatversion = ${value}`);
    else if (lower === "core.bare" && !main && /^(true|false)$/.test(value)) bare = value;
    // A submodule's work tree, relative to its git dir; never an absolute path out of the copy.
    else if (lower === "core.worktree" && !main && !path.isAbsolute(value))
      core.push(`\tworktree = ${value}`);
    else if (lower.startsWith("extensions."))
      extensions.push(`\t${key.slice("extensions.".length)} = ${value}`);
  }
  if (bare) core.push(`\tbare = ${bare}`);
  const lines = [...core];
  if (extensions.length) lines.push("[extensions]", ...extensions);
  lines.push("[user]", `\tname = ${git.GIT_NAME}`, `\temail = ${git.GIT_EMAIL}`);
  await writeFile(file, `${lines.join("\n")}\n`, { mode: 0o644 });
}

/** Regular files whose name matches, relative to `root` (symbolic links are not followed). */
async function filesNamed(root: string, names: RegExp[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory() && full !== path.join(root, ".git")) await walk(full);
      else if (e.isFile() && names.some((n) => n.test(e.name))) found.push(path.relative(root, full));
    }
  };
  await walk(root);
  return found;
}

/**
 * Files under `root` holding any of `secrets` in a form the pre-push check knows (as is, or
 * base64 at any alignment — which covers a persisted `AUTHORIZATION: basic …` header). grep's
 * fixed-string search reads a tree of installed dependencies in seconds; git's object store is
 * skipped (compressed, and written by git, not by a step). The patterns go through a private
 * file, never a command line.
 */
async function filesHolding(root: string, secrets: string[], scratch: string): Promise<string[]> {
  const forms = [...new Set(secrets.filter((s) => s.length >= 8).flatMap(secretForms))];
  if (!forms.length) return [];
  const dir = await mkdtemp(path.join(scratch, "aegis-scan-"));
  try {
    const patterns = path.join(dir, "patterns");
    await writeFile(patterns, `${forms.join("\n")}\n`, { mode: 0o600 });
    const script =
      'find "$1" -path "$1/.git/objects" -prune -o -type f -print0 | xargs -0 -r grep -lFZ -f "$2" --';
    const result = await execFileAsync("sh", ["-c", script, "sh", root, patterns], {
      maxBuffer: 64 * 1024 * 1024,
      env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
    }).then(
      (r) => r.stdout,
      // xargs exits 123 when a grep found nothing (1) or met an unreadable file (2): what it
      // printed still names every file that matched.
      (error: { code?: number; stdout?: string }) => {
        if (error.code === 123 && typeof error.stdout === "string") return error.stdout;
        throw new Error(`could not scan the checkout's copy for credentials: ${String(error)}`);
      },
    );
    return result
      .split("\0")
      .filter(Boolean)
      .map((f) => path.relative(root, f));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
