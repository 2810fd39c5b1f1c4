// Issues, issue comments and issue events. PRs are issues too (shared number sequence), so
// list and get return them with a `pull_request` key, like GitHub.
import { type Ctx, type Handler, type Reply, HttpError, bodyObj, json, notFound, paginate } from "../http.js";
import * as render from "../render.js";
import type { IssueRec, ReactionRec } from "../state.js";

/** 404 for a number never used, 410 for a deleted issue (the spec documents 410 on issue reads). */
export function getIssue(ctx: Ctx, number: string | undefined): IssueRec {
  const i = ctx.store.issues.get(Number(number));
  if (!i) throw notFound();
  if (i.deleted) throw new HttpError(410, "This issue was deleted");
  return i;
}

/** Label names from `["a"]` or `[{name:"a"}]`, as the spec allows both. */
export function labelNamesFrom(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v
    .map((x: unknown) =>
      typeof x === "string" ? x : x && typeof x === "object" ? (x as { name?: unknown }).name : undefined,
    )
    .filter((x): x is string => typeof x === "string");
}

export function setLabels(ctx: Ctx, i: IssueRec, names: string[]): void {
  const next = [...new Set(names.map((n) => ctx.store.ensureLabel(n).id))];
  for (const id of i.labels)
    if (!next.includes(id)) ctx.store.event(i.number, "unlabeled", ctx.actor, ctx.store.labels.get(id));
  for (const id of next)
    if (!i.labels.includes(id)) ctx.store.event(i.number, "labeled", ctx.actor, ctx.store.labels.get(id));
  i.labels = next;
  i.updatedAt = ctx.store.clock.now();
}

function setState(ctx: Ctx, i: IssueRec, state: unknown, reason: unknown): void {
  if (state === "closed" && i.state === "open") {
    i.state = "closed";
    i.closedAt = ctx.store.clock.now();
    i.closedBy = ctx.actor;
    i.stateReason = reason === "not_planned" || reason === "duplicate" ? reason : "completed";
    ctx.store.event(i.number, "closed", ctx.actor);
  } else if (state === "open" && i.state === "closed") {
    if (i.pull?.merged)
      throw new HttpError(422, "Validation Failed", [
        {
          resource: "Issue",
          field: "state",
          code: "invalid",
          message: "state cannot be changed. The pull request has been merged.",
        },
      ]);
    i.state = "open";
    i.closedAt = null;
    i.closedBy = null;
    i.stateReason = "reopened";
    ctx.store.event(i.number, "reopened", ctx.actor);
  } else if (state === "closed" && typeof reason === "string") {
    i.stateReason = reason as IssueRec["stateReason"];
  }
}

