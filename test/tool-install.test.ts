import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cacheKey,
  installNpmTool,
  SEMVER,
  toolDir,
  verifyVersion,
  type CacheLike,
} from "../src/adapters/tool-install.js";
import { treeDigest } from "../src/adapters/tool-digest.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "aegis-install-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
const fresh = () => path.join(root, `tc${++n}`);

/** A stand-in CLI: `--version` prints `<version> (Fake)`. */
async function writeFakeBin(dir: string, bin: string, version: string): Promise<string> {
  const binDir = path.join(dir, "node_modules", ".bin");
  await mkdir(binDir, { recursive: true });
  const file = path.join(binDir, bin);
  await writeFile(file, `#!/bin/sh\necho "${version} (Fake)"\n`);
  await chmod(file, 0o755);
  return file;
}

class FakeCache implements CacheLike {
  saved: string[] = [];
  restored: string[] = [];
  constructor(
    private readonly opts: {
      available?: boolean;
      onRestore?: (dir: string) => Promise<boolean>;
      saveError?: Error;
      restoreError?: Error;
    } = {},
  ) {}
  isFeatureAvailable(): boolean {
    return this.opts.available ?? true;
  }
  async restoreCache(paths: string[], key: string): Promise<string | undefined> {
    this.restored.push(key);
    if (this.opts.restoreError) throw this.opts.restoreError;
    return (await this.opts.onRestore?.(paths[0] ?? "")) ? key : undefined;
  }
  async saveCache(_paths: string[], key: string): Promise<number> {
    if (this.opts.saveError) throw this.opts.saveError;
    this.saved.push(key);
    return 1;
  }
}

/** An `npm` stand-in that "installs" by writing the bin (optionally one needing install.cjs). */
async function fakeNpm(mode: "ok" | "needs-install-script" | "fail"): Promise<{ npm: string; log: string }> {
  const dir = path.join(root, `npm${++n}`);
  await mkdir(dir, { recursive: true });
  const log = path.join(dir, "args.json");
  const npm = path.join(dir, "npm");
  await writeFile(
    npm,
    `#!/usr/bin/env node
const fs = require("fs"), path = require("path");
const args = process.argv.slice(2);
fs.writeFileSync(${JSON.stringify(log)}, JSON.stringify(args));
if (${JSON.stringify(mode)} === "fail") { console.error("E404 not found"); process.exit(1); }
const prefix = args[args.indexOf("--prefix") + 1];
const spec = args[args.length - 1];
const at = spec.lastIndexOf("@");
const name = spec.slice(0, at), version = spec.slice(at + 1);
const bin = path.join(prefix, "node_modules", ".bin", "claude");
fs.mkdirSync(path.dirname(bin), { recursive: true });
const good = "#!/bin/sh\\necho \\"" + version + " (Claude Code)\\"\\n";
if (${JSON.stringify(mode)} === "ok") { fs.writeFileSync(bin, good, { mode: 0o755 }); process.exit(0); }
fs.writeFileSync(bin, "#!/bin/sh\\necho placeholder >&2; exit 1\\n", { mode: 0o755 });
const pkg = path.join(prefix, "node_modules", ...name.split("/"));
fs.mkdirSync(pkg, { recursive: true });
fs.writeFileSync(path.join(pkg, "install.cjs"), "require('fs').writeFileSync(" + JSON.stringify(bin) + ", " + JSON.stringify(good) + ", { mode: 0o755 });");
`,
  );
  await chmod(npm, 0o755);
  return { npm, log };
}

const pkg = { packageName: "@anthropic-ai/claude-code", version: "2.1.330", binName: "claude" };

/** The digest of a tree holding just `node_modules/.bin/claude` with `text` (what the stand-ins write). */
async function digestOf(text: string): Promise<string> {
  const dir = fresh();
  const bin = path.join(dir, "node_modules", ".bin", "claude");
  await mkdir(path.dirname(bin), { recursive: true });
  await writeFile(bin, text);
  await chmod(bin, 0o755);
  return treeDigest(dir);
}
const fakeBinText = (version: string) => `#!/bin/sh\necho "${version} (Fake)"\n`;
const npmOkText = (version: string) => `#!/bin/sh\necho "${version} (Claude Code)"\n`;

