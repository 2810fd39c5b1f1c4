// The git half of run mode: prepare the task branch, guard the repository's own configuration
// while the agent works, commit what it left, describe the branch for the pre-push checks, and
// push exactly the commit that was checked.
//
// Every git call here is an async execFile (no shell) with a hardened environment: no runner
// credentials, no global or system config, no hooks, no fsmonitor, no replace refs. The agent
// could have written to .git/ during its session (hooks block the file tools there, but Bash and
// python can); a hook, an fsmonitor, a filter driver or a replace ref planted there must not run
// or lie when the action later runs git with its token. The token travels once per network
// command as the `http.extraheader` actions/checkout uses, in the environment of that one git
// process (GIT_CONFIG_COUNT/KEY/VALUE, command-line scope) and never on a command line: any user
// of the machine can read `/proc/<pid>/cmdline`, only the action's own user its environ.
//
// The same hardened git also runs inside the agent's room (`launch`), to commit what the agent
// left and hand its commits out as a bundle: there it holds no credential at all.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as core from "@actions/core";
import { withoutRunnerCredentials } from "../core/agent-env.js";
import { type Launcher, runLaunched } from "../room/launcher.js";

export const GIT_NAME = "github-actions[bot]";
export const GIT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com";
const GIT_TIMEOUT_MS = 5 * 60_000;
const MAX_BUFFER = 256 * 1024 * 1024;

export interface Remote {
  /** `${GITHUB_SERVER_URL}/${owner}/${repo}.git` */
  url: string;
  token: string;
}

