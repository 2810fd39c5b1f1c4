/**
 * Verified commits (`run.verifiedCommits`): the agent's commits recreated on the task branch
 * through the REST API — blobs, a tree, a commit per agent commit, then the ref — which GitHub
 * signs, so they show as Verified and a branch rule that requires signed commits accepts them.
 *
 * What is published is what was checked: each recreated commit's tree must have the very sha of
 * the agent's commit's tree (git names a tree by its content), else nothing moves. The ref moves
 * once, at the end: a blob or commit GitHub refuses leaves the branch as it was, and the error
 * names the file. GitHub makes the token's identity the author; `Co-authored-by:` trailers are
 * dropped (see withoutCoAuthors).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { GitHub } from "./github.js";
import { runGit } from "./git.js";

const execFileAsync = promisify(execFile);

/** The largest file sent in one blob request (base64 grows it by a third; GitHub takes ~100 MB). */
export const MAX_BLOB_BYTES = 40 * 1024 * 1024;
/** Tree entries per request: a large change is built in steps, each on the last. */
const TREE_BATCH = 500;

type Mode = "100644" | "100755" | "040000" | "160000" | "120000";

export class VerifiedCommitError extends Error {
  override name = "VerifiedCommitError";
}

interface Change {
  path: string;
  mode: Mode;
  type: "blob" | "commit";
  /** null: deleted. */
  sha: string | null;
}

async function gitText(cwd: string, args: string[], what: string): Promise<string> {
  return runGit(cwd, args, what);
}

async function blobBytes(cwd: string, sha: string): Promise<Buffer> {
  const { stdout } = await execFileAsync("git", ["-C", cwd, "cat-file", "blob", sha], {
    encoding: "buffer",
    maxBuffer: MAX_BLOB_BYTES + 1024,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CONFIG_NOSYSTEM: "1", HOME: "/nonexistent" },
  });
  return stdout;
}

/** What `commit` changes against its parent, renames as a deletion plus an addition. */
async function changesOf(cwd: string, parent: string, commit: string): Promise<Change[]> {
  const raw = await gitText(
    cwd,
    ["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", "--raw", parent, commit],
    `listing the changes of ${commit.slice(0, 12)}`,
  );
  const parts = raw.split("\0");
  const changes: Change[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const meta = /^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])/.exec(parts[i]!);
    const file = parts[i + 1]!;
    if (!meta) continue;
    const [, oldMode, newMode, , newSha, status] = meta;
    if (status === "D") changes.push({ path: file, mode: oldMode as Mode, type: "blob", sha: null });
    else
      changes.push({
        path: file,
        mode: newMode as Mode,
        type: newMode === "160000" ? "commit" : "blob",
        sha: newSha!,
      });
  }
  return changes;
}

// The agent's messages reach here already cleaned (adapters/commit-rewrite.ts); dropping the
// trailers again is cheap and keeps this path safe on its own.
export { withoutCoAuthors } from "../core/commit-message.js";
import { withoutCoAuthors } from "../core/commit-message.js";

export interface VerifiedPublish {
  /** The branch's new tip (a commit GitHub made, not the agent's). */
  head: string;
  commits: number;
  blobs: number;
}

/**
 * Recreates `from..head` (linear) on top of `from`, which the remote has, and points `branch`
 * at the result: created when `remoteSha` is undefined, else moved from it (replacing a stale
 * earlier attempt's branch when `remoteSha` is not `from`).
 */
export async function publishVerified(
  gh: GitHub,
  opts: { cwd: string; branch: string; from: string; head: string; remoteSha?: string },
): Promise<VerifiedPublish> {
  const { cwd } = opts;
  const list = (
    await gitText(
      cwd,
      ["rev-list", "--reverse", "--parents", `${opts.from}..${opts.head}`],
      "listing the commits",
    )
  )
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "));
  const merge = list.find((c) => c.length > 2);
  if (merge)
    throw new VerifiedCommitError(
      `commit ${merge[0]!.slice(0, 12)} is a merge: verified commits are made one parent at a time`,
    );
  let parentRemote = opts.from;
  let parentTree = (await gitText(cwd, ["rev-parse", `${opts.from}^{tree}`], "reading the base tree")).trim();
  const sent = new Set<string>();
  for (const [commit, parent] of list as [string, string][]) {
    const changes = await changesOf(cwd, parent, commit);
    for (const c of changes) {
      if (c.type !== "blob" || c.sha === null || sent.has(c.sha)) continue;
      const size = Number((await gitText(cwd, ["cat-file", "-s", c.sha], `sizing ${c.path}`)).trim());
      if (size > MAX_BLOB_BYTES)
        throw new VerifiedCommitError(
          `${c.path} is ${size} bytes, over the ${MAX_BLOB_BYTES} a blob request may carry`,
        );
      let made: string;
      try {
        made = await gh.createBlob(await blobBytes(cwd, c.sha));
      } catch (error) {
        throw new VerifiedCommitError(`GitHub refused ${c.path}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (made !== c.sha)
        throw new VerifiedCommitError(`${c.path} came back from GitHub as another blob (${made})`);
      sent.add(c.sha);
    }
    let tree = parentTree;
    for (let i = 0; i < changes.length; i += TREE_BATCH)
      tree = await gh.createTree(tree, changes.slice(i, i + TREE_BATCH));
    const expected = (
      await gitText(cwd, ["rev-parse", `${commit}^{tree}`], "reading the commit's tree")
    ).trim();
    if (tree !== expected)
      throw new VerifiedCommitError(
        `the tree GitHub built for ${commit.slice(0, 12)} (${tree.slice(0, 12)}) is not the checked one (${expected.slice(0, 12)})`,
      );
    const message = withoutCoAuthors(
      await gitText(cwd, ["show", "-s", "--format=%B", commit], "reading the commit"),
    );
    let made;
    try {
      made = await gh.createCommit(message, tree, [parentRemote]);
    } catch (error) {
      throw new VerifiedCommitError(
        `GitHub refused the commit for ${commit.slice(0, 12)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    parentRemote = made.sha;
    parentTree = tree;
  }
  // Replacing a stale attempt's branch is a forced move, which the REST API cannot make
  // conditional: the tip is read again just before, and a branch someone pushed to since is
  // left alone (a fast-forward needs no check: GitHub refuses one from a moved tip).
  const forced = opts.remoteSha !== undefined && opts.remoteSha !== opts.from;
  if (forced && parentRemote !== opts.from) {
    const now = await gh.branchTip(opts.branch);
    if (now !== opts.remoteSha)
      throw new VerifiedCommitError(
        `${opts.branch} moved while the commits were made (now ${now?.slice(0, 12) ?? "gone"}): someone else's push is not replaced`,
      );
  }
  if (parentRemote !== opts.from)
    await gh.moveBranch(opts.branch, parentRemote, {
      ...(opts.remoteSha ? { from: opts.remoteSha } : {}),
      force: forced,
    });
  return { head: parentRemote, commits: list.length, blobs: sent.size };
}
