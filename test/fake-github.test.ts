// The fake GitHub itself, driven by the same Octokit the action uses and by the real git CLI.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getOctokit } from "@actions/github";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { type FakeGitHub, runGit, startFakeGitHub } from "./harness/fake-github.js";
import { createSpecValidator } from "./harness/fake-github/spec.js";

let fake: FakeGitHub;
let gh: ReturnType<typeof getOctokit>;
let repo: { owner: string; repo: string };
let tmp: string;

beforeAll(async () => {
  fake = await startFakeGitHub({
    users: { alice: "admin", mia: "maintain", wes: "write", tia: "triage", rob: "read", nobody: "none" },
  });
  console.log(
    `fake-github startup: ${fake.startup.ms} ms (spec cache ${fake.startup.specCached ? "hit" : "miss"})`,
  );
  gh = getOctokit(fake.token, { baseUrl: fake.url });
  repo = { owner: fake.owner, repo: fake.repo };
  tmp = await mkdtemp(path.join(os.tmpdir(), "fake-gh-test-"));
});

afterAll(async () => {
  await fake?.close();
  await rm(tmp, { recursive: true, force: true });
});

const status = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as { status: number }).status;
  }
};

describe("issues and labels", () => {
  it("creates issues, filters by labels (AND, case-insensitive) and paginates with Link", async () => {
    for (let i = 0; i < 5; i++) {
      await gh.rest.issues.create({
        ...repo,
        title: `task ${i}`,
        labels: i % 2 === 0 ? ["aegis", "bug"] : ["aegis"],
      });
    }
    const both = await gh.rest.issues.listForRepo({ ...repo, labels: "AEGIS,bug" });
    expect(both.data.map((i) => i.title)).toEqual(["task 4", "task 2", "task 0"]);
    const page1 = await gh.rest.issues.listForRepo({ ...repo, labels: "aegis", per_page: 2 });
    expect(page1.data).toHaveLength(2);
    expect(page1.headers.link).toContain('rel="next"');
    const all = await gh.paginate(gh.rest.issues.listForRepo, { ...repo, labels: "aegis", per_page: 2 });
    expect(all).toHaveLength(5);
    expect(all[0]?.user?.login).toBe("github-actions[bot]");
  });

  it("adds and removes percent-encoded labels, 404 when absent, 422 on an empty list", async () => {
    const issue = fake.seedIssue({ title: "encoded", labels: ["aegis"] });
    await gh.rest.issues.addLabels({ ...repo, issue_number: issue.number, labels: ["aegis:queued"] });
    expect(fake.labelsOf(issue.number)).toEqual(["aegis", "aegis:queued"]);
    const created = await gh.rest.issues.getLabel({ ...repo, name: "aegis:queued" });
    expect(created.data.color).toBe("ededed");
    await gh.rest.issues.removeLabel({ ...repo, issue_number: issue.number, name: "AEGIS:QUEUED" });
    expect(fake.labelsOf(issue.number)).toEqual(["aegis"]);
    expect(
      await status(gh.rest.issues.removeLabel({ ...repo, issue_number: issue.number, name: "aegis:queued" })),
    ).toBe(404);
    expect(await status(gh.rest.issues.addLabels({ ...repo, issue_number: issue.number, labels: [] }))).toBe(
      422,
    );
    expect(await status(gh.rest.issues.createLabel({ ...repo, name: "Aegis", color: "ff0000" }))).toBe(422);
    fake.harnessErrors.splice(0); // the empty list is refused by the spec itself; that was the point
  });

  it("closes with a state_reason and returns 410 for a deleted issue", async () => {
    const issue = fake.seedIssue({ title: "to close" });
    const res = await gh.rest.issues.update({
      ...repo,
      issue_number: issue.number,
      state: "closed",
      state_reason: "not_planned",
    });
    expect(res.data.state_reason).toBe("not_planned");
    fake.deleteIssue(issue.number);
    expect(await status(gh.rest.issues.get({ ...repo, issue_number: issue.number }))).toBe(410);
  });

  it("creates and edits comments as the bot", async () => {
    const issue = fake.seedIssue({ title: "comments" });
    const c = await gh.rest.issues.createComment({ ...repo, issue_number: issue.number, body: "first" });
    expect(c.data.user?.type).toBe("Bot");
    await gh.rest.issues.updateComment({ ...repo, comment_id: c.data.id, body: "edited" });
    expect(fake.comments(issue.number).map((x) => x.body)).toEqual(["edited"]);
    const list = await gh.rest.issues.listComments({ ...repo, issue_number: issue.number });
    expect(list.data[0]?.body).toBe("edited");
  });

  it("reports permission levels like GitHub (legacy permission + role_name)", async () => {
    const perm = async (username: string) =>
      (await gh.rest.repos.getCollaboratorPermissionLevel({ ...repo, username })).data;
    expect(await perm("alice")).toMatchObject({ permission: "admin", role_name: "admin" });
    expect(await perm("mia")).toMatchObject({ permission: "write", role_name: "maintain" });
    expect(await perm("tia")).toMatchObject({ permission: "read", role_name: "triage" });
    expect(await perm("nobody")).toMatchObject({ permission: "none" });
    expect(await perm("stranger")).toMatchObject({ permission: "read" });
  });

  it("rejects a bad token with 401 and writes with the read-only token with 403", async () => {
    const bad = getOctokit("wrong", { baseUrl: fake.url });
    expect(await status(bad.rest.issues.listForRepo(repo))).toBe(401);
    const ro = getOctokit(fake.readOnlyToken, { baseUrl: fake.url });
    expect(await status(ro.rest.issues.create({ ...repo, title: "x" }))).toBe(403);
  });
});

