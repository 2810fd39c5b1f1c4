/**
 * The agent's commits as aegis publishes them, in either push mode: the same trees (what the
 * pre-push checks read), each message cleaned of closing keywords for other issues and of
 * co-author trailers (core/commit-message.ts), and aegis's identity as author and committer —
 * the agent picks its git identity, and a plain push would otherwise publish a maintainer's name
 * on the agent's work. The agent's dates are kept, so the same commits always map to the same
 * new ones (a retried run publishes the very same shas), and a commit that needs no change keeps
 * its own sha.
 */
import { publishedMessage, withoutCoAuthors, withoutForeignClosers } from "../core/commit-message.js";
import { GIT_EMAIL, GIT_NAME, runGit } from "./git.js";

export interface Republished {
  head: string;
  /** Commits whose message or identity changed. */
  rewritten: number;
  /** Messages that lost a closing keyword. */
  closersRemoved: number;
}

export async function republishCommits(
  cwd: string,
  from: string,
  head: string,
  ownIssue: number,
): Promise<Republished> {
  const list = (
    await runGit(
      cwd,
      ["rev-list", "--reverse", "--topo-order", "--parents", `${from}..${head}`],
      "git rev-list",
    )
  )
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split(" "));
  const mapped = new Map<string, string>();
  let rewritten = 0;
  let closersRemoved = 0;
  for (const [commit, ...parents] of list as [string, ...string[]][]) {
    const raw = await runGit(
      cwd,
      ["log", "-1", "--format=%T%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", commit],
      "git log",
    );
    const [tree, an, ae, aDate, cn, ce, cDate, ...rest] = raw.split("\0");
    const message = rest.join("\0").replace(/\n$/, "");
    const wanted = publishedMessage(message, ownIssue);
    const newParents = parents.map((p) => mapped.get(p) ?? p);
    const same =
      wanted.trimEnd() === message.trimEnd() &&
      an === GIT_NAME &&
      cn === GIT_NAME &&
      ae === GIT_EMAIL &&
      ce === GIT_EMAIL &&
      newParents.every((p, i) => p === parents[i]);
    if (same) {
      mapped.set(commit, commit);
      continue;
    }
    const uncredited = withoutCoAuthors(message);
    if (withoutForeignClosers(uncredited, ownIssue) !== uncredited) closersRemoved++;
    const made = await runGit(
      cwd,
      ["commit-tree", tree!, ...newParents.flatMap((p) => ["-p", p]), "-F", "-"],
      "git commit-tree",
      {
        input: wanted.endsWith("\n") ? wanted : `${wanted}\n`,
        env: {
          GIT_AUTHOR_NAME: GIT_NAME,
          GIT_AUTHOR_EMAIL: GIT_EMAIL,
          GIT_COMMITTER_NAME: GIT_NAME,
          GIT_COMMITTER_EMAIL: GIT_EMAIL,
          GIT_AUTHOR_DATE: aDate ?? "",
          GIT_COMMITTER_DATE: cDate ?? "",
        },
      },
    );
    mapped.set(commit, made.trim());
    rewritten++;
  }
  return { head: mapped.get(head) ?? head, rewritten, closersRemoved };
}