function list(ctx: Ctx): Reply {
  const q = ctx.query;
  const state = q.state ?? "open";
  const wanted = (q.labels ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const since = q.since ? Date.parse(q.since) : undefined;
  let items = [...ctx.store.issues.values()].filter((i) => {
    if (i.deleted) return false;
    if (state !== "all" && i.state !== state) return false;
    const names = ctx.store.labelNames(i).map((n) => n.toLowerCase());
    if (!wanted.every((w) => names.includes(w))) return false;
    if (since !== undefined && Date.parse(i.updatedAt) < since) return false;
    if (q.creator && i.user !== q.creator) return false;
    if (q.assignee === "none" && i.assignees.length > 0) return false;
    if (q.assignee && q.assignee !== "*" && q.assignee !== "none" && !i.assignees.includes(q.assignee))
      return false;
    return true;
  });
  const sort = q.sort ?? "created";
  const key = (i: IssueRec): number =>
    sort === "updated"
      ? Date.parse(i.updatedAt)
      : sort === "comments"
        ? ctx.store.commentsOf(i.number).length
        : i.number;
  const dir = q.direction === "asc" ? 1 : -1;
  items = items.sort((a, b) => (key(a) - key(b) || a.number - b.number) * dir);
  const { page, headers } = paginate(ctx, items);
  return json(
    200,
    page.map((i) => render.issue(ctx.site, ctx.store, i)),
    headers,
  );
}

function create(ctx: Ctx): Reply {
  const b = bodyObj(ctx);
  const now = ctx.store.clock.now();
  const i: IssueRec = {
    number: ctx.store.issueNumber(),
    id: ctx.store.id(),
    title: String(b.title),
    body: typeof b.body === "string" ? b.body : null,
    state: "open",
    stateReason: null,
    labels: [],
    assignees: Array.isArray(b.assignees)
      ? b.assignees.filter((a): a is string => typeof a === "string")
      : [],
    user: ctx.actor,
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    closedBy: null,
    locked: false,
    deleted: false,
  };
  ctx.store.issues.set(i.number, i);
  setLabels(ctx, i, labelNamesFrom(b.labels));
  return json(201, render.issue(ctx.site, ctx.store, i), {
    location: `${render.repoApi(ctx.site)}/issues/${i.number}`,
  });
}

function update(ctx: Ctx): Reply {
  const i = getIssue(ctx, ctx.params.issue_number);
  const b = bodyObj(ctx);
  if (typeof b.title === "string") i.title = b.title;
  if ("body" in b) i.body = typeof b.body === "string" ? b.body : null;
  if (Array.isArray(b.assignees)) i.assignees = b.assignees.filter((a): a is string => typeof a === "string");
  if (Array.isArray(b.labels)) setLabels(ctx, i, labelNamesFrom(b.labels));
  if ("state" in b || "state_reason" in b) setState(ctx, i, b.state ?? i.state, b.state_reason);
  i.updatedAt = ctx.store.clock.now();
  return json(200, render.issue(ctx.site, ctx.store, i));
}

function getComment(ctx: Ctx): NonNullable<ReturnType<typeof ctx.store.comments.get>> {
  const c = ctx.store.comments.get(Number(ctx.params.comment_id));
  if (!c) throw notFound();
  return c;
}

export const issueHandlers: Record<string, Handler> = {
  "issues/list-for-repo": list,
  "issues/create": create,
  "issues/get": (ctx) => json(200, render.issue(ctx.site, ctx.store, getIssue(ctx, ctx.params.issue_number))),
  "issues/update": update,
  // Every issue's and PR's conversation comments, `since` by update time, oldest first by default.
  "issues/list-comments-for-repo": (ctx) => {
    const since = ctx.query.since ? Date.parse(ctx.query.since) : undefined;
    const all = [...ctx.store.comments.values()]
      .filter((c) => since === undefined || Date.parse(c.updatedAt) >= since)
      .sort((a, b) => a.id - b.id);
    if (ctx.query.direction === "desc") all.reverse();
    const { page, headers } = paginate(ctx, all);
    return json(
      200,
      page.map((c) => render.comment(ctx.site, ctx.store, c)),
      headers,
    );
  },
  "issues/list-comments": (ctx) => {
    const i = getIssue(ctx, ctx.params.issue_number);
    const since = ctx.query.since ? Date.parse(ctx.query.since) : undefined;
    const all = ctx.store
      .commentsOf(i.number)
      .filter((c) => since === undefined || Date.parse(c.updatedAt) >= since);
    const { page, headers } = paginate(ctx, all);
    return json(
      200,
      page.map((c) => render.comment(ctx.site, ctx.store, c)),
      headers,
    );
  },
  "issues/create-comment": (ctx) => {
    const i = getIssue(ctx, ctx.params.issue_number);
    const body = String(bodyObj(ctx).body ?? "");
    if (body.length > 65536)
      throw new HttpError(422, "Validation Failed", [
        {
          resource: "IssueComment",
          field: "body",
          code: "custom",
          message: "body is too long (maximum is 65536 characters)",
        },
      ]);
    const now = ctx.store.clock.now();
    const c = { id: ctx.store.id(), issue: i.number, body, user: ctx.actor, createdAt: now, updatedAt: now };
    ctx.store.comments.set(c.id, c);
    i.updatedAt = now;
    return json(201, render.comment(ctx.site, ctx.store, c), {
      location: `${render.repoApi(ctx.site)}/issues/comments/${c.id}`,
    });
  },
  // 201 for a new reaction, 200 with the existing one when the same user reacts the same way again.
  "reactions/create-for-issue-comment": (ctx) => react(ctx, "issue-comment", getComment(ctx).id),
  "issues/get-comment": (ctx) => json(200, render.comment(ctx.site, ctx.store, getComment(ctx))),
  "issues/update-comment": (ctx) => {
    const c = getComment(ctx);
    c.body = String(bodyObj(ctx).body ?? "");
    c.updatedAt = ctx.store.clock.now();
    return json(200, render.comment(ctx.site, ctx.store, c));
  },
  "issues/delete-comment": (ctx) => {
    ctx.store.comments.delete(getComment(ctx).id);
    return { status: 204 };
  },
  "issues/list-events": (ctx) => {
    const i = getIssue(ctx, ctx.params.issue_number);
    const { page, headers } = paginate(
      ctx,
      ctx.store.events.filter((e) => e.issue === i.number),
    );
    return json(
      200,
      page.map((e) => render.labeledEvent(ctx.site, e)),
      headers,
    );
  },
};

export function react(ctx: Ctx, subject: ReactionRec["subject"], commentId: number): Reply {
  const content = String(bodyObj(ctx).content ?? "");
  const found = ctx.store.reactions.find(
    (r) =>
      r.subject === subject && r.commentId === commentId && r.user === ctx.actor && r.content === content,
  );
  if (found) return json(200, render.reaction(ctx.site, found));
  const r: ReactionRec = {
    id: ctx.store.id(),
    subject,
    commentId,
    user: ctx.actor,
    content,
    createdAt: ctx.store.clock.now(),
  };
  ctx.store.reactions.push(r);
  return json(201, render.reaction(ctx.site, r));
}
