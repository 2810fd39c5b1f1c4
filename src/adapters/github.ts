// The one door to GitHub: the handful of REST operations the modes use, on the counted,
// retrying client of octokit.ts.
import * as core from "@actions/core";
import { type CallStats, type ClientOptions, createOctokit, type Octokit, statusOf } from "./octokit.js";

export { statusOf, type CallStats, type Octokit } from "./octokit.js";
export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface GitHubOptions extends RepoRef, ClientOptions {
  /** Log writes to issues (labels, comments) instead of making them. */
  dryRun?: boolean;
}

export class GitHub {
  readonly octokit: Octokit;
  readonly stats: CallStats = { byRoute: new Map(), http: 0, retries: 0 };
  readonly owner: string;
  readonly repo: string;
  readonly dryRun: boolean;
  private permissions = new Map<string, Permission>();
  private labelNames: Set<string> | undefined;

  constructor(options: GitHubOptions) {
    this.owner = options.owner;
    this.repo = options.repo;
    this.dryRun = options.dryRun ?? false;
    this.octokit = createOctokit(options, this.stats);
  }

  get calls(): number {
    let total = 0;
    for (const n of this.stats.byRoute.values()) total += n;
    return total;
  }

  // ---- repository and people -------------------------------------------------------------

  async defaultBranch(): Promise<string> {
    const { data } = await this.octokit.rest.repos.get({ owner: this.owner, repo: this.repo });
    return data.default_branch;
  }

