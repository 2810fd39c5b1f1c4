// The room's copy of a checkout, given credentials where other steps leave them that aegis does
// not know as its own secrets: a repository another step checked out inside the workspace with
// its own token (in its config, its remote URL and its reflog), a submodule's persisted header,
// a git link to a repository outside the workspace, a .git-credentials file. None of it may reach
// the copy, and the copy must still be a working repository.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { copyCheckout, planScrub } from "../src/room/checkout-copy.js";
import { viewUnavailable } from "../src/room/checkout-view.js";
import { openRoom } from "../src/room/room.js";

const exec = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const PAT = `ghp_${"N3st3dT0ken".repeat(4)}`;
const OTHER = `github_pat_${"11ABCDEFG0".repeat(5)}`;
const git = (cwd: string, ...args: string[]) =>
  exec("git", ["-C", cwd, ...args], {
    env: {
      ...process.env,
      // A view's files show as the room user's: git as root reads them all the same.
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "safe.directory",
      GIT_CONFIG_VALUE_0: "*",
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@x",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@x",
    },
  });

async function repo(dir: string, file: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await git(dir, "init", "-q", "-b", "main");
  await writeFile(path.join(dir, file), "content\n");
  await git(dir, "add", ".");
  await git(dir, "commit", "-q", "-m", "first");
}

/** Every file under `dir` (symbolic links not followed) whose bytes hold `needle`. */
async function holding(dir: string, needle: string): Promise<string[]> {
  const r = await exec("grep", ["-rlF", "--", needle, dir]).catch((e: { stdout?: string }) => ({
    stdout: e.stdout ?? "",
  }));
  return r.stdout.split("\n").filter(Boolean);
}

/** A workspace holding credentials in every place other steps leave them (see the top). */
async function seededWorkspace(root: string): Promise<string> {
  const ws = path.join(root, "ws");
  await repo(ws, "README.md");
  const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${OTHER}`).toString("base64")}`;
  await git(ws, "config", "http.https://github.com/.extraheader", header);

  // A submodule, as actions/checkout leaves one: a link inside, its config with the header.
  await repo(path.join(ws, "lib"), "lib.txt");
  await exec("mv", [path.join(ws, "lib", ".git"), path.join(ws, ".git", "modules-lib")]);
  await mkdir(path.join(ws, ".git", "modules"), { recursive: true });
  await exec("mv", [path.join(ws, ".git", "modules-lib"), path.join(ws, ".git", "modules", "lib")]);
  await writeFile(path.join(ws, "lib", ".git"), "gitdir: ../.git/modules/lib\n");
  await git(ws, "config", "--file", ".git/modules/lib/config", "core.worktree", "../../../lib");
  await git(ws, "config", "--file", ".git/modules/lib/config", "http.extraheader", header);

  // Another step's checkout inside the workspace, with its own token three ways.
  const tools = path.join(ws, "tools");
  await repo(tools, "tool.sh");
  await git(tools, "remote", "add", "origin", `https://x-access-token:${PAT}@github.com/o/tools`);
  await git(tools, "config", "http.extraheader", `AUTHORIZATION: bearer ${PAT}`);
  await writeFile(
    path.join(tools, ".git", "FETCH_HEAD"),
    `0000000000000000000000000000000000000000\t\tbranch 'main' of https://x-access-token:${PAT}@github.com/o/tools\n`,
  );
  await git(
    tools,
    "update-ref",
    "-m",
    `clone: from https://x-access-token:${PAT}@github.com/o/tools`,
    "refs/heads/main",
    "HEAD",
  );

  // Git directories under other names: a bare mirror another step left in a cache, a separate
  // git dir reached by a link, a submodule named "objects" and a branch named "index".
  await exec("git", ["clone", "-q", "--bare", tools, path.join(ws, "cache", "tools.git")]);
  await git(
    path.join(ws, "cache", "tools.git"),
    "config",
    "remote.origin.url",
    `https://x:${PAT}@github.com/o/t`,
  );
  await repo(path.join(ws, "sep"), "s.txt");
  await exec("mv", [path.join(ws, "sep", ".git"), path.join(ws, ".repos-sep")]);
  await writeFile(path.join(ws, "sep", ".git"), "gitdir: ../.repos-sep\n");
  await git(path.join(ws, ".repos-sep"), "config", "http.extraheader", `AUTHORIZATION: bearer ${PAT}`);
  await mkdir(path.join(ws, ".git", "modules", "objects"), { recursive: true });
  await writeFile(
    path.join(ws, ".git", "modules", "objects", "config"),
    `[http]\n\textraheader = bearer ${PAT}\n`,
  );
  await mkdir(path.join(ws, ".git", "logs", "refs", "heads"), { recursive: true });
  await writeFile(
    path.join(ws, ".git", "logs", "refs", "heads", "index"),
    `0 1 t <t@x> 0 +0000\tfetch https://x:${PAT}@github.com/o/r main:index\n`,
  );

  // A git link to a repository outside the workspace, and a credential store.
  const outside = path.join(root, "outside");
  await repo(outside, "secret.txt");
  await mkdir(path.join(ws, "vendor"));
  await writeFile(path.join(ws, "vendor", ".git"), `gitdir: ${path.join(outside, ".git")}\n`);
  await mkdir(path.join(ws, "deploy"));
  await writeFile(path.join(ws, "deploy", ".git-credentials"), `https://u:${PAT}@github.com\n`);

  return ws;
}

