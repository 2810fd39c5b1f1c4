// The fake's repository is a real bare git repo, read and written with git plumbing (and, on
// the hottest paths, git's own file formats: loose refs and loose blob objects).
import { createHash } from "node:crypto";
import { link, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { deflate } from "node:zlib";
import { type GitOptions, type GitResult, KeyedMutex, ObjectReader, ZERO_SHA, runGit } from "./git-exec.js";

export { type GitOptions, type GitResult, KeyedMutex, ZERO_SHA, gitEnv, runGit } from "./git-exec.js";

const deflateAsync = promisify(deflate);

export interface FileChange {
  path: string;
  /** New content, or null to delete the file. */
  content: Buffer | null;
}

export interface TreeEntry {
  path: string;
  /** `100644`, `100755`, `120000` (symlink), `160000` (submodule); trees are implied by paths. */
  mode: string;
  sha: string | null;
}

export interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  message: string;
}

export interface DiffFile {
  filename: string;
  previousFilename?: string;
  status: "added" | "removed" | "modified" | "renamed" | "copied" | "changed" | "unchanged";
  additions: number;
  deletions: number;
  sha: string;
  patch: string;
}

function parseIdent(line: string): { name: string; email: string; date: string } {
  const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!m) return { name: line, email: "", date: new Date(0).toISOString() };
  return {
    name: m[1] ?? "",
    email: m[2] ?? "",
    date: new Date(Number(m[3]) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}

const STATUS: Record<string, DiffFile["status"]> = {
  A: "added",
  D: "removed",
  M: "modified",
  R: "renamed",
  C: "copied",
  T: "changed",
};

/** Plumbing over one bare repository. */
export class BareRepo {
  readonly locks = new KeyedMutex();
  private readonly objects: ObjectReader;

  constructor(readonly dir: string) {
    this.objects = new ObjectReader(dir);
  }

  close(): void {
    this.objects.close();
  }

  git(args: string[], opts?: GitOptions): Promise<GitResult> {
    return runGit(this.dir, args, opts);
  }

  async out(args: string[], opts?: GitOptions): Promise<string> {
    return (await this.git(args, opts)).stdout.toString("utf8").trim();
  }

  static async init(dir: string, files: Record<string, string | Buffer>, branch = "main"): Promise<BareRepo> {
    await runGit(path.dirname(dir), ["init", "--quiet", "--bare", `--initial-branch=${branch}`, dir]);
    const repo = new BareRepo(dir);
    await repo.git(["config", "http.receivepack", "true"]);
    if (Object.keys(files).length > 0) {
      const changes = Object.entries(files).map(([p, c]) => ({ path: p, content: Buffer.from(c) }));
      const sha = await repo.commitChanges(null, changes, "Initial commit");
      await repo.git(["update-ref", `refs/heads/${branch}`, sha, ZERO_SHA]);
    }
    return repo;
  }

  /** The commit a ref or sha names, or null. */
  async resolve(rev: string): Promise<string | null> {
    const r = await this.git(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { allowFail: true });
    return r.code === 0 ? r.stdout.toString().trim() : null;
  }

  /**
   * Reads `refs/...` straight from the files git keeps them in (loose ref, else packed-refs):
   * ref reads are the hottest path under contention and a spawn each would dominate. Git
   * replaces loose ref files atomically (rename), so a read never sees a partial value.
   */
  async refSha(fullRef: string): Promise<string | null> {
    if (!/^refs\/[^\0\s]+$/.test(fullRef) || fullRef.split("/").some((seg) => seg === ".." || seg === "")) {
      const r = await this.git(["rev-parse", "--verify", "--quiet", fullRef], { allowFail: true });
      return r.code === 0 ? r.stdout.toString().trim() : null;
    }
    const loose = await readFile(path.join(this.dir, fullRef), "utf8").catch(() => null);
    if (loose !== null) {
      const v = loose.trim();
      if (/^[0-9a-f]{40}$/.test(v)) return v;
      if (v.startsWith("ref: ")) return this.refSha(v.slice(5));
    }
    const packed = await readFile(path.join(this.dir, "packed-refs"), "utf8").catch(() => "");
    for (const line of packed.split("\n")) {
      if (line.endsWith(` ${fullRef}`) && /^[0-9a-f]{40} /.test(line)) return line.slice(0, 40);
    }
    return null;
  }

  async listRefs(prefix: string): Promise<{ ref: string; sha: string; type: string }[]> {
    const out = await this.out(["for-each-ref", "--format=%(refname) %(objectname) %(objecttype)"]);
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [ref = "", sha = "", type = ""] = l.split(" ");
        return { ref, sha, type };
      })
      .filter((r) => r.ref.startsWith(prefix));
  }

  /** Compare-and-swap: `old` null means "must not exist". Returns false when the ref moved. */
  async casRef(fullRef: string, next: string, old: string | null): Promise<boolean> {
    const r = await this.git(["update-ref", fullRef, next, old ?? ZERO_SHA], { allowFail: true });
    return r.code === 0;
  }

  async deleteRef(fullRef: string): Promise<boolean> {
    const r = await this.git(["update-ref", "-d", fullRef], { allowFail: true });
    return r.code === 0;
  }

  async objectType(sha: string): Promise<string | null> {
    if (!/^[0-9a-f]{4,64}$/.test(sha)) return null;
    return (await this.objects.read(sha))?.type ?? null;
  }

  async readBlob(sha: string): Promise<Buffer> {
    const hit = await this.objects.read(sha);
    if (!hit || hit.type !== "blob") throw new Error(`no blob ${sha}`);
    return hit.data;
  }

  /** Blob sha of `path` in `commit`, or null when absent or not a file. */
  async blobAt(commit: string, filePath: string): Promise<string | null> {
    const hit = await this.objects.read(`${commit}:${filePath}`);
    return hit?.type === "blob" ? hit.sha : null;
  }

  /** The object at `path` in `commit` (one read for sha, type and content), or null. */
  objectAt(commit: string, filePath: string): Promise<{ sha: string; type: string; data: Buffer } | null> {
    return this.objects.read(`${commit}:${filePath}`);
  }

  async isDir(commit: string, dirPath: string): Promise<boolean> {
    return (await this.objects.read(`${commit}:${dirPath}`))?.type === "tree";
  }

  async readFile(rev: string, filePath: string): Promise<Buffer | null> {
    const commit = await this.resolve(rev);
    const hit = commit ? await this.objects.read(`${commit}:${filePath}`) : null;
    return hit?.type === "blob" ? hit.data : null;
  }

  /** Writes a loose blob object directly (what `hash-object -w` does), without a spawn. */
  async writeBlob(content: Buffer | string): Promise<string> {
    const data = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    const raw = Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]);
    const sha = createHash("sha1").update(raw).digest("hex");
    const file = path.join(this.dir, "objects", sha.slice(0, 2), sha.slice(2));
    if (
      await readFile(file).then(
        () => true,
        () => false,
      )
    )
      return sha;
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `tmp_obj_${process.pid}_${Math.random().toString(36).slice(2)}`);
    await writeFile(tmp, await deflateAsync(raw), { mode: 0o444 });
    // link() then unlink, like git: an existing object (a concurrent identical write) wins.
    await link(tmp, file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw new Error(`cannot write object ${sha}`, { cause: e });
    });
    await unlink(tmp);
    return sha;
  }

  /**
   * A tree: `base` (a tree-ish) with `entries` applied; `sha: null` removes the path. One
   * `update-index --index-info` on a temporary index, so no shared index file is ever locked.
   */
  async writeTree(base: string | null, entries: TreeEntry[]): Promise<string> {
    const tmp = await mkdtemp(path.join(os.tmpdir(), "fake-gh-index-"));
    const env = { GIT_INDEX_FILE: path.join(tmp, "index") };
    try {
      if (base) await this.git(["read-tree", base], { env });
      const lines = entries.map((e) =>
        e.sha === null ? `0 ${ZERO_SHA}\t${e.path}` : `${e.mode} ${e.sha}\t${e.path}`,
      );
      if (lines.length > 0)
        await this.git(["update-index", "--add", "--remove", "--index-info"], {
          env,
          input: `${lines.join("\n")}\n`,
        });
      return await this.out(["write-tree"], { env });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Writes a commit with `changes` applied on top of `parent`. */
  async commitChanges(parent: string | null, changes: FileChange[], message: string): Promise<string> {
    const entries: TreeEntry[] = [];
    for (const c of changes) {
      entries.push({
        path: c.path,
        mode: "100644",
        sha: c.content === null ? null : await this.writeBlob(c.content),
      });
    }
    const tree = await this.writeTree(parent, entries);
    return this.out(["commit-tree", tree, ...(parent ? ["-p", parent] : [])], { input: message });
  }

  async commitInfo(sha: string): Promise<CommitInfo | null> {
    const hit = /^[0-9a-f]{4,64}$/.test(sha) ? await this.objects.read(sha) : null;
    if (hit?.type !== "commit") return null;
    const text = hit.data.toString("utf8");
    const split = text.indexOf("\n\n");
    const head = split >= 0 ? text.slice(0, split) : text;
    const info: CommitInfo = {
      sha,
      tree: "",
      parents: [],
      author: parseIdent(""),
      committer: parseIdent(""),
      message: split >= 0 ? text.slice(split + 2) : "",
    };
    for (const line of head.split("\n")) {
      const [k, ...rest] = line.split(" ");
      const v = rest.join(" ");
      if (k === "tree") info.tree = v;
      else if (k === "parent") info.parents.push(v);
      else if (k === "author") info.author = parseIdent(v);
      else if (k === "committer") info.committer = parseIdent(v);
    }
    return info;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return (
      (await this.git(["merge-base", "--is-ancestor", ancestor, descendant], { allowFail: true })).code === 0
    );
  }

  async mergeBase(a: string, b: string): Promise<string | null> {
    const r = await this.git(["merge-base", a, b], { allowFail: true });
    return r.code === 0 ? r.stdout.toString().trim() : null;
  }

  /** Commits reachable from `head` but not from `base`, oldest first. */
  async commitsBetween(base: string, head: string): Promise<string[]> {
    const out = await this.out(["rev-list", "--reverse", `${base}..${head}`]);
    return out ? out.split("\n") : [];
  }

  /** Files changed from the merge base of base and head to head, like GitHub's three-dot diff. */
  async diffFiles(base: string, head: string): Promise<DiffFile[]> {
    const mb = (await this.mergeBase(base, head)) ?? base;
    const raw = (await this.git(["diff", "--raw", "--numstat", "-z", "-M", mb, head])).stdout.toString(
      "utf8",
    );
    const tokens = raw.split("\0");
    const entries: { status: string; newSha: string; path: string; from?: string }[] = [];
    const stats: { add: number; del: number }[] = [];
    let i = 0;
    while (i < tokens.length) {
      const t = tokens[i] ?? "";
      if (t.startsWith(":")) {
        const fields = t.slice(1).split(" ");
        const status = (fields[4] ?? "M").charAt(0);
        if (status === "R" || status === "C") {
          entries.push({
            status,
            newSha: fields[3] ?? "",
            from: tokens[i + 1] ?? "",
            path: tokens[i + 2] ?? "",
          });
          i += 3;
        } else {
          entries.push({ status, newSha: fields[3] ?? "", path: tokens[i + 1] ?? "" });
          i += 2;
        }
      } else if (/^(\d+|-)\t(\d+|-)\t/.test(t)) {
        const [a = "0", d = "0", rest = ""] = t.split("\t");
        stats.push({ add: Number(a) || 0, del: Number(d) || 0 });
        i += rest === "" ? 3 : 1; // renames put both paths in the next two tokens
      } else i += 1;
    }
    const files: DiffFile[] = [];
    for (const [k, e] of entries.entries()) {
      const s = stats[k] ?? { add: 0, del: 0 };
      const patchOut = await this.out(["diff", "-M", mb, head, "--", ...(e.from ? [e.from] : []), e.path]);
      const hunk = patchOut.indexOf("\n@@");
      files.push({
        filename: e.path,
        ...(e.from ? { previousFilename: e.from } : {}),
        status: STATUS[e.status] ?? "modified",
        additions: s.add,
        deletions: s.del,
        sha: e.status === "D" ? ZERO_SHA : e.newSha,
        patch: hunk >= 0 ? patchOut.slice(hunk + 1) : "",
      });
    }
    return files;
  }

  /** A real two-parent merge commit of head into base; null on conflict. */
  async mergeCommit(base: string, head: string, message: string): Promise<string | null> {
    const r = await this.git(["merge-tree", "--write-tree", "--no-messages", base, head], {
      allowFail: true,
    });
    if (r.code !== 0) return null;
    const tree = r.stdout.toString().split("\n")[0]?.trim() ?? "";
    return this.out(["commit-tree", tree, "-p", base, "-p", head], { input: message });
  }
}
