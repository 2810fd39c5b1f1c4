// Git data API (refs, commits, blobs), branches and compare, read from and written to the
// real bare repository. Ref writes take the per-ref lock and CAS with update-ref's old value.
import type { CommitInfo } from "../git.js";
import { type Ctx, type Handler, type Reply, HttpError, bodyObj, json, notFound } from "../http.js";
import * as render from "../render.js";
import { diffEntry } from "./pulls.js";

const fullRef = (ref: string): string => (ref.startsWith("refs/") ? ref : `refs/${ref}`);

function refBody(ctx: Ctx, ref: string, sha: string, type: string): Record<string, unknown> {
  const api = render.repoApi(ctx.site);
  return {
    ref,
    node_id: `REF_${Buffer.from(ref).toString("base64")}`,
    url: `${api}/git/${ref}`,
    object: { type, sha, url: `${api}/git/${type}s/${sha}` },
  };
}

function unprocessable(message: string): HttpError {
  return new HttpError(422, message);
}

function ident(i: CommitInfo["author"]): Record<string, string> {
  return { name: i.name, email: i.email, date: i.date };
}

/** Pushed commits are unsigned; commits the API made without a signature of their own GitHub signs. */
function verification(ctx: Ctx, sha: string): Record<string, unknown> {
  const signed = ctx.store.signedCommits.has(sha);
  return {
    verified: signed,
    reason: signed ? "valid" : "unsigned",
    signature: signed ? "-----BEGIN PGP SIGNATURE-----\n(fake)\n-----END PGP SIGNATURE-----" : null,
    payload: signed ? `tree ${sha}` : null,
    verified_at: signed ? ctx.store.clock.now() : null,
  };
}

export function gitCommitBody(ctx: Ctx, c: CommitInfo): Record<string, unknown> {
  const api = render.repoApi(ctx.site);
  return {
    sha: c.sha,
    node_id: `C_${c.sha}`,
    url: `${api}/git/commits/${c.sha}`,
    html_url: `${render.repoHtml(ctx.site)}/commit/${c.sha}`,
    author: ident(c.author),
    committer: ident(c.committer),
    tree: { sha: c.tree, url: `${api}/git/trees/${c.tree}` },
    message: c.message.replace(/\n$/, ""),
    parents: c.parents.map((p) => ({
      sha: p,
      url: `${api}/git/commits/${p}`,
      html_url: `${render.repoHtml(ctx.site)}/commit/${p}`,
    })),
    verification: verification(ctx, c.sha),
  };
}

/** The REST `commit` schema (used by branches and compare). */
export function commitBody(ctx: Ctx, c: CommitInfo): Record<string, unknown> {
  const api = render.repoApi(ctx.site);
  return {
    url: `${api}/commits/${c.sha}`,
    sha: c.sha,
    node_id: `C_${c.sha}`,
    html_url: `${render.repoHtml(ctx.site)}/commit/${c.sha}`,
    comments_url: `${api}/commits/${c.sha}/comments`,
    commit: {
      url: `${api}/git/commits/${c.sha}`,
      author: ident(c.author),
      committer: ident(c.committer),
      message: c.message.replace(/\n$/, ""),
      comment_count: 0,
      tree: { sha: c.tree, url: `${api}/git/trees/${c.tree}` },
      verification: verification(ctx, c.sha),
    },
    author: null,
    committer: null,
    parents: c.parents.map((p) => ({
      sha: p,
      url: `${api}/commits/${p}`,
      html_url: `${render.repoHtml(ctx.site)}/commit/${p}`,
    })),
  };
}

async function mustCommit(ctx: Ctx, sha: string): Promise<CommitInfo> {
  const c = await ctx.repo.commitInfo(sha);
  if (!c) throw notFound();
  return c;
}

async function updateRef(ctx: Ctx): Promise<Reply> {
  const ref = fullRef(ctx.params.ref ?? "");
  const b = bodyObj(ctx);
  const sha = String(b.sha ?? "");
  return ctx.repo.locks.run(ref, async () => {
    const old = await ctx.repo.refSha(ref);
    if (!old) throw unprocessable("Reference does not exist");
    if ((await ctx.repo.objectType(sha)) !== "commit") throw unprocessable("Object does not exist");
    if (b.force !== true && !(await ctx.repo.isAncestor(old, sha)))
      throw unprocessable("Update is not a fast forward");
    if (!(await ctx.repo.casRef(ref, sha, old))) throw new HttpError(409, "Reference update failed");
    return json(200, refBody(ctx, ref, sha, "commit"));
  });
}

function splitBasehead(ctx: Ctx, basehead: string): [string, string] {
  const i = basehead.indexOf("...");
  if (i < 0) throw notFound();
  const strip = (s: string) => (s.startsWith(`${ctx.site.owner}:`) ? s.slice(ctx.site.owner.length + 1) : s);
  return [strip(basehead.slice(0, i)), strip(basehead.slice(i + 3))];
}

