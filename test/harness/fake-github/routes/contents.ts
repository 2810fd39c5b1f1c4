// Contents API over the real repository. Writes are real commits made with plumbing under the
// branch lock, then a CAS on the ref; a stale blob `sha` is a 409 and a missing one a 422.
import { type Ctx, type Handler, type Reply, HttpError, bodyObj, json, notFound } from "../http.js";
import * as render from "../render.js";
import { gitCommitBody } from "./git-data.js";

/** Files above this size come back with empty content and `encoding: "none"`, like GitHub. */
const MAX_INLINE = 1024 * 1024;

function fileBody(
  ctx: Ctx,
  filePath: string,
  sha: string,
  ref: string,
  data: Buffer | null,
): Record<string, unknown> {
  const api = render.repoApi(ctx.site);
  const html = `${render.repoHtml(ctx.site)}/blob/${ref}/${filePath}`;
  const self = `${api}/contents/${filePath}?ref=${encodeURIComponent(ref)}`;
  const gitUrl = `${api}/git/blobs/${sha}`;
  const body: Record<string, unknown> = {
    type: "file",
    name: filePath.split("/").pop() ?? filePath,
    path: filePath,
    sha,
    size: data?.length ?? 0,
    url: self,
    html_url: html,
    git_url: gitUrl,
    download_url: `${ctx.site.url}/raw/${ctx.site.owner}/${ctx.site.repo}/${ref}/${filePath}`,
    _links: { self, git: gitUrl, html },
  };
  if (data) {
    const inline = data.length <= MAX_INLINE;
    body.encoding = inline ? "base64" : "none";
    body.content = inline ? (data.toString("base64").match(/.{1,60}/g) ?? []).join("\n") : "";
  }
  return body;
}

async function branchHead(ctx: Ctx, branch: string): Promise<string> {
  const sha = await ctx.repo.refSha(`refs/heads/${branch}`);
  if (!sha) throw new HttpError(404, `Branch ${branch} not found`);
  return sha;
}

async function getContent(ctx: Ctx): Promise<Reply> {
  const filePath = (ctx.params.path ?? "").replace(/^\/+|\/+$/g, "");
  const ref = ctx.query.ref ?? ctx.defaultBranch;
  const commit = await ctx.repo.resolve(ref);
  if (!commit) throw new HttpError(404, `No commit found for the ref ${ref}`);
  const hit = filePath ? await ctx.repo.objectAt(commit, filePath) : null;
  if (hit?.type === "blob") {
    const { sha: blob, data } = hit;
    if (/application\/vnd\.github(\.v3)?\.raw/.test(ctx.headers.accept ?? "")) {
      return {
        status: 200,
        raw: data,
        headers: { "content-type": "application/vnd.github.raw; charset=utf-8" },
      };
    }
    return json(200, fileBody(ctx, filePath, blob, ref, data));
  }
  if (filePath === "" || hit?.type === "tree") {
    const ls = await ctx.repo.out(["ls-tree", "-z", "-l", filePath ? `${commit}:${filePath}` : commit]);
    const entries = ls
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const m = /^\d+ (\w+) ([0-9a-f]+)\s+(\S+)\t(.*)$/.exec(line);
        const [type = "blob", sha = "", size = "0", name = ""] = m ? m.slice(1) : [];
        const p = filePath ? `${filePath}/${name}` : name;
        const body = fileBody(ctx, p, sha, ref, null);
        return {
          ...body,
          type: type === "tree" ? "dir" : "file",
          size: Number(size) || 0,
          ...(type === "tree" ? { download_url: null } : {}),
        };
      });
    return json(200, entries);
  }
  throw notFound();
}

async function writeContent(ctx: Ctx, remove: boolean): Promise<Reply> {
  const filePath = (ctx.params.path ?? "").replace(/^\/+/, "");
  const b = bodyObj(ctx);
  const branch = typeof b.branch === "string" ? b.branch : ctx.defaultBranch;
  const ref = `refs/heads/${branch}`;
  const given = typeof b.sha === "string" ? b.sha : undefined;
  // Fast path without the lock: a stale sha fails now instead of queueing behind the writers.
  const peek = await ctx.repo.refSha(ref);
  if (peek && given !== undefined) {
    const now = await ctx.repo.blobAt(peek, filePath);
    if (now && now !== given) throw new HttpError(409, `${filePath} does not match ${given}`);
  }
  return ctx.repo.locks.run(ref, async () => {
    const head = await branchHead(ctx, branch);
    const current = await ctx.repo.blobAt(head, filePath);
    if (remove && !current) throw notFound();
    if (current && given === undefined)
      throw new HttpError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.');
    if (current && given !== current) throw new HttpError(409, `${filePath} does not match ${given ?? ""}`);
    const content = remove ? null : Buffer.from(String(b.content ?? ""), "base64");
    const sha = await ctx.repo.commitChanges(
      head,
      [{ path: filePath, content }],
      String(b.message ?? "Update"),
    );
    // The lock covers the fake's own writes; the CAS also catches a concurrent `git push`.
    if (!(await ctx.repo.casRef(ref, sha, head)))
      throw new HttpError(409, `${filePath} does not match ${given ?? ""}`);
    const info = await ctx.repo.commitInfo(sha);
    const commit = info ? gitCommitBody(ctx, info) : {};
    if (remove) return json(200, { content: null, commit });
    const blob = (await ctx.repo.blobAt(sha, filePath)) ?? "";
    const file = fileBody(ctx, filePath, blob, branch, null);
    file.size = content?.length ?? 0;
    return json(current ? 200 : 201, { content: file, commit });
  });
}

export const contentHandlers: Record<string, Handler> = {
  "repos/get-content": getContent,
  "repos/create-or-update-file-contents": (ctx) => writeContent(ctx, false),
  "repos/delete-file": (ctx) => writeContent(ctx, true),
};
