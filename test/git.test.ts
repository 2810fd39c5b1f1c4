// The run-mode git adapter against real git in temp dirs, with a local bare repository as the remote.
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  checkoutBase,
  commitLeftovers,
  createTaskBranch,
  describeBranch,
  dirtyPaths,
  guardRepository,
  pushBranch,
  remoteHeads,
  type Remote,
} from "../src/adapters/git.js";

const run = promisify(execFile);
const sh = async (cwd: string, ...args: string[]) => (await run("git", args, { cwd })).stdout.trim();

let root: string;
let work: string;
let remote: Remote;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "aegis-git-"));
  const bare = path.join(root, "origin.git");
  const seed = path.join(root, "seed");
  await run("git", ["init", "-q", "--bare", "-b", "main", bare]);
  await run("git", ["init", "-q", "-b", "main", seed]);
  await writeFile(path.join(seed, "README.md"), "# hi\n");
  await sh(seed, "add", ".");
  await sh(seed, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "init");
  await sh(seed, "push", "-q", bare, "main");
  work = path.join(root, "work");
  await run("git", ["clone", "-q", bare, work]);
  remote = { url: bare, token: "ghs_notUsedByFileRemotes" };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function commit(file: string, text: string, message = "change") {
  await mkdir(path.dirname(path.join(work, file)), { recursive: true });
  await writeFile(path.join(work, file), text);
  await sh(work, "add", "--", file);
  await sh(work, "commit", "-qm", message);
}

async function prepare(branch = "auto/docs/1-1") {
  const heads = await remoteHeads(work, remote, ["main", branch]);
  const baseSha = heads.get("main")!;
  await checkoutBase(work, remote, "main", baseSha);
  return { baseSha, heads, start: await createTaskBranch(work, remote, { branch, baseSha }) };
}

describe("run-mode git", () => {
  it("branches from the remote default tip and sets the commit identity the agent needs", async () => {
    const { baseSha, heads, start } = await prepare();
    expect(heads.has("auto/docs/1-1")).toBe(false);
    expect(start).toEqual({ baseSha, startSha: baseSha, continued: false });
    expect(await sh(work, "symbolic-ref", "--short", "HEAD")).toBe("auto/docs/1-1");
    expect(await sh(work, "config", "user.name")).toBe("github-actions[bot]");
  });

  it("restores a tampered .git/config, and runs no planted hook or fsmonitor", async () => {
    await prepare();
    const guard = await guardRepository(work);
    const marker = path.join(root, "pwned");
    const hook = path.join(work, ".git", "hooks", "pre-commit");
    await writeFile(hook, `#!/bin/sh\ntouch ${marker}\n`);
    await chmod(hook, 0o755);
    await sh(work, "config", "core.fsmonitor", `touch ${marker}; echo`);
    await sh(work, "config", "core.hooksPath", path.join(work, ".git", "hooks"));
    expect(await guard.restore()).toEqual([".git/config"]);
    expect(await sh(work, "config", "--get", "core.hooksPath").catch(() => "")).toBe("");
    await writeFile(path.join(work, "a.txt"), "a\n");
    await commitLeftovers(work, { leaveOut: () => false, message: "leftovers" });
    expect(existsSync(marker)).toBe(false);
  });

  it("commits leftovers except secret-looking files and what was dirty before", async () => {
    await prepare();
    await writeFile(path.join(work, "build.log"), "from the base tests\n");
    const before = new Set(await dirtyPaths(work));
    await writeFile(path.join(work, "feature.md"), "new\n");
    await writeFile(path.join(work, ".env"), "KEY=1\n");
    const result = await commitLeftovers(work, {
      leaveOut: (p) => p === ".env" || before.has(p),
      message: "leftovers",
    });
    expect(result.committed).toEqual(["feature.md"]);
    expect(result.leftOut.sort()).toEqual([".env", "build.log"]);
    expect(await sh(work, "log", "-1", "--format=%an %s")).toBe("github-actions[bot] leftovers");
  });

  it("describes the branch: net change for size, every commit's patch for secrets", async () => {
    const { baseSha, start } = await prepare();
    await commit("leak.txt", "SECRET-VALUE-123\n", "add");
    await rm(path.join(work, "leak.txt"));
    await sh(work, "commit", "-qam", "remove");
    await commit("docs/a.md", "doc\n");
    const state = await describeBranch(work, baseSha, start.startSha);
    expect(state.commitsAhead).toBe(3);
    expect(state.newCommits).toBe(3);
    expect(state.netPaths).toEqual(["docs/a.md"]);
    expect(state.historyPaths.sort()).toEqual(["docs/a.md", "leak.txt"]);
    expect(state.netDiff).not.toContain("SECRET-VALUE-123");
    expect(state.historyPatches).toContain("+SECRET-VALUE-123");
  });

  it("pushes plainly, refuses to overwrite without a lease, and replaces a stale branch only at the sha seen", async () => {
    const branch = "auto/docs/1-1";
    const { baseSha } = await prepare(branch);
    await commit("one.md", "1\n");
    const first = await sh(work, "rev-parse", "HEAD");
    await pushBranch(work, remote, { sha: first, branch });
    expect((await remoteHeads(work, remote, [branch])).get(branch)).toBe(first);

    // A later attempt starts again from the base: a different history.
    await createTaskBranch(work, remote, { branch, baseSha });
    await commit("two.md", "2\n");
    const second = await sh(work, "rev-parse", "HEAD");
    await expect(pushBranch(work, remote, { sha: second, branch })).rejects.toThrow(/git push/);
    await expect(pushBranch(work, remote, { sha: second, branch, replaceSha: baseSha })).rejects.toThrow(
      /git push/,
    );
    await pushBranch(work, remote, { sha: second, branch, replaceSha: first });
    expect((await remoteHeads(work, remote, [branch])).get(branch)).toBe(second);
  });

  it("continues from an earlier attempt's pushed tip when it is the one recorded", async () => {
    const branch = "auto/docs/1-1";
    const { baseSha } = await prepare(branch);
    await commit("one.md", "1\n");
    const tip = await sh(work, "rev-parse", "HEAD");
    await pushBranch(work, remote, { sha: tip, branch });
    // A fresh checkout, as the next job has.
    await rm(work, { recursive: true, force: true });
    await run("git", ["clone", "-q", remote.url, work]);
    await checkoutBase(work, remote, "main", baseSha);
    const resumed = await createTaskBranch(work, remote, { branch, baseSha, continueSha: tip });
    expect(resumed).toEqual({ baseSha, startSha: tip, continued: true });
    expect(await readFile(path.join(work, "one.md"), "utf8")).toBe("1\n");
    const stale = await createTaskBranch(work, remote, { branch, baseSha, continueSha: "f".repeat(40) });
    expect(stale.continued).toBe(false);
  });

  it("fetches the base into an empty workspace when the job did not check out", async () => {
    const empty = path.join(root, "empty");
    await mkdir(empty);
    const baseSha = (await remoteHeads(empty, remote, ["main"])).get("main")!;
    await checkoutBase(empty, remote, "main", baseSha);
    expect(await sh(empty, "rev-parse", "HEAD")).toBe(baseSha);
    expect(await readFile(path.join(empty, "README.md"), "utf8")).toBe("# hi\n");
  });
});
