/**
 * The room's tree of a checkout (a copy, or a view: checkout-view.ts): the files (the build's
 * installed dependencies included) and the repository — and nothing of the job's credentials.
 * A checkout can hold them in more places than `.git/config`:
 *
 * - every git directory in the copy — the checkout's own, each submodule's `.git/modules/…`, and
 *   any repository checked out inside the workspace by another step (`tools/.git`, with its own
 *   token): each config is rewritten from a short allow-list of keys (remotes, includes,
 *   credential helpers and extra headers never come along), and any other file of a git
 *   directory that holds a credential's shape (a reflog line recording `https://user:token@…`,
 *   a `FETCH_HEAD`) is left out;
 * - git links (`.git` files, `commondir`) that lead out of the copy: removed, so git in the room
 *   never reads a repository outside it;
 * - files other steps wrote into the workspace: google-github-actions/auth's `gha-creds-*.json`,
 *   a `.git-credentials` or `.netrc`, or any file holding one of this job's own credentials (the
 *   token, the model keys, the runtime tokens) in a form the pre-push check knows — such a file
 *   is left out of the copy, and the log says so.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import {
  chmod,
  lstat,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { secretForms, TOKEN_PATTERNS, tokenIn } from "../core/secret-scan.js";
import * as git from "../adapters/git.js";

const execFileAsync = promisify(execFile);

/** Files credential-writing actions put into the workspace, by name. */
const CREDENTIAL_FILE_NAMES = [/^gha-creds-[\w-]*\.json$/, /^\.git-credentials$/, /^_?\.?netrc$/];

export interface LeftOut {
  path: string;
  why: string;
}

/**
 * What the room's tree of a checkout differs from the checkout by: the files left out, and the
 * git configs written anew (paths relative to the checkout). Made by reading the checkout, so the
 * same plan serves a copy (`copyCheckout`) and a view laid over the checkout (checkout-view.ts).
 */
export interface ScrubPlan {
  leftOut: LeftOut[];
  rewrites: { path: string; content: string }[];
  /** What the walk of the whole checkout found, for `planScrub` to plan again from. */
  walked: Surveyed & { holding: string[]; unreadable: string[] };
}

interface Surveyed {
  gitDirs: string[];
  gitLinks: string[];
  credentialFiles: string[];
}

/** Copies `workspace` to `work` (an empty folder) as `plan` says. */
export async function copyCheckout(workspace: string, work: string, plan: ScrubPlan): Promise<void> {
  for (const p of [...plan.leftOut.map((l) => l.path), ...plan.rewrites.map((r) => r.path)]) assertInside(p);
  await execFileAsync("cp", ["-a", "--no-preserve=ownership", "--", `${workspace}/.`, work], {
    maxBuffer: 16 * 1024 * 1024,
  });
  // cp -a gave the copy the workspace's own mode (which may be closed to others by now): the
  // action, as a user other than the room's, must still enter it to start the room's processes.
  await chmod(work, 0o755);
  for (const r of plan.rewrites) await writeFile(path.join(work, r.path), r.content, { mode: 0o644 });
  for (const l of plan.leftOut) await rm(path.join(work, l.path), { recursive: true, force: true });
}

/**
 * Reads `workspace` for what its copy or view must leave out or write anew (see the top).
 *
 * Given the plan of an earlier tree of this job, only the git directories are read again: the
 * action itself writes there between two trees (the agent's commits taken in, refs moved), and
 * nowhere else but through git checkouts of commits the pre-push check has read already — so the
 * branch's tests get their fresh tree without a second walk of a large checkout.
 */
