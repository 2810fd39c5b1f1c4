/**
 * Installs a pinned npm CLI (Claude Code, Codex) once per runner and per cache.
 *
 * Lookup order: the runner's tool cache directory (self-hosted runners keep it between jobs), then
 * the Actions cache, then `npm install` from the registry. A missing cache service (no
 * ACTIONS_RESULTS_URL, GHES without cache) is a normal path, not an error.
 *
 * Nothing is run from a cache before it is proven to be what npm installs: code the agent wrote
 * runs in the repository's CI, which can save an Actions cache entry under this very key (in the
 * PR's scope, which aegis's `pull_request` jobs read first) or, on a self-hosted runner, rewrite
 * the tool cache on disk. So a copy from either is first hashed, every file and link of its tree
 * (core/tool-digest.ts), and compared with the digest aegis ships for the pinned version and
 * platform (src/adapters/tool-integrity.json, made by scripts/tool-integrity.mjs from a clean
 * install); only a match is run, even for `--version`. A version or platform aegis has no digest
 * for is installed from the registry every time and never restored.
 */
import { execFile } from "node:child_process";
import * as exec from "@actions/exec";
import { access, constants, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as core from "@actions/core";
import { withoutRunnerCredentials } from "../core/agent-env.js";
import { treeDigest } from "./tool-digest.js";
import SHIPPED from "./tool-integrity.json" with { type: "json" };

/** The part of `@actions/cache` used here, so tests can pass a plain fake. */
export interface CacheLike {
  isFeatureAvailable(): boolean;
  restoreCache(paths: string[], primaryKey: string, restoreKeys?: string[]): Promise<string | undefined>;
  saveCache(paths: string[], key: string): Promise<number>;
}

export interface InstallOptions {
  packageName: string;
  version: string;
  binName: string;
  /** `RUNNER_TOOL_CACHE`. */
  toolCacheDir: string;
  cache: CacheLike;
  /** npm executable; tests point it at a stand-in. */
  npm?: string;
  /** The tree digest a cached copy must have; default: the digest shipped for this version and platform. */
  integrity?: string;
}

/** The digest aegis ships for `packageName@version` on this platform, if any. */
export function shippedIntegrity(packageName: string, version: string): string | undefined {
  const table = SHIPPED as Record<string, Record<string, string> | undefined>;
  return table[`${packageName}@${version}`]?.[`${process.platform}-${process.arch}`];
}

/** Whether the tree at `dir` is exactly the one npm installs (the digest matches). */
async function trusted(dir: string, expected: string | undefined, where: string): Promise<boolean> {
  if (!expected) return false;
  const actual = await treeDigest(dir).catch(() => undefined);
  if (actual === expected) return true;
  if (actual)
    core.warning(
      `The ${where} copy at ${dir} is not the one npm installs (digest ${actual}); not run, reinstalling.`,
    );
  return false;
}

export type InstallSource = "tool-cache" | "actions-cache" | "npm";

export interface InstallResult {
  binPath: string;
  /** Restored from the Actions cache. */
  cacheHit: boolean;
  /** Installed from the registry by this call. */
  installed: boolean;
  source: InstallSource;
}

/** Strict semver 2.0: the version goes on an npm command line, so nothing else gets through. */
export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const BIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Packages whose bin is put in place by an install script that npm may skip (npm 11 asks for
 * `allowScripts`): run it ourselves when the bin does not answer after the install.
 */
const POSTINSTALL_FALLBACK: Record<string, string> = { "@anthropic-ai/claude-code": "install.cjs" };

const VERIFY_TIMEOUT_MS = 60_000;

export function toolDir(toolCacheDir: string, packageName: string, version: string): string {
  return path.join(
    toolCacheDir,
    "aegis",
    ...packageName.split("/"),
    version,
    `${process.platform}-${process.arch}`,
  );
}

export function cacheKey(packageName: string, version: string): string {
  return `aegis-${packageName.replace(/^@/, "").replace(/\//g, "-")}-${version}-${process.platform}-${process.arch}`;
}

function validate(opts: InstallOptions): void {
  if (!SEMVER.test(opts.version))
    throw new Error(
      `version ${JSON.stringify(opts.version)} of ${opts.packageName} is not an exact semver version (e.g. 2.1.330)`,
    );
  if (!PACKAGE_NAME.test(opts.packageName))
    throw new Error(`package name ${JSON.stringify(opts.packageName)} is not a valid npm package name`);
  if (!BIN_NAME.test(opts.binName))
    throw new Error(`bin name ${JSON.stringify(opts.binName)} is not a plain file name`);
}

function run(
  file: string,
  args: string[],
  opts: { cwd?: string; timeoutMs: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        timeout: opts.timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...withoutRunnerCredentials(process.env), DISABLE_AUTOUPDATER: "1" },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr || (err && !stdout ? err.message : "")),
        });
      },
    );
  });
}