export class GitError extends Error {
  override name = "GitError";
  constructor(
    message: string,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = withoutRunnerCredentials(process.env);
  for (const name of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"]) delete env[name];
  return {
    ...env,
    ...extra,
    GIT_TERMINAL_PROMPT: "0",
    GCM_INTERACTIVE: "never",
    LC_ALL: "C",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_NO_REPLACE_OBJECTS: "1",
  };
}

/** Command-line config: protected scope, so it wins over anything in .git/config. */
function hardening(cwd: string): string[] {
  return [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "credential.helper=",
    "-c",
    `safe.directory=${cwd}`,
    "-c",
    `user.name=${GIT_NAME}`,
    "-c",
    `user.email=${GIT_EMAIL}`,
    "-c",
    "commit.gpgsign=false",
  ];
}

export interface GitOptions {
  /** Command-line config ahead of the command (never a credential: argv is public). */
  extra?: string[];
  input?: string;
  /** The token for this one network command, passed as an auth header in the environment. */
  token?: string;
  /** Where git runs: default as the action; the room's launcher runs it as the room's user. */
  launch?: Launcher;
  /** Plain values for this one command (a commit's dates); never a credential. */
  env?: Record<string, string>;
}

/**
 * The one way aegis runs git: hardened as above, with `extra` config ahead of the command, the
 * token (if any) in the environment and optional stdin. Run, review and rollback all go through it.
 */
export function runGit(cwd: string, args: string[], what: string, opts: GitOptions = {}): Promise<string> {
  const env = opts.launch
    ? { ...roomGitEnv(), ...opts.env, ...(opts.token ? authEnv(opts.token) : {}) }
    : gitEnv({ ...opts.env, ...(opts.token ? authEnv(opts.token) : {}) });
  const plain = { file: "git", args: [...hardening(cwd), ...(opts.extra ?? []), ...args], env };
  const cmd = opts.launch ? opts.launch(plain.file, plain.args, plain.env) : plain;
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd.file,
      cmd.args,
      { cwd, timeout: GIT_TIMEOUT_MS, maxBuffer: MAX_BUFFER, env: cmd.env, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const detail = stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${String(error.code)}`;
        reject(new GitError(`${what} failed: ${detail}`, stderr, { cause: new Error(String(error.code)) }));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** git inside the room: nothing of the action's environment, no user or system config. */
function roomGitEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LC_ALL: "C",
    HOME: "/nonexistent",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_NO_REPLACE_OBJECTS: "1",
  };
}

function git(cwd: string, args: string[], what: string, token?: string): Promise<string> {
  return runGit(cwd, args, what, token ? { token } : {});
}

/** The header actions/checkout sends: basic auth with `x-access-token` as the user. */
export function authHeader(token: string): string {
  return `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`, "utf8").toString("base64")}`;
}

/**
 * The auth header as environment config (command-line scope, like `-c`, but out of argv),
 * masked in the log.
 */
export function authEnv(token: string): Record<string, string> {
  const header = authHeader(token);
  core.setSecret(header.slice("AUTHORIZATION: basic ".length));
  return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraheader", GIT_CONFIG_VALUE_0: header };
}

export async function isRepository(dir: string): Promise<boolean> {
  return existsSync(path.join(dir, ".git"));
}

function auth(remote: Remote): string {
  return remote.token;
}

const lines = (text: string) => text.split("\n").filter(Boolean);
const nulList = (text: string) => text.split("\0").filter(Boolean);

/** Remote tips of the given branches (absent ones are missing from the map): one round trip. */
export async function remoteHeads(
  cwd: string,
  remote: Remote,
  branches: string[],
): Promise<Map<string, string>> {
  const out = await git(
    cwd,
    ["ls-remote", "--heads", remote.url, ...branches.map((b) => `refs/heads/${b}`)],
    "git ls-remote",
    auth(remote),
  );
  const heads = new Map<string, string>();
  for (const line of lines(out)) {
    const [sha, ref] = line.split("\t");
    if (sha && ref?.startsWith("refs/heads/")) heads.set(ref.slice("refs/heads/".length), sha);
  }
  return heads;
}

export interface PreparedBranch {
  baseSha: string;
  /** Where the session starts: the base, or the tip an earlier attempt pushed. */
  startSha: string;
  continued: boolean;
}

/**
 * Checks out `baseSha` detached (fetching it when the checkout is behind), so the caller can
 * run the test command on the base. Sets the commit identity in the repository's config, which
 * the agent's own `git commit` needs (actions/checkout sets none).
 */
export async function checkoutBase(cwd: string, remote: Remote, baseBranch: string, baseSha: string) {
  // A job that did not check out the repository gets an empty one to fetch into.
  if (!existsSync(path.join(cwd, ".git"))) {
    await mkdir(cwd, { recursive: true });
    await git(cwd, ["init", "--quiet"], "git init");
  }
  const fresh = !(await git(cwd, ["rev-parse", "--verify", "--quiet", "HEAD"], "git rev-parse").then(
    () => true,
    () => false,
  ));
  const have = await git(cwd, ["cat-file", "-e", `${baseSha}^{commit}`], "git cat-file").then(
    () => true,
    () => false,
  );
  const shallow =
    fresh || (await git(cwd, ["rev-parse", "--is-shallow-repository"], "git rev-parse")).trim() === "true";
  if (!have)
    await git(
      cwd,
      [
        "fetch",
        "--no-tags",
        "--quiet",
        ...(shallow ? ["--depth=1"] : []),
        remote.url,
        `+refs/heads/${baseBranch}:refs/remotes/origin/${baseBranch}`,
      ],
      `git fetch of ${baseBranch}`,
      auth(remote),
    );
  await git(cwd, ["checkout", "--quiet", "--force", "--detach", baseSha], "git checkout of the base");
  await git(cwd, ["config", "user.name", GIT_NAME], "git config");
  await git(cwd, ["config", "user.email", GIT_EMAIL], "git config");
}

/**
 * Creates (or resets) the local task branch at `startSha`: the base, or an earlier attempt's
 * pushed tip (`continueSha`, fetched here) that the session continues from.
 */
export async function createTaskBranch(
  cwd: string,
  remote: Remote,
  opts: { branch: string; baseSha: string; continueSha?: string },
): Promise<PreparedBranch> {
  let startSha = opts.baseSha;
  if (opts.continueSha) {
    try {
      await git(
        cwd,
        [
          "fetch",
          "--no-tags",
          "--quiet",
          remote.url,
          `+refs/heads/${opts.branch}:refs/remotes/origin/${opts.branch}`,
        ],
        `git fetch of ${opts.branch}`,
        auth(remote),
      );
      const tip = (
        await git(cwd, ["rev-parse", `refs/remotes/origin/${opts.branch}`], "git rev-parse")
      ).trim();
      // Continue only from the tip that was checked and recorded; anything else is stale.
      if (tip === opts.continueSha) startSha = tip;
    } catch (error) {
      core.info(
        `Starting from the base: the earlier attempt's branch could not be fetched (${(error as Error).message}).`,
      );
    }
  }
  await git(
    cwd,
    ["checkout", "--quiet", "--force", "-B", opts.branch, startSha],
    `git checkout -B ${opts.branch}`,
  );
  return { baseSha: opts.baseSha, startSha, continued: startSha !== opts.baseSha };
}

/** Paths with uncommitted changes or untracked (not ignored) files. */
export async function dirtyPaths(cwd: string, launch?: Launcher): Promise<string[]> {
  const out = await runGit(
    cwd,
    ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"],
    "git status",
    launch ? { launch } : {},
  );
  // Entries are `XY path`; -z keeps names verbatim.
  return nulList(out).map((entry) => entry.slice(3));
}

/** What the agent could tamper with in .git/ to run code in later git calls or mislead them. */
export interface RepoGuard {
  restore(): Promise<string[]>;
}

/** Saves .git/config and .git/shallow before the session; `restore` puts them back afterwards. */
export async function guardRepository(cwd: string): Promise<RepoGuard> {
  const gitDir = path.resolve(cwd, (await git(cwd, ["rev-parse", "--git-dir"], "git rev-parse")).trim());
  const files = ["config", "shallow", path.join("info", "grafts")];
  const saved = new Map<string, string | undefined>();
  for (const f of files) saved.set(f, await readFile(path.join(gitDir, f), "utf8").catch(() => undefined));
  return {
    async restore() {
      const changed: string[] = [];
      for (const [f, before] of saved) {
        const p = path.join(gitDir, f);
        const now = await readFile(p, "utf8").catch(() => undefined);
        if (now === before) continue;
        changed.push(`.git/${f}`);
        if (before === undefined) await rm(p, { force: true });
        else await writeFile(p, before);
      }
      return changed;
    },
  };
}

/**
 * Commits what the agent left uncommitted, except `leaveOut` (secret-looking files, and what
 * was dirty before the session). Returns the committed paths and those left out. With `launch`
 * it runs inside the room, in the agent's working copy.
 */
export async function commitLeftovers(
  cwd: string,
  opts: { leaveOut: (p: string) => boolean; message: string; launch?: Launcher },
): Promise<{ committed: string[]; leftOut: string[] }> {
  const where = opts.launch ? { launch: opts.launch } : {};
  const dirty = await dirtyPaths(cwd, opts.launch);
  const take = dirty.filter((p) => !opts.leaveOut(p));
  const leftOut = dirty.filter((p) => opts.leaveOut(p));
  if (take.length === 0) return { committed: [], leftOut };
  // Literal pathspecs: a file named `*` or `:(glob)x` means itself.
  await runGit(cwd, ["--literal-pathspecs", "add", "--all", "--", ...take], "git add", where);
  const staged = nulList(
    await runGit(cwd, ["diff", "--cached", "--name-only", "-z"], "git diff --cached", where),
  );
  if (staged.length === 0) return { committed: [], leftOut };
  await runGit(cwd, ["commit", "--quiet", "--no-verify", "-m", opts.message], "git commit", where);
  return { committed: staged, leftOut };
}

/** Checks out `sha` as `branch` in the room's working copy (run inside the room). */
export async function checkoutInRoom(
  cwd: string,
  launch: Launcher,
  sha: string,
  branch?: string,
): Promise<void> {
  const args = branch
    ? ["checkout", "--quiet", "--force", "-B", branch, sha]
    : ["checkout", "--quiet", "--force", "--detach", sha];
  await runGit(cwd, args, `git checkout of ${sha.slice(0, 12)} in the room`, { launch });
}

/** The largest bundle of the agent's commits the action takes in. */
export const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

/**
 * The agent's commits since `startSha`, handed out of the room as a git bundle (git runs inside
 * the room, hardened; its output is only data to the action). Undefined when HEAD is `startSha`.
 */
export async function bundleFromRoom(
  cwd: string,
  launch: Launcher,
  startSha: string,
  outFile: string,
): Promise<{ head: string } | undefined> {
  const head = (
    await runGit(cwd, ["rev-parse", "--verify", "HEAD^{commit}"], "git rev-parse in the room", { launch })
  ).trim();
  if (!/^[0-9a-f]{40,64}$/.test(head))
    throw new GitError(`the room's HEAD is not a commit: ${head.slice(0, 80)}`, "");
  if (head === startSha) return undefined;
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LC_ALL: "C",
    HOME: "/nonexistent",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_NO_REPLACE_OBJECTS: "1",
  };
  const run = await runLaunched(
    launch,
    "git",
    [...hardening(cwd), "bundle", "create", "--quiet", "-", "HEAD", `^${startSha}`],
    env,
    {
      cwd,
      timeoutMs: GIT_TIMEOUT_MS,
      maxBytes: MAX_BUNDLE_BYTES,
    },
  );
  if (run.overflow)
    throw new GitError(`the agent's commits exceed ${MAX_BUNDLE_BYTES / 1024 / 1024} MiB as a bundle`, "");
  if (run.code !== 0)
    throw new GitError(
      `git bundle in the room failed: ${run.stderr.trim().split("\n").slice(-2).join(" | ")}`,
      run.stderr,
    );
  await writeFile(outFile, run.stdout, { mode: 0o600 });
  return { head };
}

/**
 * Takes the bundle's commits into the action's own repository (every object checked as it
 * arrives) and returns the head, which must descend from `startSha`: the agent's work is added
 * to where it started, never a rewritten history.
 */
export async function importBundle(
  cwd: string,
  bundle: string,
  expectedHead: string,
  startSha: string,
): Promise<string> {
  const ref = "refs/aegis/import";
  await git(
    cwd,
    ["-c", "transfer.fsckObjects=true", "fetch", "--no-tags", "--quiet", "--force", bundle, `HEAD:${ref}`],
    "git fetch of the agent's commits",
  );
  const head = (await git(cwd, ["rev-parse", "--verify", `${ref}^{commit}`], "git rev-parse")).trim();
  if (head !== expectedHead)
    throw new GitError(
      `the bundle's head ${head.slice(0, 12)} is not the room's ${expectedHead.slice(0, 12)}`,
      "",
    );
  const descends = await git(cwd, ["merge-base", "--is-ancestor", startSha, head], "git merge-base").then(
    () => true,
    () => false,
  );
  if (!descends)
    throw new GitError(
      `the agent's commits do not descend from ${startSha.slice(0, 12)}: the history was rewritten`,
      "",
    );
  return head;
}

export interface BranchState {
  headSha: string;
  /** Commits from the base to the head, and from where the session started to the head. */
  commitsAhead: number;
  newCommits: number;
  /** Paths changed from the base to the head (what the PR shows). */
  netPaths: string[];
  /** Paths touched by any commit on the branch, even if a later one undid it. */
  historyPaths: string[];
  /** `git diff base head` as text (binary files included): the size check reads it. */
  netDiff: string;
  /** Every commit's patch: what the push actually publishes, for the secret checks. */
  historyPatches: string;
}

export async function describeBranch(
  cwd: string,
  baseSha: string,
  startSha: string,
  head = "HEAD",
): Promise<BranchState> {
  const headSha = (
    await git(cwd, ["rev-parse", "--verify", `${head}^{commit}`], "git rev-parse HEAD")
  ).trim();
  const count = async (from: string) =>
    Number((await git(cwd, ["rev-list", "--count", `${from}..${headSha}`], "git rev-list")).trim()) || 0;
  const commitsAhead = await count(baseSha);
  const newCommits = startSha === baseSha ? commitsAhead : await count(startSha);
  if (commitsAhead === 0)
    return {
      headSha,
      commitsAhead,
      newCommits,
      netPaths: [],
      historyPaths: [],
      netDiff: "",
      historyPatches: "",
    };
  const range = `${baseSha}..${headSha}`;
  const [netPaths, historyPathsRaw, netDiff, historyPatches] = await Promise.all([
    git(cwd, ["diff", "--no-renames", "--name-only", "-z", baseSha, headSha], "git diff --name-only").then(
      nulList,
    ),
    git(
      cwd,
      ["log", "--format=", "--no-renames", "--name-only", "-z", "--diff-merges=first-parent", range],
      "git log --name-only",
    ).then((out) => nulList(out.replace(/\n/g, "\0"))),
    git(
      cwd,
      ["diff", "--no-renames", "--text", "--no-textconv", "--no-color", "--no-ext-diff", baseSha, headSha],
      "git diff",
    ),
    git(
      cwd,
      [
        "log",
        "--format=",
        "-p",
        "--text",
        "--no-textconv",
        "--no-renames",
        "--no-color",
        "--no-ext-diff",
        "--diff-merges=first-parent",
        range,
      ],
      "git log -p",
    ),
  ]);
  const historyPaths = [...new Set([...netPaths, ...historyPathsRaw])];
  return { headSha, commitsAhead, newCommits, netPaths, historyPaths, netDiff, historyPatches };
}

/**
 * Pushes `sha` as `branch`. Without `replaceSha` it is a plain push: it creates the branch or
 * fast-forwards it, and fails on anything else. With `replaceSha` (a stale branch of an earlier
 * attempt, seen at that sha) it is a compare-and-swap: `--force-with-lease` replaces the branch
 * only if it still points there, so a concurrent writer's work is never overwritten.
 */
export async function pushBranch(
  cwd: string,
  remote: Remote,
  opts: { sha: string; branch: string; replaceSha?: string },
): Promise<void> {
  const ref = `refs/heads/${opts.branch}`;
  const lease = opts.replaceSha ? [`--force-with-lease=${ref}:${opts.replaceSha}`] : [];
  await git(
    cwd,
    ["push", "--quiet", "--no-verify", "--porcelain", ...lease, remote.url, `${opts.sha}:${ref}`],
    `git push of ${opts.branch}`,
    auth(remote),
  );
}