export async function planScrub(
  workspace: string,
  opts: { secrets: string[]; scratch: string },
  earlier?: ScrubPlan,
): Promise<ScrubPlan> {
  // Every path is taken relative to the checkout's real place: a workspace under a linked folder
  // (a self-hosted runner's `_work -> /mnt/…`) must not make a path that climbs out of it.
  const root = await realpath(workspace);
  // One walk in this process while find and grep read the files in others.
  const [found, holding, unreadable] = earlier
    ? await Promise.all([
        earlier.walked,
        filesHolding(root, opts.secrets, opts.scratch, earlier.walked.gitDirs).then((inGit) => [
          ...new Set([...earlier.walked.holding, ...inGit]),
        ]),
        unreadableEntries(root, earlier.walked.gitDirs).then((inGit) => [
          ...new Set([...earlier.walked.unreadable, ...inGit]),
        ]),
      ])
    : await Promise.all([
        survey(root),
        filesHolding(root, opts.secrets, opts.scratch),
        unreadableEntries(root),
      ]);
  const leftOut: LeftOut[] = [];
  const rewrites: ScrubPlan["rewrites"] = [];
  const scrubbed: string[] = [];
  const scrub = async (dir: string) => {
    const real = await realpath(path.join(root, dir)).catch(() => undefined);
    // A git directory inside one already scrubbed (a submodule's, reached through its link) was
    // scrubbed with it, as what it is there.
    if (!real || scrubbed.some((s) => real === s || real.startsWith(`${s}/`))) return;
    scrubbed.push(real);
    const done = await scrubGitDir(root, path.relative(root, real));
    leftOut.push(...done.leftOut);
    rewrites.push(...done.rewrites);
    // A worktree's shared repository elsewhere in the checkout is scrubbed as well.
    for (const common of done.commonDirs) await scrub(common);
  };
  for (const dir of found.gitDirs) await scrub(dir);
  for (const link of found.gitLinks) {
    const target = await gitLinkTarget(path.join(root, link));
    if (await leadsInside(root, target)) {
      // A git directory inside the checkout under any name (`.repos/lib`, a worktree's admin folder).
      await scrub(path.relative(root, target!));
      continue;
    }
    // The checkout's own repository elsewhere (a worktree, say): the room would read it there.
    if (link === ".git")
      throw new Error(
        "the checkout's .git is a link to a repository outside the workspace; the agent's room " +
          "needs a checkout of its own (actions/checkout makes one)",
      );
    leftOut.push({ path: link, why: "a git link that leads out of the checkout" });
  }
  for (const file of found.credentialFiles)
    leftOut.push({ path: file, why: "a credential file another step wrote" });
  // What the action cannot read it cannot check: in the room's tree it would be the room's.
  for (const entry of unreadable)
    leftOut.push({ path: entry, why: "the action cannot read it, so it could not be checked" });
  // A git config is written anew from what it may keep: the checkout's own holding the token
  // (actions/checkout persists it) is replaced, not left out — unless what it kept holds one.
  const forms = opts.secrets.filter((x) => x.length >= 8).flatMap(secretForms);
  for (const r of rewrites)
    if (forms.some((f) => r.content.includes(f)))
      leftOut.push({ path: r.path, why: "it holds a credential of this job" });
  for (const file of holding)
    if (!leftOut.some((l) => l.path === file) && !rewrites.some((r) => r.path === file))
      leftOut.push({ path: file, why: "it holds a credential of this job" });
  const plan = normalizedPlan(leftOut, rewrites);
  return {
    ...plan,
    walked: {
      ...found,
      gitDirs: scrubbed.map((d) => path.relative(root, d)),
      holding,
      unreadable,
    },
  };
}

/** One entry per path, none below another left out; throws on a path that leaves the checkout. */
function normalizedPlan(leftOut: LeftOut[], rewrites: ScrubPlan["rewrites"]): Omit<ScrubPlan, "walked"> {
  for (const p of [...leftOut.map((l) => l.path), ...rewrites.map((r) => r.path)]) assertInside(p);
  const kept: LeftOut[] = [];
  for (const l of [...leftOut].sort((a, b) => a.path.length - b.path.length))
    if (!kept.some((k) => l.path === k.path || l.path.startsWith(`${k.path}/`))) kept.push(l);
  const gone = (p: string) => kept.some((l) => p === l.path || p.startsWith(`${l.path}/`));
  const seen = new Set<string>();
  const once = rewrites.filter((r) => !gone(r.path) && !seen.has(r.path) && seen.add(r.path));
  return { leftOut: kept, rewrites: once };
}

/** A plan's path is relative, normal, and stays inside the checkout; anything else is a bug. */
export function assertInside(p: string): void {
  if (!p || path.isAbsolute(p) || path.normalize(p) !== p || p === ".." || p.startsWith("../"))
    throw new Error(`the room's tree of the checkout would touch a path outside it: ${JSON.stringify(p)}`);
}

/**
 * Entries of the checkout the action cannot read (a file of mode 000, a folder it may not enter):
 * neither the credential scan nor a copy could read them. Object stores are skipped as below.
 */
