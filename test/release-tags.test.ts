// The release workflow's tag step (scripts/release-tags.mjs), run as the workflow runs it, against
// the fake GitHub: the first release makes vX.Y.Z and v1; the next moves v1 forward; a re-run of a
// release is a no-op; a patch of an older line leaves v1 alone; a released version never moves;
// a tag creation answered 502 after it landed is recognised on the retry.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";

const exec = promisify(execFile);
const SCRIPT = path.resolve("scripts/release-tags.mjs");
let fake: FakeGitHub | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function release(f: FakeGitHub, version: string, sha: string) {
  const r = await exec(process.execPath, [SCRIPT], {
    env: {
      PATH: process.env.PATH ?? "",
      VERSION: version,
      GITHUB_SHA: sha,
      GITHUB_REPOSITORY: `${f.owner}/${f.repo}`,
      GITHUB_API_URL: f.url,
      GH_TOKEN: f.token,
    },
  }).then(
    (x) => ({ code: 0, out: x.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? "" }),
  );
  return r;
}

const tag = async (f: FakeGitHub, name: string) =>
  (await f.git(["rev-parse", "--verify", "-q", `refs/tags/${name}`]).catch(() => "")).trim();

describe("the release's tags", () => {
  it("tag the version, move v1 forward only, repeat safely, never move a released version", async () => {
    fake = await startFakeGitHub();
    const f = fake;
    const first = (await f.branchSha(f.defaultBranch))!;
    expect(await release(f, "1.0.0", first)).toMatchObject({ code: 0 });
    expect(await tag(f, "v1.0.0")).toBe(first);
    expect(await tag(f, "v1")).toBe(first);

    await f.commitFile(f.defaultBranch, "NEWS.md", "news\n", "News");
    const second = (await f.branchSha(f.defaultBranch))!;
    // The creation of v1.1.0 lands but is answered 502: the script sees its own tag and goes on.
    const fault = f.inject({ route: "git/create-ref", status: 502, when: "after" });
    const r = await release(f, "1.1.0", second);
    expect(fault.hits).toBe(1);
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toContain(`Tagged v1.1.0 and moved v1 to ${second}`);
    expect(await tag(f, "v1.1.0")).toBe(second);
    expect(await tag(f, "v1")).toBe(second);
    expect(await tag(f, "v1.0.0")).toBe(first);

    // The same release again: nothing changes.
    expect(await release(f, "1.1.0", second)).toMatchObject({ code: 0 });
    expect(await tag(f, "v1")).toBe(second);
    // A patch of the older line: tagged, v1 stays on the newer commit.
    const patch = await release(f, "1.0.1", first);
    expect(patch.code).toBe(0);
    expect(patch.out).toContain("v1 stays at");
    expect(await tag(f, "v1.0.1")).toBe(first);
    expect(await tag(f, "v1")).toBe(second);
    // A released version never moves.
    const moved = await release(f, "1.0.0", second);
    expect(moved.code).not.toBe(0);
    expect(moved.out).toContain("a released version never moves");
    expect(await tag(f, "v1.0.0")).toBe(first);
    // v2 starts its own major tag.
    expect(await release(f, "2.0.0", second)).toMatchObject({ code: 0 });
    expect(await tag(f, "v2")).toBe(second);
    expect(await tag(f, "v1")).toBe(second);
  });

  it("refuses a malformed version", async () => {
    fake = await startFakeGitHub();
    const r = await release(fake, "1.0", (await fake.branchSha(fake.defaultBranch))!);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("version must be X.Y.Z");
  });
});
