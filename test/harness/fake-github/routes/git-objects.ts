// Git Data writes (blobs, trees, commits) and branch listing: the multi-file commit path a
// client can take instead of the contents API (create blob → tree → commit → update ref).
import type { TreeEntry } from "../git.js";
import { type Ctx, type Handler, HttpError, type Reply, bodyObj, json, notFound, paginate } from "../http.js";
import * as render from "../render.js";
import { gitCommitBody } from "./git-data.js";

const isSha = (s: unknown): s is string => typeof s === "string" && /^[0-9a-f]{40}$/.test(s);

async function treeBody(ctx: Ctx, sha: string, recursive: boolean): Promise<Record<string, unknown>> {
  const api = render.repoApi(ctx.site);
  const out = await ctx.repo.out(["ls-tree", "-z", "-l", ...(recursive ? ["-r", "-t"] : []), sha]);
  const tree = out
    .split("\0")
    .filter(Boolean)
    .map((line) => {
      const m = /^(\d+) (\w+) ([0-9a-f]+)\s+(\S+)\t(.*)$/.exec(line);
      const [mode = "", type = "", entrySha = "", size = "-", p = ""] = m ? m.slice(1) : [];
      return {
        path: p,
        mode,
        type,
        sha: entrySha,
        ...(type === "blob" ? { size: Number(size) } : {}),
        url: `${api}/git/${type === "tree" ? "trees" : "blobs"}/${entrySha}`,
      };
    });
  return { sha, url: `${api}/git/trees/${sha}`, truncated: false, tree };
}

async function createTree(ctx: Ctx): Promise<Reply> {
  const b = bodyObj(ctx);
  const base = typeof b.base_tree === "string" ? b.base_tree : null;
  if (
    base &&
    (await ctx.repo.objectType(base)) !== "tree" &&
    (await ctx.repo.objectType(base)) !== "commit"
  ) {
    throw new HttpError(422, "base_tree is not a valid tree oid");
  }
  const entries: TreeEntry[] = [];
  for (const raw of Array.isArray(b.tree) ? (b.tree as Record<string, unknown>[]) : []) {
    const p = String(raw.path ?? "");
    if (raw.type === "tree")
      throw new Error("fake-github does not model tree entries of type tree in create-tree");
    if (typeof raw.content === "string")
      entries.push({ path: p, mode: String(raw.mode), sha: await ctx.repo.writeBlob(raw.content) });
    else if (raw.sha === null) entries.push({ path: p, mode: String(raw.mode), sha: null });
    else if (isSha(raw.sha) && (await ctx.repo.objectType(raw.sha)))
      entries.push({ path: p, mode: String(raw.mode), sha: raw.sha });
    else throw new HttpError(422, `tree.sha ${String(raw.sha)} is not a valid blob`);
  }
  const sha = await ctx.repo.writeTree(base, entries);
  return json(201, await treeBody(ctx, sha, false), {
    location: `${render.repoApi(ctx.site)}/git/trees/${sha}`,
  });
}

async function createCommit(ctx: Ctx): Promise<Reply> {
  const b = bodyObj(ctx);
  const tree = String(b.tree ?? "");
  if ((await ctx.repo.objectType(tree)) !== "tree") throw new HttpError(422, "Tree SHA does not exist");
  const parents = Array.isArray(b.parents) ? b.parents.map(String) : [];
  for (const p of parents)
    if ((await ctx.repo.objectType(p)) !== "commit")
      throw new HttpError(422, "Parent SHA does not exist or is not a commit object");
  const env: Record<string, string> = {};
  const who = (v: unknown, role: "AUTHOR" | "COMMITTER") => {
    if (!v || typeof v !== "object") return;
    const o = v as { name?: string; email?: string; date?: string };
    if (o.name) env[`GIT_${role}_NAME`] = o.name;
    if (o.email) env[`GIT_${role}_EMAIL`] = o.email;
    if (o.date) env[`GIT_${role}_DATE`] = o.date;
  };
  // Without an author, GitHub writes the token's identity (the workflow token's is the bot) and
  // commits as its web-flow committer.
  who(
    b.author ?? {
      name: "github-actions[bot]",
      email: "41898282+github-actions[bot]@users.noreply.github.com",
    },
    "AUTHOR",
  );
  who(b.committer ?? b.author ?? { name: "GitHub", email: "noreply@github.com" }, "COMMITTER");
  const sha = await ctx.repo.out(["commit-tree", tree, ...parents.flatMap((p) => ["-p", p])], {
    input: String(b.message ?? ""),
    env,
  });
  const info = await ctx.repo.commitInfo(sha);
  if (!info) throw notFound();
  if (typeof b.signature !== "string") ctx.store.signedCommits.add(sha);
  return json(201, gitCommitBody(ctx, info), { location: `${render.repoApi(ctx.site)}/git/commits/${sha}` });
}

export const gitObjectHandlers: Record<string, Handler> = {
  "git/create-blob": async (ctx) => {
    const b = bodyObj(ctx);
    const content =
      b.encoding === "base64"
        ? Buffer.from(String(b.content ?? ""), "base64")
        : Buffer.from(String(b.content ?? ""), "utf8");
    const sha = await ctx.repo.writeBlob(content);
    return json(
      201,
      { sha, url: `${render.repoApi(ctx.site)}/git/blobs/${sha}` },
      { location: `${render.repoApi(ctx.site)}/git/blobs/${sha}` },
    );
  },
  "git/get-tree": async (ctx) => {
    const ish = ctx.params.tree_sha ?? "";
    const resolved = (await ctx.repo.objectType(ish)) ? ish : await ctx.repo.resolve(ish);
    if (!resolved) throw notFound();
    const tree = await ctx.repo.out(["rev-parse", `${resolved}^{tree}`]);
    return json(
      200,
      await treeBody(
        ctx,
        tree,
        ctx.query.recursive !== undefined && ctx.query.recursive !== "0" && ctx.query.recursive !== "false",
      ),
    );
  },
  "git/create-tree": createTree,
  "git/create-commit": createCommit,
  "repos/list-branches": async (ctx) => {
    const api = render.repoApi(ctx.site);
    const heads = (await ctx.repo.listRefs("refs/heads/")).map((r) => ({
      name: r.ref.slice("refs/heads/".length),
      commit: { sha: r.sha, url: `${api}/commits/${r.sha}` },
      protected: false,
    }));
    const { page, headers } = paginate(ctx, heads);
    return json(200, page, headers);
  },
};