async function unreadableEntries(root: string, within?: string[]): Promise<string[]> {
  const roots = within ? within.map((d) => path.join(root, d)) : [root];
  if (!roots.length) return [];
  const stores = within ? roots.map((r) => path.join(r, "objects")) : [path.join(root, ".git", "objects")];
  const args = [
    ...roots,
    ...stores.flatMap((p) => ["-path", p, "-prune", "-o"]),
    ...["(", "-type", "d", "(", "!", "-readable", "-o", "!", "-executable", ")", "-prune", "-print0", ")"],
    ...["-o", "(", "!", "-type", "d", "!", "-type", "l", "!", "-readable", "-print0", ")"],
  ];
  const out = await execFileAsync("find", args, {
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
  }).then(
    (r) => r.stdout,
    // find exits 1 after naming what it could not enter: what it printed is the answer.
    (error: { stdout?: string }) => {
      if (typeof error.stdout === "string") return error.stdout;
      throw new Error(`could not check what of the checkout the action can read: ${String(error)}`);
    },
  );
  return out
    .split("\0")
    .filter(Boolean)
    .map((f) => path.relative(root, f))
    .filter((f) => f !== "");
}

/**
 * Whether `dir` is a git directory by its shape, whatever its name: a `HEAD` file and an object
 * store (a repository, bare or not, a submodule's) or a `commondir` (a worktree's admin folder).
 */
function isGitDir(dir: string): boolean {
  return (
    existsSync(path.join(dir, "HEAD")) &&
    (existsSync(path.join(dir, "objects")) || existsSync(path.join(dir, "commondir")))
  );
}

/**
 * One walk of the copy (symbolic links not followed): its git directories — a `.git` directory
 * anywhere, a nested checkout's, and any folder shaped like one (a bare clone or mirror another
 * step left, a separate git dir) — its git links (`.git` files), and files named as credential
 * files. A git directory is not walked here but by `scrubGitDir`.
 */
async function survey(root: string): Promise<Surveyed> {
  const out: Surveyed = { gitDirs: [], gitLinks: [], credentialFiles: [] };
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const rel = path.relative(root, full);
      if (e.name === ".git") {
        if (e.isDirectory()) out.gitDirs.push(rel);
        // A file is a link to a git directory; so, for git, is a symbolic link named .git.
        else out.gitLinks.push(rel);
      } else if (e.isDirectory() && isGitDir(full)) out.gitDirs.push(rel);
      else if (e.isDirectory()) await walk(full);
      else if (e.isFile() && CREDENTIAL_FILE_NAMES.some((n) => n.test(e.name))) out.credentialFiles.push(rel);
    }
  };
  await walk(root);
  return out;
}

/**
 * Where a git link points: a `.git` file's `gitdir:` line, a symbolic link's target. A link
 * written as an absolute path leads out: the room's tree sits elsewhere, so it would name the
 * runner's checkout, not the room's.
 */
async function gitLinkTarget(full: string): Promise<string | undefined> {
  const info = await lstat(full).catch(() => undefined);
  if (!info) return undefined;
  if (info.isSymbolicLink()) {
    const text = await readlink(full).catch(() => "/");
    return path.isAbsolute(text) ? undefined : realpath(full).catch(() => undefined);
  }
  const text = await readFile(full, "utf8").catch(() => "");
  const target = /^gitdir:\s*(.+?)\s*$/m.exec(text)?.[1];
  return target && !path.isAbsolute(target) ? path.resolve(path.dirname(full), target) : undefined;
}

/** Whether `target` (absolute; symbolic links resolved) lies inside `root`. */
async function leadsInside(root: string, target: string | undefined): Promise<boolean> {
  if (!target) return false;
  const real = await realpath(target).catch(() => path.resolve(target));
  const top = await realpath(root);
  return real === top || real.startsWith(`${top}/`);
}

/**
 * Entries at the top of a git directory never read for credentials: git's own binary stores.
 * Only there: a submodule or a branch may be named `objects` or `index` deeper down.
 */
const GIT_STORES = new Set(["objects", "lfs", "index"]);

/**
 * Rewrites every config of the git directory `rel` (relative to `root`) and returns the other
 * files of it to leave out: any holding a credential's shape or an extra header, and links
 * (`commondir`) that lead out of the copy; `commonDirs` are the shared repositories its worktrees
 * name elsewhere in the copy, for the caller to scrub in turn.
 */
