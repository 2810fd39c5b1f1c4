// The real `@actions/cache` against the loopback fake: the archives are made with the runner's
// tar (and zstd when present) and travel over HTTP for real, so this proves the fake speaks the
// protocol the library uses.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as cache from "@actions/cache";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeCache, type FakeCache } from "./harness/fake-cache.js";

let root: string;
let fake: FakeCache;
const saved: Record<string, string | undefined> = {};
const ENV_KEYS = [
  "ACTIONS_CACHE_URL",
  "ACTIONS_RUNTIME_TOKEN",
  "ACTIONS_CACHE_SERVICE_V2",
  "ACTIONS_RESULTS_URL",
  "RUNNER_TEMP",
];

function setEnv(env: Record<string, string>): void {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "aegis-fake-cache-"));
  for (const k of ENV_KEYS) saved[k] = process.env[k];
});
afterAll(async () => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  fake = await startFakeCache();
  delete process.env.ACTIONS_RESULTS_URL;
  setEnv({ ...fake.env, RUNNER_TEMP: path.join(root, "runner-temp") });
});
afterEach(async () => {
  await fake.close();
});

let n = 0;
async function tree(files: Record<string, string>): Promise<string> {
  const dir = path.join(root, `data${++n}`);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

describe("fake Actions cache service (v1) with the real @actions/cache", () => {
  it("saves a directory and restores it into the same path after it was deleted", async () => {
    expect(cache.isFeatureAvailable()).toBe(true);
    const dir = await tree({ "a.txt": "alpha\n", "nested/deep/b.json": '{"b":1}\n' });
    const id = await cache.saveCache([dir], "fc-roundtrip-1");
    expect(id).toBeGreaterThan(0);
    const [entry] = fake.entries();
    expect(entry).toMatchObject({ id, key: "fc-roundtrip-1", committed: true });
    expect(entry?.size).toBe(fake.archive(id)?.length);
    // The v1 routes, not the v2 twirp ones.
    expect(fake.calls).toContain("POST /_apis/artifactcache/caches");
    expect(fake.calls).toContain(`PATCH /_apis/artifactcache/caches/${id}`);
    expect(fake.calls.some((c) => c.includes("twirp"))).toBe(false);

    await rm(dir, { recursive: true, force: true });
    const hit = await cache.restoreCache([dir], "fc-roundtrip-1");
    expect(hit).toBe("fc-roundtrip-1");
    expect(await readFile(path.join(dir, "a.txt"), "utf8")).toBe("alpha\n");
    expect(await readFile(path.join(dir, "nested/deep/b.json"), "utf8")).toBe('{"b":1}\n');
    expect(fake.calls).toContain(`GET /_archives/${id}`);
  });

  it("a large archive goes up in several chunks and comes back whole", async () => {
    // Incompressible data bigger than one small chunk, uploaded by concurrent PATCHes.
    const blob = (await import("node:crypto")).randomBytes(300 * 1024).toString("base64");
    const dir = await tree({ "big.txt": blob });
    const id = await cache.saveCache([dir], "fc-chunks", {
      uploadChunkSize: 64 * 1024,
      uploadConcurrency: 3,
    });
    expect(id).toBeGreaterThan(0);
    expect(fake.calls.filter((c) => c === `PATCH /_apis/artifactcache/caches/${id}`).length).toBeGreaterThan(
      3,
    );
    await rm(dir, { recursive: true, force: true });
    expect(await cache.restoreCache([dir], "fc-chunks")).toBe("fc-chunks");
    expect(await readFile(path.join(dir, "big.txt"), "utf8")).toBe(blob);
  });

  it("falls back to a restore-key prefix and picks the newest match", async () => {
    const dir = path.join(root, `prefix${++n}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "v.txt"), "first\n");
    expect(await cache.saveCache([dir], "fc-task-7-1")).toBeGreaterThan(0);
    await writeFile(path.join(dir, "v.txt"), "second\n");
    expect(await cache.saveCache([dir], "fc-task-7-2")).toBeGreaterThan(0);
    // Another task whose id shares the digits must not be picked by the prefix.
    await writeFile(path.join(dir, "v.txt"), "other task\n");
    expect(await cache.saveCache([dir], "fc-task-77-1")).toBeGreaterThan(0);

    await rm(dir, { recursive: true, force: true });
    const hit = await cache.restoreCache([dir], "fc-task-7-9", ["fc-task-7-"]);
    expect(hit).toBe("fc-task-7-2");
    expect(await readFile(path.join(dir, "v.txt"), "utf8")).toBe("second\n");

    // The exact restore key wins over a newer prefix match.
    await rm(dir, { recursive: true, force: true });
    expect(await cache.restoreCache([dir], "fc-none", ["fc-task-7-1", "fc-task-"])).toBe("fc-task-7-1");
    expect(await readFile(path.join(dir, "v.txt"), "utf8")).toBe("first\n");
  });

  it("a second save with the same key does not overwrite the entry", async () => {
    const dir = await tree({ "v.txt": "original\n" });
    const id = await cache.saveCache([dir], "fc-immutable");
    expect(id).toBeGreaterThan(0);
    await writeFile(path.join(dir, "v.txt"), "changed\n");
    // The library reports the 409 as "another job may be creating this cache" and returns -1.
    expect(await cache.saveCache([dir], "fc-immutable")).toBe(-1);
    expect(fake.entries()).toHaveLength(1);

    await rm(dir, { recursive: true, force: true });
    expect(await cache.restoreCache([dir], "fc-immutable")).toBe("fc-immutable");
    expect(await readFile(path.join(dir, "v.txt"), "utf8")).toBe("original\n");
  });

  it("entries are per (key, version): other paths under the same key miss", async () => {
    const a = await tree({ "x.txt": "a\n" });
    const b = await tree({ "x.txt": "b\n" });
    expect(await cache.saveCache([a], "fc-versioned")).toBeGreaterThan(0);
    // Same key, different paths → different version: a separate entry, not a conflict.
    expect(await cache.saveCache([b], "fc-versioned")).toBeGreaterThan(0);
    expect(new Set(fake.entries().map((e) => e.version)).size).toBe(2);
    const c = path.join(root, `never-saved${++n}`);
    expect(await cache.restoreCache([c], "fc-versioned")).toBeUndefined();
  });

  it("misses cleanly when nothing matches, and refuses a wrong runtime token", async () => {
    const dir = await tree({ "x.txt": "x\n" });
    expect(await cache.restoreCache([dir], "fc-absent", ["fc-absent-"])).toBeUndefined();
    expect(await cache.saveCache([dir], "fc-token")).toBeGreaterThan(0);
    process.env.ACTIONS_RUNTIME_TOKEN = "wrong";
    await rm(dir, { recursive: true, force: true });
    // The library turns the 401 into a warning and a miss.
    expect(await cache.restoreCache([dir], "fc-token")).toBeUndefined();
  });

  it("reports no service when ACTIONS_CACHE_URL is absent", () => {
    delete process.env.ACTIONS_CACHE_URL;
    expect(cache.isFeatureAvailable()).toBe(false);
  });
});
