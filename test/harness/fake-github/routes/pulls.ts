// Pull requests over the real git repository: heads must exist, files come from the real
// three-dot diff, and a merge writes a real merge commit into the base branch (CAS on the ref).
import { type Ctx, type Handler, type Reply, HttpError, bodyObj, json, notFound, paginate } from "../http.js";
import * as render from "../render.js";
import type { IssueRec, PullRec } from "../state.js";
import { react } from "./issues.js";

export type Pull = IssueRec & { pull: PullRec };

function getPull(ctx: Ctx): Pull {
  const i = ctx.store.issues.get(Number(ctx.params.pull_number));
  if (!i || !i.pull || i.deleted) throw notFound();
  return i as Pull;
}

/** `owner:branch` or `branch`; only this repository's owner is served. */
function branchOf(ctx: Ctx, head: string): string | null {
  const i = head.indexOf(":");
  if (i < 0) return head;
  return head.slice(0, i) === ctx.site.owner ? head.slice(i + 1) : null;
}

async function headSha(ctx: Ctx, p: Pull): Promise<string> {
  return (await ctx.repo.refSha(`refs/heads/${p.pull.head}`)) ?? p.pull.lastHeadSha ?? "";
}

function invalid(field: string): HttpError {
  return new HttpError(422, "Validation Failed", [{ resource: "PullRequest", field, code: "invalid" }]);
}

function custom(message: string): HttpError {
  return new HttpError(422, "Validation Failed", [
    { resource: "PullRequest", code: "custom", field: "", message },
  ]);
}