describe("contents and git data", () => {
  it("creates and updates a file; 422 without sha, 409 with a stale sha", async () => {
    const put = (sha?: string, text = "{}") =>
      gh.rest.repos.createOrUpdateFileContents({
        ...repo,
        path: "state/state.json",
        message: "ledger",
        content: Buffer.from(text).toString("base64"),
        branch: "main",
        ...(sha ? { sha } : {}),
      });
    const first = await put();
    expect(first.status).toBe(201);
    const sha1 = first.data.content?.sha ?? "";
    expect(await status(put())).toBe(422);
    const second = await put(sha1, '{"v":2}');
    expect(second.status).toBe(200);
    expect(await status(put(sha1))).toBe(409);
    expect(await fake.readFile("main", "state/state.json")).toBe('{"v":2}');
    const got = await gh.rest.repos.getContent({ ...repo, path: "state/state.json", ref: "main" });
    expect(got.data).toMatchObject({ sha: second.data.content?.sha, encoding: "base64" });
    expect(await status(gh.rest.repos.getContent({ ...repo, path: "nope.json" }))).toBe(404);
  });

  it("creates refs, fast-forwards, refuses non-fast-forward and duplicates", async () => {
    const main = await gh.rest.git.getRef({ ...repo, ref: "heads/main" });
    await gh.rest.git.createRef({ ...repo, ref: "refs/heads/state", sha: main.data.object.sha });
    expect(
      await status(gh.rest.git.createRef({ ...repo, ref: "refs/heads/state", sha: main.data.object.sha })),
    ).toBe(422);
    const next = await fake.commitFile("scratch", "a.txt", "a");
    await gh.rest.git.updateRef({ ...repo, ref: "heads/state", sha: next });
    const sideways = await fake.commitFile("other", "b.txt", "b");
    expect(await status(gh.rest.git.updateRef({ ...repo, ref: "heads/state", sha: sideways }))).toBe(422);
    expect((await gh.rest.git.getRef({ ...repo, ref: "heads/state" })).data.object.sha).toBe(next);
    expect(await status(gh.rest.git.getRef({ ...repo, ref: "heads/missing" }))).toBe(404);
    const commit = await gh.rest.git.getCommit({ ...repo, commit_sha: next });
    expect(commit.data.parents[0]?.sha).toBe(main.data.object.sha);
  });
});