async function scrubGitDir(
  root: string,
  rel: string,
): Promise<{ leftOut: LeftOut[]; rewrites: ScrubPlan["rewrites"]; commonDirs: string[] }> {
  const leftOut: LeftOut[] = [];
  const rewrites: ScrubPlan["rewrites"] = [];
  const commonDirs: string[] = [];
  const top = path.join(root, rel);
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    // The top of this git directory, or of one inside it (`modules/<name>`, `worktrees/<name>`).
    const atGitTop = depth === 0 || isGitDir(dir);
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const relative = path.relative(root, full);
      if (atGitTop && GIT_STORES.has(e.name)) continue;
      if (e.isDirectory()) await walk(full, depth + 1);
      else if (!e.isFile()) continue;
      else if (e.name === "config" || e.name === "config.worktree")
        // The repository's own config sits at the top; a submodule's or a worktree's below.
        rewrites.push({ path: relative, content: await scrubbedGitConfig(full, depth === 0, root) });
      else if (e.name === "commondir") {
        const text = (await readFile(full, "utf8").catch(() => "")).trim();
        const target = path.isAbsolute(text) ? undefined : path.resolve(dir, text);
        if (!target || !(await leadsInside(root, target)))
          leftOut.push({ path: relative, why: "a git link that leads out of the checkout" });
        else if (!(await realpath(target).catch(() => target)).startsWith(await realpath(top)))
          commonDirs.push(path.relative(root, target));
      } else if (await holdsCredentialShape(full))
        leftOut.push({ path: relative, why: "git metadata holding a credential" });
    }
  };
  await walk(top, 0);
  return { leftOut, rewrites, commonDirs };
}

async function holdsCredentialShape(file: string): Promise<boolean> {
  const text = await readFile(file, "latin1").catch(() => "");
  return /extraheader|authorization:/i.test(text) || TOKEN_PATTERNS.some((t) => tokenIn(text, t));
}

/**
 * A git config anew with only what the repository needs to be read: its format version and
 * extensions, and (for a submodule's) a relative `core.worktree`; then aegis's identity.
 */
async function scrubbedGitConfig(file: string, main: boolean, root: string): Promise<string> {
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
    // A submodule's work tree, relative to its git dir; never a path out of the copy.
    else if (lower === "core.worktree" && !main && !path.isAbsolute(value)) {
      const tree = path.resolve(path.dirname(file), value);
      if (tree === root || tree.startsWith(`${root}/`)) core.push(`\tworktree = ${value}`);
    } else if (lower.startsWith("extensions."))
      extensions.push(`\t${key.slice("extensions.".length)} = ${value}`);
  }
  if (bare) core.push(`\tbare = ${bare}`);
  const lines = [...core];
  if (extensions.length) lines.push("[extensions]", ...extensions);
  lines.push("[user]", `\tname = ${git.GIT_NAME}`, `\temail = ${git.GIT_EMAIL}`);
  return `${lines.join("\n")}\n`;
}

/**
 * Files under `root` holding any of `secrets` in a form the pre-push check knows (as is, or
 * base64 at any alignment — which covers a persisted `AUTHORIZATION: basic …` header). grep's
 * fixed-string search reads a tree of installed dependencies in seconds; git's object store is
 * skipped (compressed, and written by git, not by a step). The patterns go through a private
 * file, never a command line.
 */
async function filesHolding(
  root: string,
  secrets: string[],
  scratch: string,
  within?: string[],
): Promise<string[]> {
  const forms = [...new Set(secrets.filter((s) => s.length >= 8).flatMap(secretForms))];
  if (!forms.length) return [];
  const dir = await mkdtemp(path.join(scratch, "aegis-scan-"));
  try {
    const patterns = path.join(dir, "patterns");
    await writeFile(patterns, `${forms.join("\n")}\n`, { mode: 0o600 });
    // The object stores are skipped: the checkout's own, or each git directory's when only those
    // are read. Paths go to find as arguments, never into the script.
    const roots = within ? within.map((d) => path.join(root, d)) : [root];
    if (!roots.length) return [];
    const stores = within ? roots.map((r) => path.join(r, "objects")) : [path.join(root, ".git", "objects")];
    const prune = stores.flatMap((p) => ["-path", p, "-prune", "-o"]);
    const script = 'p="$1"; shift; find "$@" -type f -print0 | xargs -0 -r grep -lFZ -f "$p" --';
    const result = await execFileAsync("sh", ["-c", script, "sh", patterns, ...roots, ...prune], {
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
