// The working tree Codex reviews: the PR head and base fetched into the job's checkout and the
// head checked out detached.
//
// Credentials: the checkout was made with `persist-credentials: false`, so .git/config holds no
// token. The fetch passes the token once, as the `http.extraheader` actions/checkout uses, in the
// environment of that one git process (never on its command line), and fetches from the repository's own URL (never from whatever `origin`
// says), so the token reaches no other host and nothing of it is left on disk for Codex to read.
import path from "node:path";
import * as core from "@actions/core";
import { isRepository, runGit as git } from "./git.js";

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

/** Refspecs that keep both branches under refs/remotes/origin, as a normal clone names them. */
export function fetchRefspecs(headRef: string, baseRef: string): string[] {
  const spec = (ref: string) => `+refs/heads/${ref}:refs/remotes/origin/${ref}`;
  return headRef === baseRef ? [spec(headRef)] : [spec(headRef), spec(baseRef)];
}

export async function preparePrCheckout(opts: PrCheckoutOptions): Promise<PrCheckout> {
  const cwd = path.resolve(opts.dir);
  if (!(await isRepository(cwd))) {
    core.info(`${cwd} is not a git checkout; initialising one to fetch the pull request into.`);
    await git(cwd, ["init", "--quiet"], "git init");
  }
  await git(
    cwd,
    [
      "fetch",
      "--no-tags",
      "--quiet",
      "--no-recurse-submodules",
      opts.repoUrl,
      ...fetchRefspecs(opts.headRef, opts.baseRef),
    ],
    `git fetch of ${opts.headRef} and ${opts.baseRef}`,
    { token: opts.token },
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