/** Whether `binPath --version` names exactly `version` (as a whole token). */
export async function verifyVersion(binPath: string, version: string): Promise<boolean> {
  try {
    await access(binPath, constants.X_OK);
  } catch {
    return false;
  }
  const r = await run(binPath, ["--version"], { timeoutMs: VERIFY_TIMEOUT_MS });
  const escaped = version.replace(/[.+]/g, "\\$&");
  const ok = r.code === 0 && new RegExp(`(^|[^0-9A-Za-z.])v?${escaped}([^0-9A-Za-z.]|$)`).test(r.stdout);
  if (!ok)
    core.info(
      `${binPath} --version answered ${JSON.stringify(r.stdout.trim().slice(0, 200))} (exit ${r.code}), expected ${version}`,
    );
  return ok;
}

async function restoreFromCache(cache: CacheLike, dir: string, key: string): Promise<boolean> {
  let available = false;
  try {
    available = cache.isFeatureAvailable();
  } catch (err) {
    core.info(`Actions cache unavailable (${String(err)}); installing from the registry`);
    return false;
  }
  if (!available) {
    core.info("No Actions cache service on this runner; installing from the registry");
    return false;
  }
  try {
    const hit = await cache.restoreCache([dir], key);
    if (!hit) core.info(`No Actions cache entry ${key}`);
    return hit !== undefined;
  } catch (err) {
    core.info(
      `Actions cache restore of ${key} failed (${err instanceof Error ? err.message : String(err)}); installing from the registry`,
    );
    return false;
  }
}

async function saveToCache(cache: CacheLike, dir: string, key: string): Promise<void> {
  try {
    if (!cache.isFeatureAvailable()) return;
    await cache.saveCache([dir], key);
    core.info(`Saved ${key} to the Actions cache`);
  } catch (err) {
    // Another job saving the same key first (or a full cache) leaves this run perfectly usable.
    core.info(
      `Could not save ${key} to the Actions cache: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

async function npmInstall(opts: InstallOptions, dir: string, binPath: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  // An own package.json keeps npm from walking up into an unrelated project.
  await writeFile(path.join(dir, "package.json"), '{ "private": true }\n');
  const spec = `${opts.packageName}@${opts.version}`;
  core.info(`Installing ${spec} from the npm registry`);
  const args = [
    "install",
    "--no-save",
    "--prefix",
    dir,
    "--include=optional",
    "--ignore-scripts=false",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    // @actions/exec has no wall-clock limit: bound npm's own network waits instead.
    "--fetch-timeout=60000",
    "--fetch-retries=2",
    spec,
  ];
  // Through @actions/exec: what npm prints streams into the workflow log as it happens.
  const out = await exec.getExecOutput(opts.npm ?? "npm", args, {
    cwd: dir,
    env: { ...withoutRunnerCredentials(process.env), DISABLE_AUTOUPDATER: "1" },
    ignoreReturnCode: true,
  });
  const r = { code: out.exitCode, stderr: out.stderr };
  if (r.code !== 0) {
    throw new Error(
      `npm install ${spec} failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`,
    );
  }
  const script = POSTINSTALL_FALLBACK[opts.packageName];
  if (script && !(await verifyVersion(binPath, opts.version))) {
    const pkgDir = path.join(dir, "node_modules", ...opts.packageName.split("/"));
    core.info(`Running ${opts.packageName}/${script} (npm skipped the install script)`);
    const s = await run(process.execPath, [script], { cwd: pkgDir, timeoutMs: VERIFY_TIMEOUT_MS });
    if (s.code !== 0)
      throw new Error(
        `${opts.packageName}/${script} failed (exit ${s.code}): ${s.stderr.trim().slice(-500)}`,
      );
  }
}

export async function installNpmTool(opts: InstallOptions): Promise<InstallResult> {
  validate(opts);
  const dir = toolDir(opts.toolCacheDir, opts.packageName, opts.version);
  const binPath = path.join(dir, "node_modules", ".bin", opts.binName);
  const key = cacheKey(opts.packageName, opts.version);
  const expected = opts.integrity ?? shippedIntegrity(opts.packageName, opts.version);
  if (!expected)
    core.info(
      `No shipped digest for ${opts.packageName}@${opts.version} on ${process.platform}-${process.arch}: installing from the registry (caches are used only for versions aegis can verify).`,
    );

  if (
    expected &&
    (await trusted(dir, expected, "tool cache")) &&
    (await verifyVersion(binPath, opts.version))
  ) {
    core.info(`Using ${opts.packageName} ${opts.version} from the tool cache`);
    return { binPath, cacheHit: false, installed: false, source: "tool-cache" };
  }
  if (expected && (await restoreFromCache(opts.cache, dir, key))) {
    if ((await trusted(dir, expected, "Actions cache")) && (await verifyVersion(binPath, opts.version))) {
      core.info(`Restored ${opts.packageName} ${opts.version} from the Actions cache`);
      return { binPath, cacheHit: true, installed: false, source: "actions-cache" };
    }
    core.info(`The cached ${key} is not usable; reinstalling`);
  }
  await npmInstall(opts, dir, binPath);
  if (!(await verifyVersion(binPath, opts.version))) {
    throw new Error(
      `${opts.packageName}@${opts.version} installed, but ${binPath} --version does not report ${opts.version}`,
    );
  }
  // Saved only where a later restore can check it: what has no digest is never restored anyway.
  if (expected) {
    if (await trusted(dir, expected, "fresh")) await saveToCache(opts.cache, dir, key);
  }
  return { binPath, cacheHit: false, installed: true, source: "npm" };
}