describe("pull requests", () => {
  it("refuses a missing head, lists files from the real diff and merges for real", async () => {
    expect(await status(gh.rest.pulls.create({ ...repo, head: "nope", base: "main", title: "x" }))).toBe(422);
    await fake.commitFile("auto/docs/t1", "docs/guide.md", "line one\nline two\n");
    const pr = await gh.rest.pulls.create({
      ...repo,
      head: `${fake.owner}:auto/docs/t1`,
      base: "main",
      title: "Docs",
      body: "Fixes #1",
    });
    expect(
      await status(gh.rest.pulls.create({ ...repo, head: "auto/docs/t1", base: "main", title: "again" })),
    ).toBe(422);
    const files = await gh.rest.pulls.listFiles({ ...repo, pull_number: pr.data.number });
    expect(files.data).toEqual([
      expect.objectContaining({
        filename: "docs/guide.md",
        status: "added",
        additions: 2,
        deletions: 0,
        changes: 2,
      }),
    ]);
    const byHead = await gh.rest.pulls.list({ ...repo, head: `${fake.owner}:auto/docs/t1`, state: "open" });
    expect(byHead.data.map((p) => p.number)).toEqual([pr.data.number]);
    expect((await gh.rest.pulls.list({ ...repo, head: `${fake.owner}:other` })).data).toEqual([]);
    const inIssues = await gh.rest.issues.listForRepo({ ...repo, state: "all", per_page: 100 });
    expect(inIssues.data.find((i) => i.number === pr.data.number)?.pull_request).toBeDefined();
    const asIssue = await gh.rest.issues.get({ ...repo, issue_number: pr.data.number });
    expect(asIssue.data.pull_request).toBeDefined();
    const merged = await gh.rest.pulls.merge({ ...repo, pull_number: pr.data.number });
    expect(merged.data.merged).toBe(true);
    expect(await fake.readFile("main", "docs/guide.md")).toBe("line one\nline two\n");
    expect((await fake.git(["rev-list", "--parents", "-n", "1", "main"])).trim().split(" ")).toHaveLength(3);
    const after = await gh.rest.pulls.get({ ...repo, pull_number: pr.data.number });
    expect(after.data).toMatchObject({ merged: true, state: "closed", merge_commit_sha: merged.data.sha });
  });
});

describe("git smart-HTTP", () => {
  it("clones without credentials, pushes with the extraheader token, refuses a push without it", async () => {
    const dir = path.join(tmp, "clone");
    await runGit(tmp, ["clone", "--quiet", fake.cloneUrl, dir]);
    await runGit(dir, ["checkout", "-q", "-b", "feature"]);
    await writeFile(path.join(dir, "new.txt"), "hello\n");
    await runGit(dir, ["add", "."]);
    await runGit(dir, ["commit", "-q", "-m", "add new.txt"]);
    const refused = await runGit(dir, ["push", "origin", "feature"], { allowFail: true });
    expect(refused.code).not.toBe(0);
    expect(await fake.branchSha("feature")).toBeNull();
    const basic = Buffer.from(`x-access-token:${fake.token}`).toString("base64");
    await runGit(dir, [
      "-c",
      `http.extraheader=AUTHORIZATION: basic ${basic}`,
      "push",
      "-q",
      "origin",
      "feature",
    ]);
    expect(await fake.readFile("feature", "new.txt")).toBe("hello\n");
    expect(fake.calls.some((c) => c.route.startsWith("GIT ") && c.status === 401)).toBe(true);
  });
});

