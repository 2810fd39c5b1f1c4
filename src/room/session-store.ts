/**
 * Keeps a Claude Code session's transcript between attempts of one task, in the Actions cache, so
 * a later attempt continues it with `--resume` instead of starting over.
 *
 * Where Claude Code 2.1.330 keeps a session (checked by running the CLI with a temporary HOME):
 * `$HOME/.claude/projects/<project key>/<session id>.jsonl`, plus a sidecar folder
 * `<project key>/<session id>/` holding `tool-results/` (large tool outputs that the transcript
 * points to by absolute path) and `subagents/`. The project key is the session's real cwd (symlinks
 * resolved) with every character outside [A-Za-z0-9] replaced by `-`; a key over 200 characters is
 * cut to 200 and suffixed with `-` and a base-36 hash of the path. `--resume ID` needs only the
 * `.jsonl` in the project folder of the cwd it runs in (no `.claude.json`, no other state);
 * `CLAUDE_CONFIG_DIR` moves all of this and must stay unset.
 *
 * The cache archive holds a staging folder with a manifest naming the session, so a restore learns
 * the session id without knowing it beforehand. A cache entry's version hashes the path strings it
 * was saved with, and its archive holds them relative to GITHUB_WORKSPACE: the stage is given as
 * `~/.aegis-session/<task>` — the same string in every job, whatever the runner's name, its HOME
 * or the room's user — and lands in the new job's HOME (hosted runners keep HOME and the workspace
 * in the same places). Nothing else of the session's paths carries over as a path: the manifest
 * records the HOME and cwd it was saved from, and a restore into another room (on GitHub-hosted
 * runners every job is a fresh machine with its own `RUNNER_NAME`, so its own room user and
 * folders) moves the transcript into the new cwd's project folder and rewrites the absolute paths
 * in it (the cwd, the HOME, the tool-results files it points to) to the new ones.
 *
 * Resuming is an optimisation: every failure here (no cache service, no entry, a bad archive) is
 * logged and reported as "not saved" / "not restored", never thrown.
 */
import { createHash } from "node:crypto";
import { cp, lstat, mkdir, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as core from "@actions/core";
import { z } from "zod";
import { secretForms } from "../core/secret-scan.js";
import { isSingleLinkFile, readRoomFile } from "./room-file.js";
import type { CacheLike } from "../adapters/tool-install.js";

export const SESSION_KEY_PREFIX = "aegis-session-";
/** Folder name, under RUNNER_TEMP, of the agent's HOME: the same path in every job. */
export const SESSION_HOME_DIR = "aegis-claude-home";
const STAGE_DIR = ".aegis-session";
const MANIFEST = "manifest.json";
const MANIFEST_VERSION = 1;
/** Claude Code cuts longer project keys and adds a hash (its own constant). */
const PROJECT_KEY_MAX = 200;
/** Large tool outputs beyond this stay behind; the transcript alone still resumes. */
export const SIDECAR_MAX_BYTES = 256 * 1024 * 1024;

const TASK_ID = /^[A-Za-z0-9._]+(?:-[A-Za-z0-9._]+)*$/;
/** Claude Code session ids are UUIDs; the id becomes a file name, so nothing else gets through. */
export const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SessionStoreOptions {
  cache: CacheLike;
  /** The agent's HOME; must be the same path in every job (see {@link sessionHome}). */
  home: string;
  /** The session's working directory (the workspace). */
  cwd: string;
  taskId: string;
  /** The attempt being saved, or the attempt about to run (restore). 1-based. */
  attempt: number;
}

export interface SaveSessionOptions extends SessionStoreOptions {
  sessionId: string;
  /**
   * Values that must never reach the cache (the API keys and token the run holds). Cache entries
   * of the default branch can be restored by pull-request workflows, forks included, so a
   * transcript that shows one of them is not saved at all.
   */
  knownSecrets?: string[];
}

export type SaveSessionResult =
  | { saved: true; key: string; bytes: number; sidecar: boolean }
  | { saved: false; key?: string; reason: string };

export type RestoreSessionResult =
  | { restored: true; sessionId: string; key: string; fromAttempt: number }
  | { restored: false; reason: string };

const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  taskId: z.string().regex(TASK_ID),
  attempt: z.int().positive(),
  sessionId: z.string().regex(SESSION_ID),
  projectKey: z.string(),
  savedAt: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The HOME and (real) cwd the session ran in, for a restore elsewhere to relocate its paths. */
  home: z.string().startsWith("/").optional(),
  cwd: z.string().startsWith("/").optional(),
});
type Manifest = z.infer<typeof manifestSchema>;

