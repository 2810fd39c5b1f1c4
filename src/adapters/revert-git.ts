// The git half of a rollback: fetch the default branch and the merge commit, `git revert` it on
// a detached head, commit as github-actions[bot] and push a new branch — never with force.
//
// Git runs through src/adapters/git.ts (hardened; commits as github-actions[bot]). The checkout
// holds no credentials: the token travels once per command, in git's environment, as the `http.extraheader`
// actions/checkout uses, to the repository's own URL.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type GitError, isRepository, runGit } from "./git.js";

export interface RevertGitOptions {
  /** The job's checkout; when it is not a git repository, `scratch` is used instead. */
  workspace: string;
  scratch: string;
  /** `${GITHUB_SERVER_URL}/${owner}/${repo}.git` */
  repoUrl: string;
  token: string;
  defaultBranch: string;
  mergeSha: string;
  /** The branch to create: `auto/revert/<task-id>`. */
  branch: string;
  message: string;
}

export type RevertGitResult =
  | { kind: "pushed"; sha: string; files: string[] }
  | { kind: "conflict"; files: string[] }
  /** The revert changes nothing: the default branch no longer has the merge's changes. */
  | { kind: "empty" }
  /** The branch exists on the remote already (an earlier or concurrent run); nothing was pushed. */
  | { kind: "branch-exists" };

/** `git` with the commit message on stdin, through the project's one hardened runner. */
const git = (cwd: string, args: string[], what: string, input?: string) =>
  runGit(cwd, args, what, input === undefined ? {} : { input });
/** The same, with the token in the environment for a network command. */
const authedGit = (token: string) => (cwd: string, args: string[], what: string) =>
  runGit(cwd, args, what, { token });

/** Where HEAD points now, to put the checkout back as it was. */
async function currentHead(cwd: string): Promise<string | undefined> {
  const branch = await git(cwd, ["symbolic-ref", "--quiet", "--short", "HEAD"], "git symbolic-ref").catch(
    () => "",
  );
  if (branch.trim()) return branch.trim();
  const sha = await git(cwd, ["rev-parse", "--verify", "--quiet", "HEAD"], "git rev-parse").catch(() => "");
  return sha.trim() || undefined;
}

async function lines(cwd: string, args: string[], what: string): Promise<string[]> {
  return (await git(cwd, args, what)).split("\n").filter(Boolean);
}

/** Reverts `mergeSha` on top of the default branch and pushes the result as a new branch. */
export async function revertAndPush(opts: RevertGitOptions): Promise<RevertGitResult> {
  const remoteGit = authedGit(opts.token);
  let cwd = path.resolve(opts.workspace);
  if (!(await isRepository(cwd))) {
    cwd = path.resolve(opts.scratch);
    await mkdir(cwd, { recursive: true });
    if (!(await isRepository(cwd))) await git(cwd, ["init", "--quiet"], "git init");
  }
  const restore = await currentHead(cwd);
  const tip = `refs/remotes/origin/${opts.defaultBranch}`;
  // actions/checkout makes a depth-1 clone: deepen just enough to hold the merge commit and its
  // parents, asked for by sha (GitHub serves reachable commits by sha). A full clone stays full
  // and usually has the merge commit once the tip is fetched.
  const shallow =
    !restore || (await git(cwd, ["rev-parse", "--is-shallow-repository"], "git rev-parse")).trim() === "true";
  const fetch = (refspecs: string[]) =>
    remoteGit(
      cwd,
      [
        "fetch",
        "--no-tags",
        "--quiet",
        "--no-recurse-submodules",
        ...(shallow ? ["--depth=2"] : []),
        opts.repoUrl,
        ...refspecs,
      ],
      `git fetch of ${refspecs.map((r) => r.replace(/^\+refs\/heads\/([^:]+):.*$/, "$1").slice(0, 40)).join(" and ")}`,
    );
  const tipSpec = `+refs/heads/${opts.defaultBranch}:${tip}`;
  if (shallow) await fetch([tipSpec, opts.mergeSha]);
  else {
    await fetch([tipSpec]);
    const present = await git(cwd, ["cat-file", "-e", `${opts.mergeSha}^{commit}`], "git cat-file").then(
      () => true,
      () => false,
    );
    if (!present) await fetch([opts.mergeSha]);
  }
  try {
    await git(cwd, ["checkout", "--quiet", "--detach", tip], `git checkout of ${opts.defaultBranch}`);
    const parents = (await lines(cwd, ["rev-list", "--parents", "-n", "1", opts.mergeSha], "git rev-list"))[0]
      ?.split(" ")
      .slice(1);
    // A merge commit is reverted against its first parent (the base); a squash or rebase merge
    // leaves an ordinary commit, which takes no mainline.
    const mainline = (parents?.length ?? 0) > 1 ? ["-m", "1"] : [];
    try {
      await git(cwd, ["revert", "--no-commit", ...mainline, opts.mergeSha], "git revert");
    } catch (error) {
      const files = await lines(cwd, ["diff", "--name-only", "--diff-filter=U"], "git diff").catch(() => []);
      await abortRevert(cwd);
      if (files.length || /conflict/i.test((error as GitError).stderr ?? ""))
        return { kind: "conflict", files };
      throw error;
    }
    const files = await lines(cwd, ["diff", "--cached", "--name-only"], "git diff --cached");
    if (files.length === 0) {
      await abortRevert(cwd);
      return { kind: "empty" };
    }
    await git(cwd, ["commit", "--quiet", "--no-verify", "-F", "-"], "git commit", opts.message);
    const sha = (await git(cwd, ["rev-parse", "HEAD"], "git rev-parse")).trim();
    try {
      // No force: an existing branch of that name (an earlier run's) is never overwritten.
      await remoteGit(
        cwd,
        ["push", "--quiet", "--no-verify", opts.repoUrl, `${sha}:refs/heads/${opts.branch}`],
        `git push of ${opts.branch}`,
      );
    } catch (error) {
      if (/\[rejected\]|non-fast-forward|fetch first|already exists/i.test((error as GitError).stderr ?? ""))
        return { kind: "branch-exists" };
      throw error;
    }
    return { kind: "pushed", sha, files };
  } finally {
    if (restore) await git(cwd, ["checkout", "--quiet", restore], "git checkout").catch(() => undefined);
  }
}

async function abortRevert(cwd: string): Promise<void> {
  // --no-commit leaves REVERT_HEAD only on conflict; `reset --merge` cleans both cases.
  await git(cwd, ["revert", "--abort"], "git revert --abort").catch(() => undefined);
  await git(cwd, ["reset", "--quiet", "--merge"], "git reset --merge").catch(() => undefined);
}