describe("installNpmTool", () => {
  /** A "claude" that CI could have planted: run once, it leaves a mark (and would read the environ). */
  const poisoned = (mark: string) => `#!/bin/sh\ntouch ${mark}\necho "2.1.330 (Claude Code)"\n`;

  it("never runs a copy from the Actions cache that is not the one npm installs; reinstalls and does not save over it", async () => {
    const mark = path.join(fresh(), "ran");
    const cache = new FakeCache({
      onRestore: async (dir) => {
        const bin = path.join(dir, "node_modules", ".bin", "claude");
        await mkdir(path.dirname(bin), { recursive: true });
        await writeFile(bin, poisoned(mark), { mode: 0o755 });
        return true;
      },
    });
    const { npm } = await fakeNpm("ok");
    const integrity = await digestOf(npmOkText("2.1.330"));
    const r = await installNpmTool({ ...pkg, toolCacheDir: fresh(), cache, npm, integrity });
    expect(r.source).toBe("npm");
    await expect(readFile(mark)).rejects.toThrow();
    expect(await readFile(r.binPath, "utf8")).toBe(npmOkText("2.1.330"));
  });

  it("never runs a tool cache copy on disk that is not the one npm installs", async () => {
    const toolCacheDir = fresh();
    const mark = path.join(fresh(), "ran");
    const bin = path.join(
      toolDir(toolCacheDir, pkg.packageName, pkg.version),
      "node_modules",
      ".bin",
      "claude",
    );
    await mkdir(path.dirname(bin), { recursive: true });
    await writeFile(bin, poisoned(mark), { mode: 0o755 });
    const { npm } = await fakeNpm("ok");
    const integrity = await digestOf(npmOkText("2.1.330"));
    const r = await installNpmTool({ ...pkg, toolCacheDir, cache: new FakeCache(), npm, integrity });
    expect(r.source).toBe("npm");
    await expect(readFile(mark)).rejects.toThrow();
  });

  it("a version aegis ships no digest for is never restored or saved: always the registry", async () => {
    const cache = new FakeCache({ onRestore: async () => true });
    const { npm } = await fakeNpm("ok");
    const r = await installNpmTool({ ...pkg, version: "2.1.329", toolCacheDir: fresh(), cache, npm });
    expect(r.source).toBe("npm");
    expect(cache.restored).toEqual([]);
    expect(cache.saved).toEqual([]);
  });

  it("ships a digest for each pinned CLI on linux-x64", async () => {
    const { shippedIntegrity } = await import("../src/adapters/tool-install.js");
    const yml = await readFile("action.yml", "utf8");
    for (const [name, input] of [
      ["@anthropic-ai/claude-code", "claude-version"],
      ["@openai/codex", "codex-version"],
    ] as const) {
      const version = new RegExp(`${input}:[\\s\\S]*?default:\\s*"?([0-9][^"\\s]*)`).exec(yml)![1]!;
      if (process.platform === "linux" && process.arch === "x64")
        expect(shippedIntegrity(name, version), name).toMatch(/^sha256-[0-9a-f]{64}$/);
    }
  });

  it("uses a verified copy in the tool cache without touching cache or npm", async () => {
    const toolCacheDir = fresh();
    await writeFakeBin(toolDir(toolCacheDir, pkg.packageName, pkg.version), "claude", "2.1.330");
    const cache = new FakeCache();
    const { npm, log } = await fakeNpm("fail");
    const integrity = await digestOf(fakeBinText("2.1.330"));
    const r = await installNpmTool({ ...pkg, toolCacheDir, cache, npm, integrity });
    expect(r).toEqual({
      binPath: path.join(
        toolCacheDir,
        "aegis",
        "@anthropic-ai",
        "claude-code",
        "2.1.330",
        `${process.platform}-${process.arch}`,
        "node_modules",
        ".bin",
        "claude",
      ),
      cacheHit: false,
      installed: false,
      source: "tool-cache",
    });
    expect(cache.restored).toEqual([]);
    await expect(readFile(log)).rejects.toThrow();
  });

  it("restores from the Actions cache with the documented key", async () => {
    const toolCacheDir = fresh();
    const cache = new FakeCache({
      onRestore: async (dir) => (await writeFakeBin(dir, "claude", "2.1.330"), true),
    });
    const integrity = await digestOf(fakeBinText("2.1.330"));
    const r = await installNpmTool({ ...pkg, toolCacheDir, cache, npm: "/nonexistent/npm", integrity });
    expect(r).toMatchObject({ cacheHit: true, installed: false, source: "actions-cache" });
    expect(cache.restored).toEqual([
      `aegis-anthropic-ai-claude-code-2.1.330-${process.platform}-${process.arch}`,
    ]);
    expect(cache.saved).toEqual([]);
  });

  it("reinstalls when the tool cache holds another version, then saves to the cache", async () => {
    const toolCacheDir = fresh();
    await writeFakeBin(toolDir(toolCacheDir, pkg.packageName, pkg.version), "claude", "2.1.329");
    const cache = new FakeCache();
    const { npm, log } = await fakeNpm("ok");
    const integrity = await digestOf(npmOkText("2.1.330"));
    const r = await installNpmTool({ ...pkg, toolCacheDir, cache, npm, integrity });
    expect(r).toMatchObject({ cacheHit: false, installed: true, source: "npm" });
    expect(cache.saved).toEqual([cacheKey(pkg.packageName, pkg.version)]);
    const args = JSON.parse(await readFile(log, "utf8")) as string[];
    expect(args).toEqual(
      expect.arrayContaining([
        "install",
        "--no-save",
        "--include=optional",
        "--ignore-scripts=false",
        "@anthropic-ai/claude-code@2.1.330",
      ]),
    );
    expect(await verifyVersion(r.binPath, "2.1.330")).toBe(true);
  });

  it("treats a missing cache service and a failing cache as normal paths", async () => {
    for (const cache of [
      new FakeCache({ available: false }),
      new FakeCache({ restoreError: new Error("cache down"), saveError: new Error("reserve failed") }),
    ]) {
      const { npm } = await fakeNpm("ok");
      const r = await installNpmTool({ ...pkg, toolCacheDir: fresh(), cache, npm });
      expect(r.source).toBe("npm");
      expect(cache.saved).toEqual([]);
    }
  });

  it("runs the package's install.cjs when npm skipped it", async () => {
    const { npm } = await fakeNpm("needs-install-script");
    const r = await installNpmTool({
      ...pkg,
      toolCacheDir: fresh(),
      cache: new FakeCache({ available: false }),
      npm,
    });
    expect(r.source).toBe("npm");
    expect(await verifyVersion(r.binPath, "2.1.330")).toBe(true);
  });

  it("fails clearly when npm fails", async () => {
    const { npm } = await fakeNpm("fail");
    await expect(
      installNpmTool({ ...pkg, toolCacheDir: fresh(), cache: new FakeCache({ available: false }), npm }),
    ).rejects.toThrow(/npm install @anthropic-ai\/claude-code@2.1.330 failed \(exit 1\): E404/);
  });

  it.each(["latest", "2.1", "2.1.330; rm -rf /", "^2.1.330", "02.1.3", "2.1.330 --registry=http://evil"])(
    "rejects version %j before running anything",
    async (version) => {
      await expect(
        installNpmTool({
          ...pkg,
          version,
          toolCacheDir: fresh(),
          cache: new FakeCache(),
          npm: "/nonexistent",
        }),
      ).rejects.toThrow(/not an exact semver/);
    },
  );

  it("accepts prerelease and build metadata versions", () => {
    expect(SEMVER.test("1.0.0-rc.1+build.5")).toBe(true);
    expect(SEMVER.test("1.0.0-01")).toBe(false);
  });

  it("matches the version as a whole token", async () => {
    const dir = fresh();
    const bin = await writeFakeBin(dir, "tool", "2.1.3300");
    expect(await verifyVersion(bin, "2.1.330")).toBe(false);
    expect(await verifyVersion(path.join(dir, "missing"), "2.1.330")).toBe(false);
  });
});

describe.skipIf(process.env.AEGIS_NETWORK_TESTS !== "1")("installNpmTool against the npm registry", () => {
  it(
    "installs the pinned Claude Code and finds it in the tool cache the second time",
    { timeout: 600_000 },
    async () => {
      const toolCacheDir = fresh();
      const cache = new FakeCache({ available: false });
      const first = await installNpmTool({ ...pkg, toolCacheDir, cache });
      expect(first.source).toBe("npm");
      const second = await installNpmTool({ ...pkg, toolCacheDir, cache });
      expect(second.source).toBe("tool-cache");
    },
  );
});