// ---- pure helpers ----

/** The agent's HOME for a job: stable across jobs so cached paths restore in place. */
export function sessionHome(runnerTemp: string): string {
  return path.join(runnerTemp, SESSION_HOME_DIR);
}

export function sessionKey(taskId: string, attempt: number): string {
  return `${SESSION_KEY_PREFIX}${taskId}-${attempt}`;
}

/**
 * Keys for the attempt about to run: the previous attempt's exactly, then the newest of any
 * attempt of the task. The trailing `-` keeps task `12-3` from matching `12-31`.
 */
export function restoreKeys(taskId: string, attempt: number): { primary: string; fallback: string[] } {
  return { primary: sessionKey(taskId, attempt - 1), fallback: [`${SESSION_KEY_PREFIX}${taskId}-`] };
}

/** Java-style 32-bit string hash over UTF-16 code units, as Claude Code uses for long keys. */
function stringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = ((h << 5) - h + s.charCodeAt(i)) | 0;
  return h;
}

/** Claude Code's folder name under `~/.claude/projects` for a (real, absolute) cwd. */
export function projectKey(cwd: string): string {
  const escaped = cwd.replace(/[^a-zA-Z0-9]/g, "-");
  if (escaped.length <= PROJECT_KEY_MAX) return escaped;
  return `${escaped.slice(0, PROJECT_KEY_MAX)}-${Math.abs(stringHash(cwd)).toString(36)}`;
}

export function projectDir(home: string, cwd: string): string {
  return path.join(home, ".claude", "projects", projectKey(cwd));
}

/**
 * The one path the cache entry is made of, as given to the cache (identical in every job of the
 * task) and as a folder of this job (in the action's HOME, never the room's).
 */
export function stagePath(taskId: string, homedir = os.homedir()): { pattern: string; dir: string } {
  return { pattern: `~/${STAGE_DIR}/${taskId}`, dir: path.join(homedir, STAGE_DIR, taskId) };
}

/**
 * The transcript of a session saved from `from`, as it reads in `to`: every absolute path under
 * the old project folder, HOME or cwd now under the new one (longest first, so the project folder
 * inside HOME moves as a whole). Paths sit in JSON strings, where `/` is not escaped.
 */
export function relocateTranscript(
  text: string,
  from: { home: string; cwd: string },
  to: { home: string; cwd: string },
): string {
  const moves: [string, string][] = [
    [projectDir(from.home, from.cwd), projectDir(to.home, to.cwd)],
    [from.home, to.home],
    [from.cwd, to.cwd],
  ];
  let out = text;
  for (const [a, b] of moves.filter(([a, b]) => a !== b).sort((x, y) => y[0].length - x[0].length)) {
    // Only whole path prefixes: `/a/home` must not rewrite `/a/homework`.
    out = out.replace(new RegExp(`${a.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=[/"\\\\]|$)`, "g"), b);
  }
  return out;
}

/** A transcript cut by a killed process may end mid-line: keep whole JSONL records only. */
export function wholeLines(text: string): string {
  if (text === "" || text.endsWith("\n")) return text;
  const cut = text.lastIndexOf("\n");
  return cut < 0 ? "" : text.slice(0, cut + 1);
}

function checkArgs(o: SessionStoreOptions): string | undefined {
  if (!TASK_ID.test(o.taskId) || o.taskId.length > 200)
    return `task id ${JSON.stringify(o.taskId)} has an unexpected form`;
  if (!Number.isInteger(o.attempt) || o.attempt < 1)
    return `attempt must be a positive integer, got ${o.attempt}`;
  if (!path.isAbsolute(o.home) || !path.isAbsolute(o.cwd)) return "home and cwd must be absolute paths";
  return undefined;
}

// ---- I/O ----

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function cacheAvailable(cache: CacheLike): boolean {
  try {
    return cache.isFeatureAvailable();
  } catch {
    return false;
  }
}