export const gitDataHandlers: Record<string, Handler> = {
  "git/get-ref": async (ctx) => {
    const ref = fullRef(ctx.params.ref ?? "");
    const found = (await ctx.repo.listRefs(ref)).find((r) => r.ref === ref);
    if (!found) throw notFound();
    return json(200, refBody(ctx, found.ref, found.sha, found.type));
  },
  "git/list-matching-refs": async (ctx) => {
    const refs = await ctx.repo.listRefs(fullRef(ctx.params.ref ?? ""));
    return json(
      200,
      refs.map((r) => refBody(ctx, r.ref, r.sha, r.type)),
    );
  },
  "git/create-ref": async (ctx) => {
    const b = bodyObj(ctx);
    const ref = String(b.ref ?? "");
    const sha = String(b.sha ?? "");
    if (!/^refs\/[^/]+\/.+/.test(ref))
      throw unprocessable("Reference name must start with 'refs/' and have at least two slashes.");
    return ctx.repo.locks.run(ref, async () => {
      if (!(await ctx.repo.objectType(sha))) throw unprocessable("Object does not exist");
      if (!(await ctx.repo.casRef(ref, sha, null))) throw unprocessable("Reference already exists");
      return json(201, refBody(ctx, ref, sha, (await ctx.repo.objectType(sha)) ?? "commit"), {
        location: `${render.repoApi(ctx.site)}/git/${ref}`,
      });
    });
  },
  "git/update-ref": updateRef,
  "git/delete-ref": async (ctx) => {
    const ref = fullRef(ctx.params.ref ?? "");
    return ctx.repo.locks.run(ref, async () => {
      if (!(await ctx.repo.refSha(ref)) || !(await ctx.repo.deleteRef(ref)))
        throw unprocessable("Reference does not exist");
      return { status: 204 };
    });
  },
  "repos/get-commit": async (ctx) => {
    const sha = await ctx.repo.resolve(ctx.params.ref ?? "");
    if (!sha) throw new HttpError(422, `No commit found for SHA: ${ctx.params.ref ?? ""}`);
    return json(200, commitBody(ctx, await mustCommit(ctx, sha)));
  },
  "git/get-commit": async (ctx) =>
    json(200, gitCommitBody(ctx, await mustCommit(ctx, ctx.params.commit_sha ?? ""))),
  "git/get-blob": async (ctx) => {
    const sha = ctx.params.file_sha ?? "";
    if ((await ctx.repo.objectType(sha)) !== "blob") throw notFound();
    const data = await ctx.repo.readBlob(sha);
    const b64 = (data.toString("base64").match(/.{1,60}/g) ?? []).join("\n");
    return json(200, {
      sha,
      node_id: `B_${sha}`,
      url: `${render.repoApi(ctx.site)}/git/blobs/${sha}`,
      size: data.length,
      content: b64 ? `${b64}\n` : "",
      encoding: "base64",
    });
  },
  "repos/get-branch": async (ctx) => {
    const name = ctx.params.branch ?? "";
    const sha = await ctx.repo.refSha(`refs/heads/${name}`);
    if (!sha) throw new HttpError(404, "Branch not found");
    const api = render.repoApi(ctx.site);
    return json(200, {
      name,
      commit: commitBody(ctx, await mustCommit(ctx, sha)),
      _links: { html: `${render.repoHtml(ctx.site)}/tree/${name}`, self: `${api}/branches/${name}` },
      protected: false,
      protection: {
        enabled: false,
        required_status_checks: { enforcement_level: "off", contexts: [], checks: [] },
      },
      protection_url: `${api}/branches/${name}/protection`,
    });
  },
  "repos/compare-commits-with-basehead": async (ctx) => {
    const [base, head] = splitBasehead(ctx, ctx.params.basehead ?? "");
    const bSha = await ctx.repo.resolve(base);
    const hSha = await ctx.repo.resolve(head);
    if (!bSha || !hSha) throw notFound();
    const mb = (await ctx.repo.mergeBase(bSha, hSha)) ?? bSha;
    const ahead = await ctx.repo.commitsBetween(bSha, hSha);
    const behind = await ctx.repo.commitsBetween(hSha, bSha);
    const status =
      ahead.length && behind.length
        ? "diverged"
        : ahead.length
          ? "ahead"
          : behind.length
            ? "behind"
            : "identical";
    const html = render.repoHtml(ctx.site);
    const commits = await Promise.all(ahead.map(async (s) => commitBody(ctx, await mustCommit(ctx, s))));
    return json(200, {
      url: `${render.repoApi(ctx.site)}/compare/${base}...${head}`,
      html_url: `${html}/compare/${base}...${head}`,
      permalink_url: `${html}/compare/${bSha}...${hSha}`,
      diff_url: `${html}/compare/${base}...${head}.diff`,
      patch_url: `${html}/compare/${base}...${head}.patch`,
      base_commit: commitBody(ctx, await mustCommit(ctx, bSha)),
      merge_base_commit: commitBody(ctx, await mustCommit(ctx, mb)),
      status,
      ahead_by: ahead.length,
      behind_by: behind.length,
      total_commits: ahead.length,
      commits,
      files: (await ctx.repo.diffFiles(bSha, hSha)).map((f) => diffEntry(ctx, f)),
    });
  },
};