describe("more of GitHub's rules", () => {
  it("serves raw bytes, blanks files over 1 MB, 404s a write to a missing branch", async () => {
    await fake.commitFile("main", "big.bin", Buffer.alloc(1024 * 1024 + 10, 97));
    const big = await gh.rest.repos.getContent({ ...repo, path: "big.bin" });
    expect(big.data).toMatchObject({ encoding: "none", content: "", size: 1024 * 1024 + 10 });
    const raw = await gh.rest.repos.getContent({ ...repo, path: "README.md", mediaType: { format: "raw" } });
    expect(String(raw.data)).toContain("# sandbox");
    const dir = await gh.rest.repos.getContent({ ...repo, path: "" });
    expect(Array.isArray(dir.data) && dir.data.map((e) => e.name)).toContain("package.json");
    const missingBranch = gh.rest.repos.createOrUpdateFileContents({
      ...repo,
      path: "x.txt",
      message: "m",
      content: "eA==",
      branch: "nope",
    });
    expect(await status(missingBranch)).toBe(404);
  });

  it("lists matching refs, deletes refs, reads blobs, branches and compares", async () => {
    const a = await fake.commitFile("cmp/a", "cmp.txt", "one\ntwo\n");
    await gh.rest.git.createRef({ ...repo, ref: "refs/heads/cmp/b", sha: a });
    const refs = await gh.rest.git.listMatchingRefs({ ...repo, ref: "heads/cmp/" });
    expect(refs.data.map((r) => r.ref)).toEqual(["refs/heads/cmp/a", "refs/heads/cmp/b"]);
    await gh.rest.git.deleteRef({ ...repo, ref: "heads/cmp/b" });
    expect(await status(gh.rest.git.deleteRef({ ...repo, ref: "heads/cmp/b" }))).toBe(422);
    const branch = await gh.rest.repos.getBranch({ ...repo, branch: "cmp/a" });
    expect(branch.data.commit.sha).toBe(a);
    const cmp = await gh.rest.repos.compareCommitsWithBasehead({ ...repo, basehead: "main...cmp/a" });
    expect(cmp.data).toMatchObject({ status: "ahead", ahead_by: 1, total_commits: 1 });
    expect(cmp.data.files?.[0]).toMatchObject({ filename: "cmp.txt", additions: 2 });
    const file = await gh.rest.repos.getContent({ ...repo, path: "cmp.txt", ref: "cmp/a" });
    const blob = await gh.rest.git.getBlob({ ...repo, file_sha: (file.data as { sha: string }).sha });
    expect(Buffer.from(blob.data.content, "base64").toString()).toBe("one\ntwo\n");
  });

  it("commits several files through blobs, trees and commits, then moves the ref", async () => {
    const head = (await gh.rest.git.getRef({ ...repo, ref: "heads/main" })).data.object.sha;
    const baseTree = (await gh.rest.git.getCommit({ ...repo, commit_sha: head })).data.tree.sha;
    const blob = await gh.rest.git.createBlob({
      ...repo,
      content: Buffer.from("b\n").toString("base64"),
      encoding: "base64",
    });
    const tree = await gh.rest.git.createTree({
      ...repo,
      base_tree: baseTree,
      tree: [
        { path: "multi/a.txt", mode: "100644", type: "blob", content: "a\n" },
        { path: "multi/b.txt", mode: "100644", type: "blob", sha: blob.data.sha },
        { path: "README.md", mode: "100644", type: "blob", sha: null },
      ],
    });
    const commit = await gh.rest.git.createCommit({
      ...repo,
      message: "multi",
      tree: tree.data.sha,
      parents: [head],
      author: { name: "A", email: "a@example.com" },
    });
    await gh.rest.git.updateRef({ ...repo, ref: "heads/main", sha: commit.data.sha });
    expect(await fake.readFile("main", "multi/b.txt")).toBe("b\n");
    expect(await fake.readFile("main", "README.md")).toBeNull();
    const listed = await gh.rest.git.getTree({ ...repo, tree_sha: tree.data.sha, recursive: "1" });
    expect(listed.data.tree.map((e) => e.path)).toEqual(
      expect.arrayContaining(["multi", "multi/a.txt", "multi/b.txt"]),
    );
    expect(
      await status(gh.rest.git.createCommit({ ...repo, message: "bad", tree: "0".repeat(40), parents: [] })),
    ).toBe(422);
    const branches = await gh.rest.repos.listBranches(repo);
    expect(branches.data.map((b) => b.name)).toContain("main");
  });

  it("answers 501 for an operation the fake does not model and records it", async () => {
    expect(await status(gh.rest.repos.listTags(repo))).toBe(501);
    expect(fake.harnessErrors.splice(0)).toEqual([expect.stringContaining("repos/list-tags")]);
  });

  it("really validates responses against the spec", async () => {
    const { validator } = await createSpecValidator();
    const m = validator.match("GET", "/repos/o/r/issues/1");
    expect(m?.template).toBe("/repos/{owner}/{repo}/issues/{issue_number}");
    expect(validator.documents(m!, 200)).toBe(true);
    expect(validator.validateResponse(m!, 200, { number: 1 }).length).toBeGreaterThan(0);
    expect(validator.validateResponse(m!, 200, fake.views.issue(1))).toEqual([]);
    expect(validator.validateRequest(m!, { query: {}, headers: {}, body: undefined })).toEqual([]);
  });

  it("keeps a contents ledger consistent under 20 writer processes", async () => {
    await fake.commitFile("ledger", "counter.json", "[]");
    const initialCommits = Number((await fake.git(["rev-list", "--count", "ledger"])).trim());
    const script = path.join(tmp, "writer.mjs");
    await writeFile(
      script,
      `const [url, token, owner, name, id] = process.argv.slice(2);
const api = url + "/repos/" + owner + "/" + name + "/contents/counter.json";
const h = { authorization: "token " + token, "content-type": "application/json" };
for (let attempt = 0; attempt < 200; attempt++) {
  const got = await (await fetch(api + "?ref=ledger", { headers: h })).json();
  const list = JSON.parse(Buffer.from(got.content, "base64").toString());
  list.push(Number(id));
  const res = await fetch(api, { method: "PUT", headers: h, body: JSON.stringify({ message: "w" + id, branch: "ledger", sha: got.sha, content: Buffer.from(JSON.stringify(list)).toString("base64") }) });
  if (res.status === 200) process.exit(0);
  if (res.status !== 409) { console.error(res.status, await res.text()); process.exit(2); }
  await new Promise((r) => setTimeout(r, Math.random() * 40));
}
process.exit(3);
`,
    );
    const codes = await Promise.all(
      Array.from(
        { length: 20 },
        (_, id) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(
              process.execPath,
              [script, fake.url, fake.token, fake.owner, fake.repo, String(id)],
              { stdio: ["ignore", "ignore", "inherit"] },
            );
            child.on("close", resolve);
          }),
      ),
    );
    expect(codes).toEqual(Array(20).fill(0));
    const list = JSON.parse((await fake.readFile("ledger", "counter.json")) ?? "[]") as number[];
    expect([...list].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect((await fake.git(["rev-list", "--count", "ledger"])).trim()).toBe(String(initialCommits + 20));
    expect(fake.callsTo("repos/create-or-update-file-contents").some((c) => c.status === 409)).toBe(true);
  });
});