/** Claude Code names the project after the real path of its cwd. */
async function realCwd(cwd: string): Promise<string> {
  try {
    return await realpath(cwd);
  } catch {
    return cwd;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Copies a folder's directories and regular files only: the agent could plant a symlink pointing
 * anywhere (the action may read as root) or a FIFO that would hang the copy.
 */
async function copyTree(src: string, dest: string): Promise<void> {
  await cp(src, dest, {
    recursive: true,
    filter: async (p) => {
      const st = await lstat(p);
      return st.isDirectory() || (st.isFile() && (await isSingleLinkFile(p)));
    },
  });
}

/**
 * Whether `p` is a regular file (or, with `kind: "directory"`, a directory) — not a symlink — whose
 * real path is inside `home`: the agent shaped everything below its HOME, and a symlinked file or
 * folder there must not make the action read (and cache) a file the agent itself could not read.
 */
export async function isOwnEntry(
  p: string,
  home: string,
  kind: "file" | "directory" = "file",
): Promise<boolean> {
  try {
    const st = await lstat(p);
    if (kind === "file" ? !st.isFile() : !st.isDirectory()) return false;
    const [real, root] = await Promise.all([realpath(p), realpath(home)]);
    return real.startsWith(`${root}${path.sep}`);
  } catch {
    return false;
  }
}

async function treeFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await treeFiles(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** Which staged file, if any, shows a known secret in any of its encoded forms. */
async function fileWithSecret(dir: string, secrets: string[]): Promise<string | undefined> {
  const forms = secrets.filter((s) => s.length >= 8).flatMap((s) => secretForms(s));
  if (forms.length === 0) return undefined;
  for (const file of await treeFiles(dir)) {
    const text = await readFile(file, "utf8");
    if (forms.some((f) => text.includes(f))) return path.relative(dir, file);
  }
  return undefined;
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(p);
    else if (entry.isFile()) total += (await lstat(p)).size;
  }
  return total;
}

/**
 * Saves the transcript of `sessionId` under `aegis-session-<taskId>-<attempt>`. Call it when an
 * attempt ends in a way that will be retried (max turns or timeout with progress); entries are
 * immutable, so a second save of the same attempt is reported as not saved.
 */
export async function saveSession(opts: SaveSessionOptions): Promise<SaveSessionResult> {
  const bad =
    checkArgs(opts) ??
    (SESSION_ID.test(opts.sessionId) ? undefined : "the session id has an unexpected form");
  if (bad) {
    core.warning(`Session not saved: ${bad}`);
    return { saved: false, reason: bad };
  }
  const key = sessionKey(opts.taskId, opts.attempt);
  if (!cacheAvailable(opts.cache)) {
    core.info(
      `No Actions cache service on this runner: session ${opts.sessionId} cannot be resumed by a later attempt`,
    );
    return { saved: false, key, reason: "no cache service" };
  }
  const cwd = await realCwd(opts.cwd);
  const project = projectDir(opts.home, cwd);
  const transcript = path.join(project, `${opts.sessionId}.jsonl`);
  let text: string;
  try {
    if (!(await isOwnEntry(transcript, opts.home)))
      throw new Error("not a regular file inside the agent's HOME");
    text = wholeLines(await readRoomFile(transcript));
  } catch (err) {
    core.info(`Session not saved: no transcript at ${transcript} (${message(err)})`);
    return { saved: false, key, reason: "no transcript" };
  }
  if (text === "") {
    core.info(`Session not saved: the transcript ${transcript} is empty`);
    return { saved: false, key, reason: "empty transcript" };
  }

  const { pattern, dir: stage } = stagePath(opts.taskId);
  try {
    await rm(stage, { recursive: true, force: true });
    await mkdir(stage, { recursive: true, mode: 0o700 });
    await writeFile(path.join(stage, `${opts.sessionId}.jsonl`), text, { mode: 0o600 });
    const sidecarSrc = path.join(project, opts.sessionId);
    let sidecar = false;
    if ((await exists(sidecarSrc)) && (await isOwnEntry(sidecarSrc, opts.home, "directory"))) {
      const bytes = await treeBytes(sidecarSrc);
      if (bytes <= SIDECAR_MAX_BYTES) {
        await copyTree(sidecarSrc, path.join(stage, opts.sessionId));
        sidecar = true;
      } else {
        core.info(
          `Leaving ${bytes} bytes of saved tool output out of the session cache (over ${SIDECAR_MAX_BYTES})`,
        );
      }
    }
    const leaked = await fileWithSecret(stage, opts.knownSecrets ?? []);
    if (leaked) {
      core.warning(`Session ${opts.sessionId} not saved: ${leaked} shows a secret value the run holds`);
      return { saved: false, key, reason: "the transcript holds a secret value" };
    }
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      taskId: opts.taskId,
      attempt: opts.attempt,
      sessionId: opts.sessionId,
      projectKey: projectKey(cwd),
      savedAt: new Date().toISOString(),
      sha256: createHash("sha256").update(text).digest("hex"),
      home: opts.home,
      cwd,
    };
    await writeFile(path.join(stage, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const bytes = Buffer.byteLength(text) + (sidecar ? await treeBytes(path.join(stage, opts.sessionId)) : 0);
    // -1: the library already logged why (the key exists, or the cache refused the write).
    const id = await opts.cache.saveCache([pattern], key);
    if (id === -1) return { saved: false, key, reason: "the cache did not take the entry" };
    core.info(`Saved session ${opts.sessionId} (${bytes} bytes) as ${key}`);
    return { saved: true, key, bytes, sidecar };
  } catch (err) {
    core.warning(`Session ${opts.sessionId} not saved as ${key}: ${message(err)}`);
    return { saved: false, key, reason: message(err) };
  } finally {
    await rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Brings back the session of an earlier attempt of the task into `home`, for attempt
 * `opts.attempt` to pass to `--resume`. The first attempt has nothing to continue.
 */
export async function restoreSession(opts: SessionStoreOptions): Promise<RestoreSessionResult> {
  const bad = checkArgs(opts);
  if (bad) {
    core.warning(`Session not restored: ${bad}`);
    return { restored: false, reason: bad };
  }
  if (opts.attempt === 1) return { restored: false, reason: "first attempt" };
  if (!cacheAvailable(opts.cache)) {
    core.info("No Actions cache service on this runner: the session starts over");
    return { restored: false, reason: "no cache service" };
  }
  const { primary, fallback } = restoreKeys(opts.taskId, opts.attempt);
  const { pattern, dir: stage } = stagePath(opts.taskId);
  try {
    await rm(stage, { recursive: true, force: true });
    const hit = await opts.cache.restoreCache([pattern], primary, fallback);
    if (!hit) {
      core.info(`No saved session for task ${opts.taskId} (looked for ${primary}): the session starts over`);
      return { restored: false, reason: "no entry" };
    }
    const manifest = manifestSchema.parse(JSON.parse(await readFile(path.join(stage, MANIFEST), "utf8")));
    if (manifest.taskId !== opts.taskId) throw new Error(`entry ${hit} holds task ${manifest.taskId}`);
    if (manifest.attempt >= opts.attempt)
      throw new Error(`entry ${hit} is from attempt ${manifest.attempt}, not an earlier one`);
    const text = await readFile(path.join(stage, `${manifest.sessionId}.jsonl`), "utf8");
    if (createHash("sha256").update(text).digest("hex") !== manifest.sha256)
      throw new Error(`the transcript in ${hit} does not match its manifest`);

    const cwd = await realCwd(opts.cwd);
    let transcript = text;
    if (manifest.home && manifest.cwd) {
      transcript = relocateTranscript(
        text,
        { home: manifest.home, cwd: manifest.cwd },
        { home: opts.home, cwd },
      );
      if (transcript !== text)
        core.info(`The session ran in ${manifest.cwd}: its paths now point into ${cwd}`);
    } else if (manifest.projectKey !== projectKey(cwd))
      core.info(`The session ran in another folder (${manifest.projectKey}); paths it saved may not resolve`);
    const project = projectDir(opts.home, cwd);
    await mkdir(project, { recursive: true });
    await writeFile(path.join(project, `${manifest.sessionId}.jsonl`), transcript, { mode: 0o600 });
    const sidecar = path.join(stage, manifest.sessionId);
    if (await exists(sidecar)) await copyTree(sidecar, path.join(project, manifest.sessionId));
    core.info(`Restored session ${manifest.sessionId} of attempt ${manifest.attempt} from ${hit}`);
    return { restored: true, sessionId: manifest.sessionId, key: hit, fromAttempt: manifest.attempt };
  } catch (err) {
    core.warning(
      `Saved session of task ${opts.taskId} not restored: ${message(err)}; the session starts over`,
    );
    return { restored: false, reason: message(err) };
  } finally {
    await rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}
