// Repository labels and labels on issues/PRs. Names match case-insensitively, like GitHub.
import { type Ctx, type Handler, type Reply, HttpError, bodyObj, json, paginate } from "../http.js";
import * as render from "../render.js";
import type { LabelRec } from "../state.js";
import { getIssue, labelNamesFrom, setLabels } from "./issues.js";

function findOr404(ctx: Ctx, name: string | undefined): LabelRec {
  const l = ctx.store.findLabel(name ?? "");
  if (!l) throw new HttpError(404, "Not Found");
  return l;
}

function color(v: unknown): string {
  return typeof v === "string" ? v.replace(/^#/, "").toLowerCase() : "ededed";
}

function issueLabels(ctx: Ctx, n: number): Reply {
  const i = getIssue(ctx, String(n));
  const labels = i.labels.map((id) => ctx.store.labels.get(id)).filter((l): l is LabelRec => l !== undefined);
  return json(
    200,
    labels.map((l) => render.label(ctx.site, l)),
  );
}

/** `{labels:[...]}`, a bare array, or `{labels:[{name}]}`; an empty list is a 422 like GitHub. */
function requestedLabels(ctx: Ctx, allowEmpty: boolean): string[] {
  const raw = Array.isArray(ctx.body) ? ctx.body : bodyObj(ctx).labels;
  const names = labelNamesFrom(raw);
  if (!allowEmpty && names.length === 0) {
    throw new HttpError(
      422,
      'Invalid request.\n\nNo subschema in "anyOf" matched.\n"labels" wasn\'t supplied.',
      [{ resource: "Label", field: "labels", code: "missing_field" }],
    );
  }
  return names;
}

export const labelHandlers: Record<string, Handler> = {
  "issues/list-labels-for-repo": (ctx) => {
    const { page, headers } = paginate(
      ctx,
      [...ctx.store.labels.values()].sort((a, b) => a.name.localeCompare(b.name)),
    );
    return json(
      200,
      page.map((l) => render.label(ctx.site, l)),
      headers,
    );
  },
  "issues/create-label": (ctx) => {
    const b = bodyObj(ctx);
    const name = String(b.name ?? "");
    if (ctx.store.findLabel(name)) {
      throw new HttpError(422, "Validation Failed", [
        { resource: "Label", field: "name", code: "already_exists" },
      ]);
    }
    const rec: LabelRec = {
      id: ctx.store.id(),
      name,
      color: color(b.color),
      description: typeof b.description === "string" ? b.description : null,
      default: false,
    };
    ctx.store.labels.set(rec.id, rec);
    return json(201, render.label(ctx.site, rec), {
      location: `${render.repoApi(ctx.site)}/labels/${encodeURIComponent(name)}`,
    });
  },
  "issues/get-label": (ctx) => json(200, render.label(ctx.site, findOr404(ctx, ctx.params.name))),
  "issues/update-label": (ctx) => {
    const l = findOr404(ctx, ctx.params.name);
    const b = bodyObj(ctx);
    if (typeof b.new_name === "string") {
      const clash = ctx.store.findLabel(b.new_name);
      if (clash && clash.id !== l.id)
        throw new HttpError(422, "Validation Failed", [
          { resource: "Label", field: "name", code: "already_exists" },
        ]);
      l.name = b.new_name;
    }
    if (b.color !== undefined) l.color = color(b.color);
    if (b.description !== undefined) l.description = typeof b.description === "string" ? b.description : null;
    return json(200, render.label(ctx.site, l));
  },
  "issues/delete-label": (ctx) => {
    const l = findOr404(ctx, ctx.params.name);
    ctx.store.labels.delete(l.id);
    for (const i of ctx.store.issues.values()) i.labels = i.labels.filter((id) => id !== l.id);
    return { status: 204 };
  },
  "issues/list-labels-on-issue": (ctx) => issueLabels(ctx, Number(ctx.params.issue_number)),
  "issues/add-labels": (ctx) => {
    const i = getIssue(ctx, ctx.params.issue_number);
    setLabels(ctx, i, [...ctx.store.labelNames(i), ...requestedLabels(ctx, false)]);
    return issueLabels(ctx, i.number);
  },
  "issues/set-labels": (ctx) => {
    const i = getIssue(ctx, ctx.params.issue_number);
    setLabels(ctx, i, requestedLabels(ctx, true));
    return issueLabels(ctx, i.number);
  },
  "issues/remove-all-labels": (ctx) => {
    setLabels(ctx, getIssue(ctx, ctx.params.issue_number), []);
    return { status: 204 };
  },
  "issues/remove-label": (ctx) => {
    const i = getIssue(ctx, ctx.params.issue_number);
    const l = ctx.store.findLabel(ctx.params.name ?? "");
    if (!l || !i.labels.includes(l.id)) throw new HttpError(404, "Label does not exist");
    setLabels(
      ctx,
      i,
      ctx.store.labelNames(i).filter((n) => n !== l.name),
    );
    return issueLabels(ctx, i.number);
  },
};
