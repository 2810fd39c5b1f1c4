// The working tree Codex reviews: the PR head and base fetched into the job's checkout and the
// head checked out detached.
//
// Credentials: the checkout was made with `persist-credentials: false`, so .git/config holds no
// token. The fetch passes the token once, as the `http.extraheader` actions/checkout uses, on the
// git command line only, and fetches from the repository's own URL (never from whatever `origin`
// says), so the token reaches no other host and nothing of it is left on disk for Codex to read.
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import path from "node:path";
import * as core from "@actions/core";

export interface PrCheckoutOptions {
  /** The job's workspace (actions/checkout); a scratch repository is made here when it is not one. */
  dir: string;
  /** `${GITHUB_SERVER_URL}/${owner}/${repo}.git` */
  repoUrl: string;
  token: string;
  headRef: string;
  /** The head sha GitHub reported, to say when the branch moved since. */
  headSha: string;
  baseRef: string;
}

export interface PrCheckout {
  cwd: string;
  /** The commit checked out (and reviewed). */
  headSha: string;
  /** Ref Codex diffs against: `origin/<base>`. */
  baseRef: string;
}

const GIT_TIMEOUT_MS = 5 * 60_000;

/** The header actions/checkout sends: basic auth with `x-access-token` as the user. */
export function authHeader(token: string): string {
  return `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`, "utf8").toString("base64")}`;
}

/** Refspecs that keep both branches under refs/remotes/origin, as a normal clone names them. */
export function fetchRefspecs(headRef: string, baseRef: string): string[] {
  const spec = (ref: string) => `+refs/heads/${ref}:refs/remotes/origin/${ref}`;
  return headRef === baseRef ? [spec(headRef)] : [spec(headRef), spec(baseRef)];
}

function git(cwd: string, args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      args,
      {
        cwd,
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        // No prompt for a password when the token is refused: fail at once instead.
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GCM_INTERACTIVE: "never" },
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(String(stdout));
        // The error's own message repeats the command line, header included: build ours from stderr.
        const detail =
          String(stderr).trim().split("\n").slice(-3).join(" | ") || `exit ${String(error.code)}`;
        reject(new Error(`${what} failed: ${detail}`));
      },
    );
  });
}

async function isRepository(dir: string): Promise<boolean> {
  try {
    await access(path.join(dir, ".git"));
    return true;
  } catch {
    return false;
  }
}

export async function preparePrCheckout(opts: PrCheckoutOptions): Promise<PrCheckout> {
  const header = authHeader(opts.token);
  core.setSecret(header.slice("AUTHORIZATION: basic ".length));
  const cwd = path.resolve(opts.dir);
  if (!(await isRepository(cwd))) {
    core.info(`${cwd} is not a git checkout; initialising one to fetch the pull request into.`);
    await git(cwd, ["init", "--quiet"], "git init");
  }
  await git(
    cwd,
    [
      "-c",
      `http.extraheader=${header}`,
      "fetch",
      "--no-tags",
      "--quiet",
      "--no-recurse-submodules",
      opts.repoUrl,
      ...fetchRefspecs(opts.headRef, opts.baseRef),
    ],
    `git fetch of ${opts.headRef} and ${opts.baseRef}`,
  );
  await git(
    cwd,
    ["checkout", "--quiet", "--detach", `refs/remotes/origin/${opts.headRef}`],
    `git checkout of ${opts.headRef}`,
  );
  const headSha = (await git(cwd, ["rev-parse", "HEAD"], "git rev-parse")).trim();
  if (headSha !== opts.headSha)
    core.info(
      `${opts.headRef} moved to ${headSha} since GitHub reported ${opts.headSha}; reviewing ${headSha}.`,
    );
  return { cwd, headSha, baseRef: `origin/${opts.baseRef}` };
}
