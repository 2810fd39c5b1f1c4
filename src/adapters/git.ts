// The git half of run mode: prepare the task branch, guard the repository's own configuration
// while the agent works, commit what it left, describe the branch for the pre-push checks, and
// push exactly the commit that was checked.
//
// Every git call here is an async execFile (no shell) with a hardened environment: no runner
// credentials, no global or system config, no hooks, no fsmonitor, no replace refs. The agent
// could have written to .git/ during its session (hooks block the file tools there, but Bash and
// python can); a hook, an fsmonitor, a filter driver or a replace ref planted there must not run
// or lie when the action later runs git with the token on its command line. The token travels once
// per network command as the `http.extraheader` actions/checkout uses, never stored.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as core from "@actions/core";
import { withoutRunnerCredentials } from "../core/agent-env.js";

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

function gitEnv(): Record<string, string> {
  const env = withoutRunnerCredentials(process.env);
  for (const name of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"]) delete env[name];
  return {
    ...env,
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

/**
 * The one way aegis runs git: hardened as above, with `extra` config (an auth header) ahead of
 * the command and optional stdin. Run, review and rollback all go through it.
 */
export function runGit(
  cwd: string,
  args: string[],
  what: string,
  opts: { extra?: string[]; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      [...hardening(cwd), ...(opts.extra ?? []), ...args],
      { cwd, timeout: GIT_TIMEOUT_MS, maxBuffer: MAX_BUFFER, env: gitEnv(), encoding: "utf8" },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        // The error's own message repeats the command line (the auth header included): build ours.
        const detail = stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${String(error.code)}`;
        reject(new GitError(`${what} failed: ${detail}`, stderr, { cause: new Error(String(error.code)) }));
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function git(cwd: string, args: string[], what: string, extra: string[] = []): Promise<string> {
  return runGit(cwd, args, what, { extra });
}

/** The header actions/checkout sends: basic auth with `x-access-token` as the user. */
export function authHeader(token: string): string {
  return `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`, "utf8").toString("base64")}`;
}

/** The auth header as command-line config, masked in the log. */
export function authConfig(token: string): string[] {
  const header = authHeader(token);
  core.setSecret(header.slice("AUTHORIZATION: basic ".length));
  return ["-c", `http.extraheader=${header}`];
}

export async function isRepository(dir: string): Promise<boolean> {
  return existsSync(path.join(dir, ".git"));
}

function auth(remote: Remote): string[] {
  return authConfig(remote.token);
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
export async function dirtyPaths(cwd: string): Promise<string[]> {
  const out = await git(
    cwd,
    ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"],
    "git status",
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
 * was dirty before the session). Returns the committed paths and those left out.
 */
export async function commitLeftovers(
  cwd: string,
  opts: { leaveOut: (p: string) => boolean; message: string },
): Promise<{ committed: string[]; leftOut: string[] }> {
  const dirty = await dirtyPaths(cwd);
  const take = dirty.filter((p) => !opts.leaveOut(p));
  const leftOut = dirty.filter((p) => opts.leaveOut(p));
  if (take.length === 0) return { committed: [], leftOut };
  // Literal pathspecs: a file named `*` or `:(glob)x` means itself.
  await git(cwd, ["--literal-pathspecs", "add", "--all", "--", ...take], "git add");
  const staged = nulList(await git(cwd, ["diff", "--cached", "--name-only", "-z"], "git diff --cached"));
  if (staged.length === 0) return { committed: [], leftOut };
  await git(cwd, ["commit", "--quiet", "--no-verify", "-m", opts.message], "git commit");
  return { committed: staged, leftOut };
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

export async function describeBranch(cwd: string, baseSha: string, startSha: string): Promise<BranchState> {
  const headSha = (await git(cwd, ["rev-parse", "--verify", "HEAD^{commit}"], "git rev-parse HEAD")).trim();
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
    git(cwd, ["diff", "--no-renames", "--text", "--no-color", "--no-ext-diff", baseSha, headSha], "git diff"),
    git(
      cwd,
      [
        "log",
        "--format=",
        "-p",
        "--text",
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