describe("fault injection", () => {
  it("fails before the handler (no write) and after it (write happened)", async () => {
    const write = (text: string, sha?: string) =>
      gh.rest.repos.createOrUpdateFileContents({
        ...repo,
        path: "faults.txt",
        message: "m",
        content: Buffer.from(text).toString("base64"),
        ...(sha ? { sha } : {}),
        request: { retries: 0 },
      });
    fake.inject({ route: "PUT /repos/{owner}/{repo}/contents/{path}", status: 502, when: "before" });
    expect(await status(write("one"))).toBe(502);
    expect(await fake.readFile("main", "faults.txt")).toBeNull();
    fake.inject({ route: "/contents/{path}", method: "PUT", status: 502, when: "after" });
    expect(await status(write("one"))).toBe(502);
    expect(await fake.readFile("main", "faults.txt")).toBe("one");
    fake.inject({
      route: "issues/create",
      status: 403,
      headers: { "retry-after": "1" },
      body: { message: "You have exceeded a secondary rate limit" },
    });
    const res = await fetch(`${fake.url}/repos/${fake.owner}/${fake.repo}/issues`, {
      method: "POST",
      headers: { authorization: `token ${fake.token}` },
      body: JSON.stringify({ title: "x" }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(fake.calls.filter((c) => c.fault)).toHaveLength(3);
  });

  it("adds latency and serves 429 with retry-after", async () => {
    fake.latency(150);
    fake.inject({
      method: "GET",
      route: "/repos/{owner}/{repo}",
      status: 429,
      headers: { "retry-after": "2" },
    });
    const t0 = Date.now();
    const res = await fetch(`${fake.url}/repos/${fake.owner}/${fake.repo}`, {
      headers: { authorization: `Bearer ${fake.token}` },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    fake.clearFaults();
    const ok = await gh.rest.repos.get(repo);
    expect(ok.data).toMatchObject({ default_branch: "main", permissions: { push: true } });
  });

  it("ends with no spec violations from either side", () => {
    expect(fake.validationErrors).toEqual([]);
    expect(fake.harnessErrors).toEqual([]);
  });
});