/** The room's tree carries none of them, and is still a working repository. */
async function expectScrubbed(work: string, ws: string, leftOut: { path: string; why: string }[]) {
  const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${OTHER}`).toString("base64")}`;
  const tools = path.join(ws, "tools");
  expect(await holding(work, PAT)).toEqual([]);
  expect(await holding(work, OTHER)).toEqual([]);
  expect(await holding(work, header.split(" ")[2]!)).toEqual([]);
  expect(await holding(work, "extraheader")).toEqual([]);
  expect(existsSync(path.join(work, "vendor", ".git"))).toBe(false);
  expect(leftOut.map((l) => `${l.path}: ${l.why}`).sort()).toEqual(
    [
      "deploy/.git-credentials: a credential file another step wrote",
      "tools/.git/FETCH_HEAD: git metadata holding a credential",
      "tools/.git/logs/HEAD: git metadata holding a credential",
      ".git/logs/refs/heads/index: git metadata holding a credential",
      "vendor/.git: a git link that leads out of the checkout",
    ].sort(),
  );
  // Still repositories: the checkout, its submodule (through the link inside) and the nested one.
  const head = async (dir: string) => (await git(dir, "rev-parse", "HEAD")).stdout.trim();
  expect(await head(work)).toBe(await head(ws));
  expect(await head(path.join(work, "lib"))).toBe(await head(path.join(ws, "lib")));
  expect(await head(path.join(work, "tools"))).toBe(await head(tools));
  expect((await git(path.join(work, "tools"), "remote")).stdout.trim()).toBe("");
  expect(await readFile(path.join(work, "lib", "lib.txt"), "utf8")).toBe("content\n");
}

describe("the checkout's copy for the room", () => {
  it("carries no credential from nested checkouts, git links or credential files, and still works", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "aegis-copy-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const ws = await seededWorkspace(root);
    const work = path.join(root, "work");
    await mkdir(work);
    const plan = await planScrub(ws, { secrets: [], scratch: root });
    await copyCheckout(ws, work, plan);
    await expectScrubbed(work, ws, plan.leftOut);
  });

  it("plans from the checkout's real place: a workspace under a linked folder is scrubbed in the copy, never in place", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "aegis-copy-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await mkdir(path.join(root, "real"));
    await symlink(path.join(root, "real"), path.join(root, "linked"));
    await seededWorkspace(path.join(root, "real"));
    const ws = path.join(root, "linked", "ws");
    const plan = await planScrub(ws, { secrets: [], scratch: root });
    for (const p of [...plan.leftOut.map((l) => l.path), ...plan.rewrites.map((r) => r.path)])
      expect(p.startsWith("..") || path.isAbsolute(p), p).toBe(false);
    const work = path.join(root, "a", "b", "c", "work");
    await mkdir(work, { recursive: true });
    await copyCheckout(ws, work, plan);
    await expectScrubbed(work, ws, plan.leftOut);
    // The checkout itself: as it was.
    expect(await readFile(path.join(ws, ".git", "config"), "utf8")).toContain("extraheader");
    expect(existsSync(path.join(ws, "tools", ".git", "FETCH_HEAD"))).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0 || viewUnavailable() !== undefined)(
    "as a view, the same workspace carries the same nothing, its submodule included",
    async () => {
      const root = await mkdtemp(path.join(os.tmpdir(), "aegis-copy-"));
      cleanups.push(() => rm(root, { recursive: true, force: true }));
      const ws = await seededWorkspace(root);
      const name = `aegt-s${randomBytes(4).toString("hex")}`;
      cleanups.push(() => exec("userdel", [name]));
      const room = await openRoom({
        sandbox: "user",
        runnerTemp: root,
        userName: name,
        egress: { kind: "open" },
      });
      cleanups.push(async () => {
        await room.reap();
        await room.dispose();
      });
      const plan = await planScrub(ws, { secrets: [], scratch: root });
      expect(await room.takeCheckout(ws, plan, root)).toEqual({ kind: "view" });
      await expectScrubbed(room.work, ws, plan.leftOut);
      // The submodule's config kept its work tree (planned once, from the checkout's .git).
      expect(await readFile(path.join(room.work, ".git", "modules", "lib", "config"), "utf8")).toContain(
        "worktree = ../../../lib",
      );
    },
  );

  it("refuses a checkout whose own .git leads outside the workspace", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "aegis-copy-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const outside = path.join(root, "outside");
    await repo(outside, "a.txt");
    const ws = path.join(root, "ws");
    await mkdir(ws);
    await writeFile(path.join(ws, ".git"), `gitdir: ${path.join(outside, ".git")}\n`);
    const work = path.join(root, "work");
    await mkdir(work);
    await expect(planScrub(ws, { secrets: [], scratch: root })).rejects.toThrow(
      /the checkout's .git is a link to a repository outside the workspace/,
    );
  });
});