  /** The sender's role, read once per login per run; unknown users and errors count as `none`. */
  async permissionOf(login: string): Promise<Permission> {
    const cached = this.permissions.get(login);
    if (cached) return cached;
    let permission: Permission = "none";
    try {
      const { data } = await this.octokit.rest.repos.getCollaboratorPermissionLevel({
        owner: this.owner,
        repo: this.repo,
        username: login,
      });
      const role = (data.role_name ?? data.permission) as string;
      permission = (
        ["admin", "maintain", "write", "triage", "read"].includes(role) ? role : data.permission
      ) as Permission;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    this.permissions.set(login, permission);
    return permission;
  }

  // ---- issues, labels, comments ----------------------------------------------------------

  /** The issue, or undefined when it was deleted or transferred (404/410). */
  async getIssue(issueNumber: number) {
    try {
      const { data } = await this.octokit.rest.issues.get({
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
      });
      return data;
    } catch (error) {
      if ([404, 410].includes(statusOf(error))) return undefined;
      throw error;
    }
  }

  /** Open issues carrying `label`, filtered by GitHub: the cost follows the labeled count only. */
  async listOpenIssuesWithLabel(label: string) {
    return this.octokit.paginate(this.octokit.rest.issues.listForRepo, {
      owner: this.owner,
      repo: this.repo,
      labels: label,
      state: "open",
      per_page: 100,
    });
  }

  private skipWrite(what: string): boolean {
    if (this.dryRun) core.info(`Dry run: would ${what}.`);
    return this.dryRun;
  }

  async addLabels(issueNumber: number, labels: string[]): Promise<void> {
    if (labels.length === 0 || this.skipWrite(`label #${issueNumber} ${labels.join(", ")}`)) return;
    await this.octokit.rest.issues.addLabels({
      owner: this.owner,
      repo: this.repo,
      issue_number: issueNumber,
      labels,
    });
  }

  /** Removing a label that is not there is not an error. */
  async removeLabel(issueNumber: number, name: string): Promise<void> {
    if (this.skipWrite(`remove ${name} from #${issueNumber}`)) return;
    try {
      await this.octokit.rest.issues.removeLabel({
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
        name,
      });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** Creates the labels aegis uses that the repository lacks; one list call when all exist. */
  async ensureLabels(defs: readonly { name: string; color: string; description: string }[]): Promise<void> {
    if (!this.labelNames) {
      const all = await this.octokit.paginate(this.octokit.rest.issues.listLabelsForRepo, {
        owner: this.owner,
        repo: this.repo,
        per_page: 100,
      });
      this.labelNames = new Set(all.map((l) => l.name.toLowerCase()));
    }
    for (const def of defs) {
      if (this.labelNames.has(def.name.toLowerCase()) || this.skipWrite(`create the label ${def.name}`))
        continue;
      try {
        await this.octokit.rest.issues.createLabel({ owner: this.owner, repo: this.repo, ...def });
      } catch (error) {
        if (statusOf(error) !== 422) throw error; // 422: a concurrent run created it first
      }
      this.labelNames.add(def.name.toLowerCase());
    }
  }

  /**
   * Posts a comment, exactly once. A comment is not idempotent: GitHub may answer 5xx (or drop
   * the connection) after it was created, and a blind retry posts it twice. So the first try is
   * not retried by the client; after a failure that may have landed, the issue's newest comments
   * are read back, and one with the very same body, made since the try began (less clock skew), is
   * that comment. Only when none is found is the comment posted again (with retries).
   */
  async createComment(issueNumber: number, body: string): Promise<number> {
    if (this.skipWrite(`comment on #${issueNumber}`)) return 0;
    const params = { owner: this.owner, repo: this.repo, issue_number: issueNumber, body };
    const began = Date.now();
    try {
      const { data } = await this.octokit.rest.issues.createComment({ ...params, request: { retries: 0 } });
      return data.id;
    } catch (error) {
      const status = statusOf(error);
      // Refused outright (4xx, a rate limit answered before the write): nothing landed.
      if (status >= 400 && status < 500) throw error;
      const landed = await this.findOwnComment(issueNumber, body, began);
      if (landed !== undefined) return landed;
      const { data } = await this.octokit.rest.issues.createComment(params);
      return data.id;
    }
  }

  /**
   * A reaction on a conversation comment or an inline review comment. GitHub answers 200 with
   * the existing reaction when the same user reacts twice, so a retry never doubles it.
   */
  async react(
    on: "conversation" | "inline",
    commentId: number,
    content: "eyes" | "+1" | "rocket",
  ): Promise<void> {
    if (this.skipWrite(`react ${content} on comment ${commentId}`)) return;
    const params = { owner: this.owner, repo: this.repo, comment_id: commentId, content };
    if (on === "conversation") await this.octokit.rest.reactions.createForIssueComment(params);
    else await this.octokit.rest.reactions.createForPullRequestReviewComment(params);
  }

  /** A reply in an inline comment's thread; after a lost answer, the reply already there is found. */
  async replyToReviewComment(pr: number, commentId: number, body: string): Promise<number> {
    if (this.skipWrite(`reply on #${pr}`)) return 0;
    const params = { owner: this.owner, repo: this.repo, pull_number: pr, comment_id: commentId, body };
    try {
      const { data } = await this.octokit.rest.pulls.createReplyForReviewComment({
        ...params,
        request: { retries: 0 },
      });
      return data.id;
    } catch (error) {
      const status = statusOf(error);
      if (status >= 400 && status < 500) throw error;
      const { data: thread } = await this.octokit.rest.pulls.listReviewComments({
        owner: this.owner,
        repo: this.repo,
        pull_number: pr,
        per_page: 100,
      });
      const landed = thread.filter((c) => c.in_reply_to_id === commentId && c.body === body).at(-1);
      if (landed) return landed.id;
      const { data } = await this.octokit.rest.pulls.createReplyForReviewComment(params);
      return data.id;
    }
  }

  /** The newest comment on the issue with this body, created since `since` (ms) less clock skew. */
  private async findOwnComment(
    issueNumber: number,
    body: string,
    since: number,
  ): Promise<number | undefined> {
    const { data } = await this.octokit.rest.issues.listComments({
      owner: this.owner,
      repo: this.repo,
      issue_number: issueNumber,
      since: new Date(since - 60_000).toISOString(),
      per_page: 100,
    });
    return data.filter((c) => c.body === body).at(-1)?.id;
  }

  /**
   * Edits the comment carrying `marker` in place, or creates it. A known id skips the search;
   * a deleted comment (404) is recreated rather than lost.
   */
  async upsertComment(
    issueNumber: number,
    marker: string,
    body: string,
    knownId?: number | "none",
  ): Promise<number> {
    const text = body.includes(marker) ? body : `${marker}\n${body}`;
    if (this.skipWrite(`update the comment on #${issueNumber}`))
      return typeof knownId === "number" ? knownId : 0;
    // "none": the caller's record says no such comment exists yet, so there is nothing to find.
    if (knownId === "none") return this.createComment(issueNumber, text);
    let id = knownId;
    if (id === undefined) {
      const comments = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
        per_page: 100,
      });
      id = comments.find((c) => c.body?.includes(marker))?.id;
    }
    if (id !== undefined) {
      try {
        await this.octokit.rest.issues.updateComment({
          owner: this.owner,
          repo: this.repo,
          comment_id: id,
          body: text,
        });
        return id;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    }
    return this.createComment(issueNumber, text);
  }

  /** The comments on an issue or PR (newest 100), with their authors. */
  async listComments(issueNumber: number): Promise<{ author: string; bot: boolean; body: string }[]> {
    const { data } = await this.octokit.rest.issues.listComments({
      owner: this.owner,
      repo: this.repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    return data.map((c) => ({
      author: c.user?.login ?? "",
      bot: c.user?.type === "Bot" || (c.user?.login ?? "").endsWith("[bot]"),
      body: c.body ?? "",
    }));
  }

  /**
   * Comments anywhere in the repository updated since `since`, both kinds — the conversation's
   * (`issues/comments`) and the diff's (`pulls/comments`) — oldest first, at most `pages` pages of
   * 100 each: the sweep's look for commands whose events it missed, two calls however many PRs.
   */
  async commentsSince(
    since: string,
    pages = 5,
  ): Promise<{
    conversation: { id: number; number: number; author: string; bot: boolean; body: string; at: string }[];
    inline: {
      id: number;
      number: number;
      author: string;
      bot: boolean;
      body: string;
      at: string;
      path: string;
      line: number | null;
    }[];
  }> {
    const base = {
      owner: this.owner,
      repo: this.repo,
      since,
      per_page: 100,
      sort: "created" as const,
      direction: "asc" as const,
    };
    const numberOf = (url: string | undefined) => Number(/\/(\d+)$/.exec(url ?? "")?.[1] ?? 0);
    const who = (u: { login?: string; type?: string } | null | undefined) => ({
      author: u?.login ?? "",
      bot: u?.type === "Bot" || (u?.login ?? "").endsWith("[bot]"),
    });
    const conversation = [];
    for (let page = 1; page <= pages; page++) {
      const { data } = await this.octokit.rest.issues.listCommentsForRepo({ ...base, page });
      for (const c of data)
        conversation.push({
          id: c.id,
          number: numberOf(c.issue_url),
          ...who(c.user),
          body: c.body ?? "",
          at: c.created_at,
        });
      if (data.length < 100) break;
    }
    const inline = [];
    for (let page = 1; page <= pages; page++) {
      const { data } = await this.octokit.rest.pulls.listReviewCommentsForRepo({ ...base, page });
      for (const c of data)
        inline.push({
          id: c.id,
          number: numberOf(c.pull_request_url),
          ...who(c.user),
          body: c.body,
          at: c.created_at,
          path: c.path,
          line: c.line ?? null,
        });
      if (data.length < 100) break;
    }
    return { conversation, inline };
  }

  /** Inline review comments on a pull request's diff (the first 100), oldest first. */
  async listReviewComments(
    pr: number,
  ): Promise<{ author: string; bot: boolean; body: string; path: string; line: number | null }[]> {
    const { data } = await this.octokit.rest.pulls.listReviewComments({
      owner: this.owner,
      repo: this.repo,
      pull_number: pr,
      per_page: 100,
    });
    return data.map((c) => ({
      author: c.user?.login ?? "",
      bot: c.user?.type === "Bot" || (c.user?.login ?? "").endsWith("[bot]"),
      body: c.body ?? "",
      path: c.path,
      line: c.line ?? c.original_line ?? null,
    }));
  }

  async deleteComment(commentId: number): Promise<void> {
    if (this.skipWrite(`delete comment ${commentId}`)) return;
    try {
      await this.octokit.rest.issues.deleteComment({
        owner: this.owner,
        repo: this.repo,
        comment_id: commentId,
      });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /**
   * Who last added each label to the issue, from its events. Used when aegis missed the label
   * event itself (a sweep, or approval added before the trigger) and must still know who acted.
   */
  async labelActors(issueNumber: number): Promise<Map<string, { login: string; at: string }>> {
    const actors = new Map<string, { login: string; at: string }>();
    const events = await this.octokit.paginate(this.octokit.rest.issues.listEvents, {
      owner: this.owner,
      repo: this.repo,
      issue_number: issueNumber,
      per_page: 100,
    });
    for (const event of events) {
      const name = (event as { label?: { name?: string } }).label?.name;
      if (!name) continue;
      if (event.event === "labeled" && event.actor)
        actors.set(name.toLowerCase(), { login: event.actor.login, at: event.created_at });
      if (event.event === "unlabeled") actors.delete(name.toLowerCase());
    }
    return actors;
  }

  // ---- pull requests -----------------------------------------------------------------------

  /** The pull request (head, base, state, labels), or undefined when it does not exist (404). */
  async getPull(pullNumber: number) {
    try {
      const { data } = await this.octokit.rest.pulls.get({
        owner: this.owner,
        repo: this.repo,
        pull_number: pullNumber,
      });
      return data;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  // ---- rollback and contention ------------------------------------------------------------

  /**
   * Issues and pull requests carrying `label`, open or closed, updated since `since` (ISO): the
   * issues list filters by label server-side, so the cost follows the labelled count.
   */
  async listLabelled(label: string, since?: string) {
    return this.octokit.paginate(this.octokit.rest.issues.listForRepo, {
      owner: this.owner,
      repo: this.repo,
      labels: label,
      state: "all",
      per_page: 100,
      ...(since ? { since } : {}),
    });
  }

  /** Opens a pull request; undefined in a dry run. */
  async createPull(input: { head: string; base: string; title: string; body: string; draft?: boolean }) {
    if (this.skipWrite(`open a pull request from ${input.head}`)) return undefined;
    const { data } = await this.octokit.rest.pulls.create({ owner: this.owner, repo: this.repo, ...input });
    return { number: data.number, url: data.html_url, base: input.base };
  }

  /** The newest pull request (open or closed) whose head is `branch` in this repository. */
  async findPullByHead(branch: string) {
    const { data } = await this.octokit.rest.pulls.list({
      owner: this.owner,
      repo: this.repo,
      head: `${this.owner}:${branch}`,
      state: "all",
      per_page: 10,
    });
    const pull = data[0];
    return pull
      ? {
          number: pull.number,
          url: pull.html_url,
          state: pull.state,
          headSha: pull.head.sha,
          title: pull.title,
          body: pull.body ?? "",
        }
      : undefined;
  }

  /** Sets a pull request's title and body (a repeat of the same edit changes nothing). */
  async updatePull(pullNumber: number, input: { title: string; body: string }): Promise<void> {
    if (this.skipWrite(`edit pull request #${pullNumber}`)) return;
    await this.octokit.rest.pulls.update({
      owner: this.owner,
      repo: this.repo,
      pull_number: pullNumber,
      ...input,
    });
  }

  /** Paths a pull request changes; a rename counts for both its old and new path. */
  async listPullFiles(pullNumber: number): Promise<string[]> {
    const files = await this.octokit.paginate(this.octokit.rest.pulls.listFiles, {
      owner: this.owner,
      repo: this.repo,
      pull_number: pullNumber,
      per_page: 100,
    });
    return [
      ...new Set(
        files.flatMap((f) => (f.previous_filename ? [f.filename, f.previous_filename] : [f.filename])),
      ),
    ];
  }

  // ---- run mode ------------------------------------------------------------------------------

  /** Closes a pull request (a superseded attempt's); one already closed or gone is not an error. */
  async closePull(pullNumber: number): Promise<void> {
    if (this.skipWrite(`close pull request #${pullNumber}`)) return;
    try {
      await this.octokit.rest.pulls.update({
        owner: this.owner,
        repo: this.repo,
        pull_number: pullNumber,
        state: "closed",
      });
    } catch (error) {
      if (![404, 422].includes(statusOf(error))) throw error;
    }
  }

  /**
   * Asks `logins` to review. A repeat after a landed request asks again, which changes nothing
   * (GitHub keeps one request per reviewer).
   */
  async requestReviewers(pullNumber: number, logins: string[]): Promise<void> {
    if (this.skipWrite(`ask ${logins.join(", ")} to review #${pullNumber}`)) return;
    await this.octokit.rest.pulls.requestReviewers({
      owner: this.owner,
      repo: this.repo,
      pull_number: pullNumber,
      reviewers: logins,
    });
  }

  // ---- verified commits (the Git Data API) ----------------------------------------------------
  // Blobs, trees and commits are content-addressed: a repeat after a landed write makes the same
  // object again and gets the same sha back, so none of them needs recognising.

  async createBlob(content: Buffer): Promise<string> {
    const { data } = await this.octokit.rest.git.createBlob({
      owner: this.owner,
      repo: this.repo,
      content: content.toString("base64"),
      encoding: "base64",
    });
    return data.sha;
  }

  async createTree(
    baseTree: string,
    tree: {
      path: string;
      mode: "100644" | "100755" | "040000" | "160000" | "120000";
      type: "blob" | "tree" | "commit";
      sha: string | null;
    }[],
  ): Promise<string> {
    const { data } = await this.octokit.rest.git.createTree({
      owner: this.owner,
      repo: this.repo,
      base_tree: baseTree,
      tree,
    });
    return data.sha;
  }

  /** A commit without author or committer: GitHub writes the token's identity and signs it. */
  async createCommit(
    message: string,
    tree: string,
    parents: string[],
  ): Promise<{ sha: string; tree: string }> {
    const { data } = await this.octokit.rest.git.createCommit({
      owner: this.owner,
      repo: this.repo,
      message,
      tree,
      parents,
    });
    return { sha: data.sha, tree: data.tree.sha };
  }

  /** The branch's tip, or undefined when there is no such branch. */
  async branchTip(branch: string): Promise<string | undefined> {
    try {
      const { data } = await this.octokit.rest.git.getRef({
        owner: this.owner,
        repo: this.repo,
        ref: `heads/${branch}`,
      });
      return data.object.sha;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Points `branch` at `sha`: created when `from` is undefined, else moved from `from` (a fast
   * forward unless `force`). A repeat after a landed write is recognised by reading the ref back:
   * already at `sha` is success, whatever GitHub answered.
   */
  async moveBranch(branch: string, sha: string, opts: { from?: string; force: boolean }): Promise<void> {
    const ref = `heads/${branch}`;
    try {
      if (opts.from === undefined)
        await this.octokit.rest.git.createRef({
          owner: this.owner,
          repo: this.repo,
          ref: `refs/${ref}`,
          sha,
        });
      else
        await this.octokit.rest.git.updateRef({
          owner: this.owner,
          repo: this.repo,
          ref,
          sha,
          force: opts.force,
        });
    } catch (error) {
      if ((await this.branchTip(branch).catch(() => undefined)) === sha) return;
      throw error;
    }
  }
}