export async function renderPull(ctx: Ctx, p: Pull, full: boolean): Promise<Record<string, unknown>> {
  const site = ctx.site;
  const api = `${render.repoApi(site)}/pulls/${p.number}`;
  const issueView = render.issue(site, ctx.store, p);
  const repoView = render.repository(site, ctx.defaultBranch, p.createdAt, "read");
  delete repoView.permissions;
  const hSha = await headSha(ctx, p);
  const bSha = (await ctx.repo.refSha(`refs/heads/${p.pull.base}`)) ?? "";
  const side = (ref: string, sha: string) => ({
    label: `${site.owner}:${ref}`,
    ref,
    sha,
    user: render.user(site, site.owner),
    repo: repoView,
  });
  const link = (href: string) => ({ href });
  const body: Record<string, unknown> = {
    ...issueView,
    url: api,
    node_id: `PR_${p.id}`,
    html_url: `${render.repoHtml(site)}/pull/${p.number}`,
    diff_url: `${render.repoHtml(site)}/pull/${p.number}.diff`,
    patch_url: `${render.repoHtml(site)}/pull/${p.number}.patch`,
    issue_url: `${render.repoApi(site)}/issues/${p.number}`,
    commits_url: `${api}/commits`,
    review_comments_url: `${api}/comments`,
    review_comment_url: `${render.repoApi(site)}/pulls/comments{/number}`,
    comments_url: `${render.repoApi(site)}/issues/${p.number}/comments`,
    statuses_url: `${render.repoApi(site)}/statuses/${hSha}`,
    merged_at: p.pull.mergedAt,
    merge_commit_sha: p.pull.mergeCommitSha,
    requested_reviewers: (p.pull.reviewers ?? []).map((login) => render.user(site, login)),
    requested_teams: [],
    head: side(p.pull.head, hSha),
    base: side(p.pull.base, bSha),
    _links: {
      self: link(api),
      html: link(`${render.repoHtml(site)}/pull/${p.number}`),
      issue: link(`${render.repoApi(site)}/issues/${p.number}`),
      comments: link(`${render.repoApi(site)}/issues/${p.number}/comments`),
      review_comments: link(`${api}/comments`),
      review_comment: link(`${render.repoApi(site)}/pulls/comments{/number}`),
      commits: link(`${api}/commits`),
      statuses: link(`${render.repoApi(site)}/statuses/${hSha}`),
    },
    auto_merge: null,
    draft: p.pull.draft,
  };
  delete body.pull_request;
  delete body.comments;
  delete body.closed_by;
  delete body.state_reason;
  delete body.reactions;
  if (!full) return body;
  const files = hSha && bSha ? await ctx.repo.diffFiles(bSha, hSha) : [];
  const commits = hSha && bSha ? await ctx.repo.commitsBetween(bSha, hSha) : [];
  return {
    ...body,
    merged: p.pull.merged,
    mergeable: p.state === "open" ? true : null,
    rebaseable: p.state === "open" ? true : null,
    mergeable_state: p.state === "open" ? "clean" : "unknown",
    merged_by: p.pull.mergedBy ? render.user(site, p.pull.mergedBy) : null,
    comments: ctx.store.commentsOf(p.number).length,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: p.pull.merged ? 0 : commits.length,
    additions: files.reduce((n, f) => n + f.additions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    changed_files: files.length,
  };
}

async function create(ctx: Ctx): Promise<Reply> {
  const b = bodyObj(ctx);
  const head = branchOf(ctx, String(b.head ?? "")) ?? "";
  const base = String(b.base ?? "");
  const hSha = head ? await ctx.repo.refSha(`refs/heads/${head}`) : null;
  if (!hSha) throw invalid("head");
  const bSha = await ctx.repo.refSha(`refs/heads/${base}`);
  if (!bSha) throw invalid("base");
  for (const i of ctx.store.issues.values()) {
    if (i.pull && i.state === "open" && i.pull.head === head && i.pull.base === base) {
      throw custom(`A pull request already exists for ${ctx.site.owner}:${head}.`);
    }
  }
  if ((await ctx.repo.commitsBetween(bSha, hSha)).length === 0)
    throw custom(`No commits between ${base} and ${head}`);
  const now = ctx.store.clock.now();
  const p: Pull = {
    number: ctx.store.issueNumber(),
    id: ctx.store.id(),
    title: String(b.title ?? head),
    body: typeof b.body === "string" ? b.body : null,
    state: "open",
    stateReason: null,
    labels: [],
    assignees: [],
    user: ctx.actor,
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    closedBy: null,
    locked: false,
    deleted: false,
    pull: {
      head,
      base,
      draft: b.draft === true,
      merged: false,
      mergedAt: null,
      mergeCommitSha: null,
      mergedBy: null,
      lastHeadSha: hSha,
    },
  };
  ctx.store.issues.set(p.number, p);
  return json(201, await renderPull(ctx, p, true), {
    location: `${render.repoApi(ctx.site)}/pulls/${p.number}`,
  });
}

async function list(ctx: Ctx): Promise<Reply> {
  const q = ctx.query;
  const state = q.state ?? "open";
  const headFilter = q.head ? branchOf(ctx, q.head) : undefined;
  const pulls = [...ctx.store.issues.values()]
    .filter((i): i is Pull => i.pull !== undefined && !i.deleted)
    .filter(
      (p) =>
        (state === "all" || p.state === state) &&
        (headFilter === undefined || p.pull.head === headFilter) &&
        (!q.base || p.pull.base === q.base),
    )
    .sort((a, b) => (q.direction === "asc" ? a.number - b.number : b.number - a.number));
  const { page, headers } = paginate(ctx, pulls);
  return json(
    200,
    await Promise.all(page.map(async (p) => simpleLabels(await renderPull(ctx, p, false)))),
    headers,
  );
}

/**
 * pull-request-simple (the list's and the review request's answer) types a label's description
 * as a string, where GitHub sends null for a label made without one: "" keeps the answer valid.
 */
function simpleLabels(body: Record<string, unknown>): Record<string, unknown> {
  return {
    ...body,
    labels: ((body.labels ?? []) as Record<string, unknown>[]).map((l) => ({
      ...l,
      description: l.description ?? "",
    })),
  };
}

async function update(ctx: Ctx): Promise<Reply> {
  const p = getPull(ctx);
  const b = bodyObj(ctx);
  if (typeof b.title === "string") p.title = b.title;
  if ("body" in b) p.body = typeof b.body === "string" ? b.body : null;
  if (typeof b.base === "string") {
    if (!(await ctx.repo.refSha(`refs/heads/${b.base}`))) throw invalid("base");
    p.pull.base = b.base;
  }
  if (b.state === "closed" && p.state === "open") {
    p.pull.lastHeadSha = await headSha(ctx, p);
    p.state = "closed";
    p.closedAt = ctx.store.clock.now();
    p.closedBy = ctx.actor;
    ctx.store.event(p.number, "closed", ctx.actor);
  } else if (b.state === "open" && p.state === "closed") {
    if (p.pull.merged) throw custom("state cannot be changed. The pull request has been merged.");
    p.state = "open";
    p.closedAt = null;
    p.closedBy = null;
  }
  p.updatedAt = ctx.store.clock.now();
  return json(200, await renderPull(ctx, p, true));
}

async function merge(ctx: Ctx): Promise<Reply> {
  const p = getPull(ctx);
  const b = bodyObj(ctx);
  if (p.pull.merged || p.state !== "open") throw new HttpError(405, "Pull Request is not mergeable");
  const baseRef = `refs/heads/${p.pull.base}`;
  return ctx.repo.locks.run(baseRef, async () => {
    const hSha = await headSha(ctx, p);
    if (typeof b.sha === "string" && b.sha !== hSha)
      throw new HttpError(409, "Head branch was modified. Review and try the merge again.");
    const bSha = await ctx.repo.refSha(baseRef);
    if (!bSha) throw new HttpError(404, "Base branch not found");
    const title =
      typeof b.commit_title === "string"
        ? b.commit_title
        : `Merge pull request #${p.number} from ${ctx.site.owner}/${p.pull.head}`;
    const message = `${title}\n\n${typeof b.commit_message === "string" ? b.commit_message : p.title}\n`;
    let sha = await ctx.repo.mergeCommit(bSha, hSha, message);
    if (!sha) throw new HttpError(405, "Merge conflict");
    if (b.merge_method === "squash") {
      const info = await ctx.repo.commitInfo(sha);
      sha = await ctx.repo.out(["commit-tree", info?.tree ?? "", "-p", bSha], { input: message });
    }
    if (!(await ctx.repo.casRef(baseRef, sha, bSha)))
      throw new HttpError(409, "Base branch was modified. Review and try the merge again.");
    const now = ctx.store.clock.now();
    Object.assign(p.pull, {
      merged: true,
      mergedAt: now,
      mergeCommitSha: sha,
      mergedBy: ctx.actor,
      lastHeadSha: hSha,
    });
    Object.assign(p, { state: "closed", closedAt: now, closedBy: ctx.actor, updatedAt: now });
    ctx.store.event(p.number, "merged", ctx.actor);
    ctx.store.event(p.number, "closed", ctx.actor);
    return json(200, { sha, merged: true, message: "Pull Request successfully merged" });
  });
}

/** GitHub asks only collaborators, never the pull request's own author. */
async function requestReviewers(ctx: Ctx): Promise<Reply> {
  const p = getPull(ctx);
  const b = bodyObj(ctx);
  const logins = Array.isArray(b.reviewers) ? b.reviewers.map(String) : [];
  for (const login of logins) {
    if (login === p.user) throw new HttpError(422, "Review cannot be requested from pull request author.");
    const role = ctx.store.users.get(login) ?? "none";
    if (role === "none")
      throw new HttpError(
        422,
        "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the repository.",
      );
  }
  p.pull.reviewers = [...new Set([...(p.pull.reviewers ?? []), ...logins])];
  return json(201, simpleLabels(await renderPull(ctx, p, false)));
}

export const pullHandlers: Record<string, Handler> = {
  "pulls/list-review-comments-for-repo": (ctx) => {
    const since = ctx.query.since ? Date.parse(ctx.query.since) : undefined;
    const all = [...ctx.store.reviewComments.values()]
      .filter((c) => since === undefined || Date.parse(c.createdAt) >= since)
      .sort((a, b) => a.id - b.id);
    if (ctx.query.direction === "desc") all.reverse();
    const { page, headers } = paginate(ctx, all);
    return json(
      200,
      page.map((c) => render.reviewComment(ctx.site, ctx.store, c)),
      headers,
    );
  },
  "pulls/list-review-comments": (ctx) => {
    const p = getPull(ctx);
    const all = [...ctx.store.reviewComments.values()]
      .filter((c) => c.pull === p.number)
      .sort((a, b) => a.id - b.id);
    const { page, headers } = paginate(ctx, all);
    return json(
      200,
      page.map((c) => render.reviewComment(ctx.site, ctx.store, c)),
      headers,
    );
  },
  "reactions/create-for-pull-request-review-comment": (ctx) => {
    const c = ctx.store.reviewComments.get(Number(ctx.params.comment_id));
    if (!c) throw notFound();
    return react(ctx, "review-comment", c.id);
  },
  "pulls/create-reply-for-review-comment": async (ctx) => {
    const p = getPull(ctx);
    const parent = ctx.store.reviewComments.get(Number(ctx.params.comment_id));
    if (!parent || parent.pull !== p.number) throw notFound();
    const c = {
      id: ctx.store.id(),
      pull: p.number,
      path: parent.path,
      line: parent.line,
      body: String(bodyObj(ctx).body ?? ""),
      user: ctx.actor,
      commitId: await headSha(ctx, p),
      createdAt: ctx.store.clock.now(),
      inReplyTo: parent.inReplyTo ?? parent.id,
    };
    ctx.store.reviewComments.set(c.id, c);
    return json(201, render.reviewComment(ctx.site, ctx.store, c));
  },
  "pulls/request-reviewers": requestReviewers,
  "pulls/create": create,
  "pulls/list": list,
  "pulls/get": async (ctx) => json(200, await renderPull(ctx, getPull(ctx), true)),
  "pulls/update": update,
  "pulls/list-files": async (ctx) => {
    const p = getPull(ctx);
    const bSha = p.pull.merged
      ? ((await ctx.repo.commitInfo(p.pull.mergeCommitSha ?? ""))?.parents[0] ?? "")
      : await ctx.repo.refSha(`refs/heads/${p.pull.base}`);
    const files = bSha ? await ctx.repo.diffFiles(bSha, await headSha(ctx, p)) : [];
    const { page, headers } = paginate(ctx, files);
    return json(
      200,
      page.map((f) => diffEntry(ctx, f)),
      headers,
    );
  },
  "pulls/check-if-merged": (ctx) => {
    if (!getPull(ctx).pull.merged) throw notFound();
    return { status: 204 };
  },
  "pulls/merge": merge,
};

export function diffEntry(
  ctx: Ctx,
  f: Awaited<ReturnType<Ctx["repo"]["diffFiles"]>>[number],
): Record<string, unknown> {
  const api = render.repoApi(ctx.site);
  return {
    sha: f.sha,
    filename: f.filename,
    status: f.status,
    additions: f.additions,
    deletions: f.deletions,
    changes: f.additions + f.deletions,
    blob_url: `${render.repoHtml(ctx.site)}/blob/${f.sha}/${f.filename}`,
    raw_url: `${render.repoHtml(ctx.site)}/raw/${f.sha}/${f.filename}`,
    contents_url: `${api}/contents/${f.filename}`,
    patch: f.patch,
    ...(f.previousFilename ? { previous_filename: f.previousFilename } : {}),
  };
}
