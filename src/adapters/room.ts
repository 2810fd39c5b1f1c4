/**
 * The agent's room: a separate, unprivileged OS user for everything the agent can influence —
 * Claude Code with its hooks and tools, the test command of the ratchet, the Codex review.
 *
 * Why an OS user: the action's own process holds the GitHub token, the model keys and the
 * runner's tokens in its environment, and any process of the same user can read
 * `/proc/<pid>/environ`. A process of another user cannot. So the room's code runs as that other
 * user, with `no_new_privs`, no capabilities and no supplementary groups, in a directory of its
 * own (`base`):
 *
 *   base/            owned by the action, 755: the room can enter it, not write it
 *     tools/         the CLIs and hooks the room runs, staged by the action (read-only to the room)
 *     home/          the agent's HOME (the room's, 700)
 *     work/          the agent's working copy of the repository (the room's, 700)
 *     test-home/     HOME of the test command (the room's, 700)
 *
 * Nothing else is shared: the room never enters the runner's workspace, RUNNER_TEMP or tool
 * cache (they may sit in a 750 home). What the agent made comes back as data (a git bundle on a
 * pipe; the session transcript after `reclaim`), never by the action running code in the room.
 *
 * Privilege: root does the user switch directly; a non-root runner uses passwordless `sudo`
 * (GitHub-hosted runners have it). Without either the room cannot be built, and `openRoom` fails
 * closed with a message naming the opt-out `run.sandbox: none` — with which the room is a plain
 * directory and the agent shares the runner's user (the summary says so).
 */
import { execFile, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { constants, existsSync } from "node:fs";
import {
  access,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
} from "node:fs/promises";
import path from "node:path";
import { type EgressPolicy } from "../core/egress.js";
import {
  type EgressReport,
  installEgress,
  type InstalledEgress,
  removeEgress,
  sealEgress,
} from "./egress.js";
import { killSessionTree, SESSION_TAG_VAR } from "./process-tree.js";
import { type ToolchainView, viewCommands } from "./toolchain-view.js";

/** Default user name (with a suffix per runner); `AEGIS_ROOM_USER` (operators, tests) names another. */
export const DEFAULT_ROOM_USER = "aegis-agent";
/** Where sandboxed rooms live; `AEGIS_ROOM_DIR` moves it. */
export const DEFAULT_ROOM_ROOT = "/var/lib/aegis-room";
/** Groups that would give the room's user a way out: refused on an existing user. */
const DANGEROUS_GROUPS = new Set([
  "root",
  "sudo",
  "wheel",
  "admin",
  "adm",
  "docker",
  "lxd",
  "disk",
  "shadow",
]);
const USER_NAME = /^[a-z_][a-z0-9_-]{0,30}$/;

export type Sandbox = "user" | "none";

/** Runs `file args` somewhere (inside the room, or as the action): the argv and env to spawn. */
export type Launcher = (
  file: string,
  args: string[],
  env: Record<string, string>,
) => { file: string; args: string[]; env: Record<string, string> };

export interface RoomUser {
  name: string;
  uid: number;
  gid: number;
}

export interface Room {
  readonly sandbox: Sandbox;
  /** The room's user; undefined with `sandbox: none`. */
  readonly user?: RoomUser;
  readonly base: string;
  readonly tools: string;
  readonly home: string;
  readonly work: string;
  readonly testHome: string;
  /** Wraps a command so it runs inside the room. */
  readonly launch: Launcher;
  /** Gives `home`, `work` and `testHome` to the room (before anything of the room runs). */
  handOver(): Promise<void>;
  /**
   * Makes each of `paths` that the room's user can reach unreachable to it (their "other"
   * permission bits go; dispose puts them back), and checks again as that user: throws when one
   * stays reachable. Returns the paths it closed. No-op without a user of the room's own.
   */
  closeOff(paths: string[]): Promise<string[]>;
  /** Kills every process of the room; returns how many there were. Throws if some survive. */
  reap(): Promise<number>;
  /**
   * Empties `dir` (one of the room's directories) whatever the room left in it — modes that
   * forbid removal included — and gives it back to the action, empty (after `reap`).
   */
  renew(dir: string): Promise<void>;
  /** Makes the room's files under `dir` the action's again (after `reap`). */
  reclaim(dir: string): Promise<void>;
  /** Removes the room's directory (after `reap`); never throws. */
  dispose(): Promise<void>;
  /** What a JSON state entry needs for the post step to reap and dispose the room. */
  describe(): RoomDescription;
  /** Refused outbound attempts so far (undefined when egress is not limited). */
  egressReport(): Promise<EgressReport | undefined>;
  /** Allow-listed host names that did not resolve when the rules were made. */
  readonly unresolved: string[];
}

export interface RoomDescription {
  sandbox: Sandbox;
  base: string;
  user?: RoomUser;
  tag?: string;
  /** Whether owner-matched egress rules were installed for the user (the post step removes them). */
  egress?: boolean;
}

/** The room cannot be built: the message says why and names the opt-out. */
export class RoomError extends Error {
  override name = "RoomError";
}

const EGRESS_OPT_OUT =
  'Install iptables (GitHub-hosted runners have it), or set `run: { egress: ["*"] }` in the aegis config to let the agent reach any host.';

const OPT_OUT =
  "Run the job as root or as a user with passwordless sudo (GitHub-hosted runners are), " +
  "or set `run: { sandbox: none }` in the aegis config to let the agent share the runner's user " +
  "(its code can then read the action's credentials).";

type Privilege = "root" | "sudo";

const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

function exec(
  file: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        // System tools (useradd, iptables) live in sbin, which a runner user's PATH may lack.
        env: opts.env ?? { PATH: `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`, LC_ALL: "C" },
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a system command with root's rights: directly as root, else through `sudo -n`. */
async function privileged(privilege: Privilege, file: string, args: string[], what: string): Promise<string> {
  // A fixed PATH: what runs with root's rights is the system's tool, whatever PATH the job has.
  const env = { PATH: SYSTEM_PATH, LC_ALL: "C" };
  const run =
    privilege === "root"
      ? await exec(file, args, { env })
      : await exec("sudo", ["-n", "--", file, ...args], { env });
  if (run.code !== 0)
    throw new RoomError(
      `${what} failed (exit ${run.code}): ${run.stderr.trim().split("\n").slice(-2).join(" | ")}`,
    );
  return run.stdout;
}

async function detectPrivilege(): Promise<Privilege | string> {
  if (process.platform !== "linux") return `the agent's room needs Linux; this runner is ${process.platform}`;
  if (process.getuid?.() === 0) return "root";
  const probe = await exec("sudo", ["-n", "true"], { timeoutMs: 10_000 });
  if (probe.code === 0) return "sudo";
  return `this job runs as uid ${process.getuid?.()} without passwordless sudo (${probe.stderr.trim().split("\n")[0] || `sudo exit ${probe.code}`})`;
}

async function lookupUser(name: string): Promise<(RoomUser & { groups: string[] }) | undefined> {
  const entry = await exec("getent", ["passwd", name]);
  if (entry.code !== 0) return undefined;
  const [, , uid, gid] = entry.stdout.trim().split(":");
  const groups = (await exec("id", ["-Gn", name])).stdout.trim().split(/\s+/).filter(Boolean);
  return { name, uid: Number(uid), gid: Number(gid), groups };
}

async function ensureUser(privilege: Privilege, name: string, base: string): Promise<RoomUser> {
  let user = await lookupUser(name);
  if (!user) {
    await privileged(
      privilege,
      "useradd",
      ["--system", "--user-group", "--no-create-home", "--home-dir", base, "--shell", "/bin/bash", name],
      `creating the room's user ${name}`,
    );
    user = await lookupUser(name);
    if (!user) throw new RoomError(`the room's user ${name} was created but cannot be looked up`);
  }
  const self = process.getuid?.();
  if (user.uid === 0 || user.uid === self)
    throw new RoomError(`the room's user ${name} has uid ${user.uid}: it must be a user of its own`);
  const bad = user.groups.filter((g) => DANGEROUS_GROUPS.has(g));
  if (bad.length)
    throw new RoomError(`the room's user ${name} is in group(s) ${bad.join(", ")}, which would let it out`);
  return { name: user.name, uid: user.uid, gid: user.gid };
}

/** setpriv's switch to the room's user: no groups, no capabilities, no way to gain any. */
function setprivArgs(user: RoomUser): string[] {
  return [
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    "--",
  ];
}

/** Live pids of processes any of whose uids is `uid` (zombies excluded: they hold nothing). */
export async function processesOf(uid: number): Promise<number[]> {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return found;
  }
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        try {
          const status = await readFile(`/proc/${e}/status`, "utf8");
          const state = /^State:\s+(\S)/m.exec(status)?.[1];
          if (state === "Z" || state === "X") return;
          const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
          if (uids.includes(uid)) found.push(Number(e));
        } catch {
          // Gone meanwhile.
        }
      }),
  );
  return found.sort((a, b) => a - b);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Unix sockets through which any local user can have the system resolve a name — systemd-resolved's
 * varlink socket, the D-Bus system bus (resolve1), nscd — and so send a lookup out as another user,
 * past the room's egress rules and its name filter. The room's processes see an empty folder there.
 */
export const NAME_SERVICE_DIRS = ["/run/systemd/resolve", "/run/dbus", "/run/nscd"];

/** What the launcher runs (as root) before dropping to the room's user: the folders hidden. */
function hidingScript(hidden: readonly string[], view: readonly string[] = []): string {
  const mounts = hidden.map((d) => `/usr/bin/mount -t tmpfs -o size=4k,mode=755 aegis-hidden '${d}'`);
  return [...mounts, ...view, 'exec "$@"'].join(" && ");
}

function roomLauncher(
  privilege: Privilege,
  user: RoomUser,
  hidden: readonly string[] = [],
  view: string[] = [],
): Launcher {
  // Each process of the room starts in a mount namespace of its own where the name services'
  // sockets are hidden and the runner's HOME shows only the job's toolchain (toolchain-view.ts);
  // mounts made there never reach the machine.
  const hide =
    hidden.length || view.length
      ? [
          "/usr/bin/unshare",
          "--mount",
          "--propagation",
          "private",
          "--",
          "/bin/sh",
          "-c",
          hidingScript(hidden, view),
          "sh",
        ]
      : [];
  return (file, args, env) => {
    if (privilege === "root") {
      if (!hide.length) return { file: "setpriv", args: [...setprivArgs(user), file, ...args], env };
      return {
        file: hide[0]!,
        args: [...hide.slice(1), "setpriv", ...setprivArgs(user), file, ...args],
        env,
      };
    }
    // sudo keeps the environment with -E (implied SETENV for `ALL`) but replaces PATH with its
    // secure_path: `env` puts the room's PATH back (a path list, never a secret).
    return {
      file: "sudo",
      args: [
        "-n",
        "-E",
        "--",
        ...hide,
        "setpriv",
        ...setprivArgs(user),
        "/usr/bin/env",
        `PATH=${env.PATH ?? ""}`,
        file,
        ...args,
      ],
      env,
    };
  };
}

export interface OpenRoomOptions {
  sandbox: Sandbox;
  /** Where the unsandboxed room lives (RUNNER_TEMP). */
  runnerTemp: string;
  /** Default: AEGIS_ROOM_USER or aegis-agent. */
  userName?: string;
  /** Default: AEGIS_ROOM_DIR or /var/lib/aegis-room. */
  rootDir?: string;
  /** Where the room may connect; `open` still refuses cloud metadata. Default: open, no rules. */
  egress?: EgressPolicy;
  /** The job's toolchain in the runner's HOME, shown to the room read-only (toolchain-view.ts). */
  toolchain?: ToolchainView;
}

export async function openRoom(opts: OpenRoomOptions): Promise<Room> {
  if (opts.sandbox === "none") return openUnsandboxed(path.join(opts.runnerTemp, "aegis-room"));
  const privilege = await detectPrivilege();
  if (privilege !== "root" && privilege !== "sudo")
    throw new RoomError(`The agent's room cannot be built: ${privilege}. ${OPT_OUT}`);
  for (const tool of ["setpriv", "useradd", "getent", "chown"]) {
    const found = await exec("sh", ["-c", `command -v ${tool} || test -x /usr/sbin/${tool}`]);
    if (found.code !== 0)
      throw new RoomError(`The agent's room cannot be built: \`${tool}\` is not installed. ${OPT_OUT}`);
  }
  const { name, root, base } = roomPlace(opts);
  let lock: RoomLock | undefined;
  try {
    lock = await lockRoom(privilege, root, name);
    if (lock === "busy")
      throw new RoomError(
        `another aegis step on this machine is using the room's user ${name} right now; give each ` +
          "runner of the machine its own with the AEGIS_ROOM_USER environment variable",
      );
    const user = await ensureUser(privilege, name, base);
    const room = await buildSandboxed(privilege, user, root, base, opts.egress, opts.toolchain);
    const held = lock;
    return {
      ...room,
      async dispose() {
        try {
          await room.dispose();
        } finally {
          held.release();
        }
      },
    };
  } catch (error) {
    if (lock && lock !== "busy") lock.release();
    if (error instanceof RoomError)
      throw new RoomError(`The agent's room cannot be built: ${error.message}. ${OPT_OUT}`);
    throw error;
  }
}

type RoomLock = { release(): void } | "busy";

/**
 * One step at a time per room user on a machine: a root-only lock file beside the rooms, held by
 * a `flock` child of the action's for as long as the room is open. The child waits on a pipe from
 * the action, so the lock goes when the action does, however it ends (the post step can then take
 * it to clean up). Another step that finds it held is refused rather than reaping a live room.
 */
async function lockRoom(privilege: Privilege, root: string, name: string): Promise<RoomLock> {
  const file = path.join(root, `${name}.lock`);
  await privileged(privilege, "mkdir", ["-p", "-m", "755", root], "creating the room's root");
  await privileged(privilege, "sh", ["-c", 'umask 077 && : >> "$1"', "sh", file], "creating the room's lock");
  const args = ["-n", "-E", "75", file, "sh", "-c", "echo held && exec cat"];
  const child =
    privilege === "root"
      ? spawn("flock", args, { stdio: ["pipe", "pipe", "pipe"], env: { PATH: SYSTEM_PATH } })
      : spawn("sudo", ["-n", "--", "flock", ...args], {
          stdio: ["pipe", "pipe", "pipe"],
          env: { PATH: SYSTEM_PATH },
        });
  const outcome = await new Promise<"held" | "busy" | string>((resolve) => {
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("held")) resolve("held");
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => resolve(e.message));
    child.on("exit", (code) => resolve(code === 75 ? "busy" : `flock exited ${code}: ${err.trim()}`));
  });
  if (outcome === "busy") return "busy";
  if (outcome !== "held") throw new RoomError(`could not lock the room ${file}: ${outcome}`);
  child.stdout.resume();
  child.stderr.resume();
  // Not a reason for the action to stay alive; its end closes the pipe and frees the lock.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr])
    (stream as unknown as { unref?: () => void }).unref?.();
  return { release: () => child.stdin.end() };
}

async function limitEgress(
  privilege: Privilege,
  user: RoomUser,
  policy: EgressPolicy,
): Promise<InstalledEgress | undefined> {
  const run = (file: string, args: string[], what: string) => privileged(privilege, file, args, what);
  const found = await exec("sh", ["-c", "command -v iptables && command -v ip6tables"], {
    env: { PATH: `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin` },
  });
  if (found.code !== 0) {
    if (policy.kind === "open") return undefined;
    throw new RoomError(
      `the egress rules cannot be installed: iptables is not on this runner. ${EGRESS_OPT_OUT}`,
    );
  }
  try {
    return await installEgress(run, user.uid, policy);
  } catch (error) {
    throw new RoomError(
      `the egress rules cannot be installed (${(error as Error).message}). ${EGRESS_OPT_OUT}`,
    );
  }
}

/**
 * The name services' folders present on this machine, once a mount namespace is known to work.
 * Under an allow-list a machine that has them but cannot hide them fails closed; with `"*"` the
 * room may resolve any name anyway, and nothing is hidden.
 */
/** Fails (closed) where a mount namespace cannot be made: `what` needs one. */
async function namespaceWorks(privilege: Privilege, what: string): Promise<void> {
  await privileged(
    privilege,
    "/usr/bin/unshare",
    ["--mount", "--propagation", "private", "--", "/bin/true"],
    `${what} (a mount namespace)`,
  );
}

async function nameServicesToHide(privilege: Privilege, policy: EgressPolicy): Promise<string[]> {
  if (policy.kind === "open") return [];
  const present = NAME_SERVICE_DIRS.filter((d) => existsSync(d));
  if (!present.length) return [];
  await privileged(
    privilege,
    "/usr/bin/unshare",
    ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", hidingScript(present), "sh", "/bin/true"],
    `hiding the name services' sockets (${present.join(", ")}) from the room`,
  );
  return present;
}

async function buildSandboxed(
  privilege: Privilege,
  user: RoomUser,
  root: string,
  base: string,
  policy: EgressPolicy = { kind: "open" },
  toolchain?: ToolchainView,
): Promise<Room> {
  const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const stage = path.join(base, "toolchain");
  // Laid over a folder that holds the room itself, the view would hide the room's own files.
  const view =
    toolchain && !(base === toolchain.cover || base.startsWith(`${toolchain.cover}/`))
      ? viewCommands(toolchain, stage)
      : [];
  if (view.length) await namespaceWorks(privilege, "showing the job's toolchain to the room");
  const hidden = await nameServicesToHide(privilege, policy);
  const launch = roomLauncher(privilege, user, hidden, view);
  // What the runner's folders let the room's user do, seen without the toolchain view (which shows
  // an empty folder in their place): they must be closed on the machine itself.
  const probe = view.length ? roomLauncher(privilege, user, hidden) : launch;
  const dirs = roomDirs(base);
  const cleanup = userRoomCleanup(privilege, user, base);
  const closed: { path: string; mode: number }[] = [];
  const reap = cleanup.reap;
  const dispose = async (): Promise<void> => {
    // Throws, leaving the runner's folders closed, while a process of the room survives.
    await cleanup.dispose();
    await egress?.close();
    for (const c of closed.splice(0).reverse())
      await privileged(privilege, "chmod", [(c.mode & 0o7777).toString(8), "--", c.path], "").catch(
        () => undefined,
      );
  };
  // A room left by an earlier job (or a crash) goes first: its processes, then its files.
  await reap();
  await privileged(privilege, "mkdir", ["-p", "-m", "755", root], "creating the room's root");
  await privileged(privilege, "rm", ["-rf", "--one-file-system", base], "removing an earlier room");
  await privileged(
    privilege,
    "install",
    ["-d", "-m", "755", "-o", String(me.uid), "-g", String(me.gid), base],
    "creating the room",
  );
  for (const dir of Object.values(dirs)) await mkdir(dir, { mode: dir === dirs.tools ? 0o755 : 0o700 });
  if (view.length) await mkdir(stage, { mode: 0o755 });
  // In place before anything of the room runs; removed by dispose and by the post step.
  // (dispose, which closes its name filter, is only handed out below.)
  const egress = await limitEgress(privilege, user, policy);
  const tag = randomUUID();
  return {
    sandbox: "user",
    unresolved: egress?.unresolved ?? [],
    egressReport: async () => egress?.report(),
    user,
    base,
    ...dirs,
    launch,
    async handOver() {
      await privileged(
        privilege,
        "chown",
        ["-R", "--no-dereference", `${user.uid}:${user.gid}`, dirs.home, dirs.work, dirs.testHome],
        "handing the room its directories",
      );
    },
    async closeOff(paths) {
      const open = await reachableAs(probe, closable(paths, base));
      for (const p of open) {
        const { mode } = await stat(p);
        await privileged(privilege, "chmod", ["o-rwx", "--", p], `closing ${p} to the room`);
        closed.push({ path: p, mode });
      }
      const still = await reachableAs(probe, open);
      if (still.length)
        throw new RoomError(
          `The agent's room cannot be built: its user can still reach ${still.join(", ")}. ${OPT_OUT}`,
        );
      return open;
    },
    reap,
    async renew(dir) {
      if (!dir.startsWith(`${base}/`)) throw new RoomError(`${dir} is not a directory of the room`);
      await privileged(privilege, "rm", ["-rf", "--one-file-system", dir], `emptying ${dir}`);
      await mkdir(dir, { mode: 0o700 });
    },
    async reclaim(dir) {
      // --from: only what the room's user owns changes hands. A hard link the room made to a
      // file of someone else's keeps its owner; -R never follows a symbolic link.
      await privileged(
        privilege,
        "chown",
        ["-R", "--no-dereference", `--from=${user.uid}`, `${me.uid}:${me.gid}`, dir],
        "taking files back from the room",
      );
    },
    dispose,
    describe: () => ({ sandbox: "user", base, user, tag, egress: egress !== undefined }),
  };
}

async function openUnsandboxed(base: string): Promise<Room> {
  await rm(base, { recursive: true, force: true });
  const dirs = roomDirs(base);
  for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true, mode: 0o700 });
  // Without a user of its own, the room's processes are found by a tag in their environment
  // (a process that clears its environment escapes it: one more reason for the real room).
  const tag = randomUUID();
  return unsandboxedRoom(base, dirs, tag);
}

function unsandboxedRoom(
  base: string,
  dirs: { tools: string; home: string; work: string; testHome: string },
  tag: string,
): Room {
  return {
    sandbox: "none",
    base,
    ...dirs,
    unresolved: [],
    egressReport: async () => undefined,
    launch: (file, args, env) => ({ file, args, env: { ...env, [SESSION_TAG_VAR]: tag } }),
    async handOver() {},
    closeOff: async () => [],
    async renew(dir) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
    },
    reap: () => killSessionTree({ tag, graceMs: 2000 }),
    async reclaim() {},
    async dispose() {
      await rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
    describe: () => ({ sandbox: "none", base, tag }),
  };
}

/**
 * The room a main step described, for the post step to reap and remove. Of the description only
 * the kind of room is taken: the state travels through the job's log, where a process of the
 * agent's could print a `::save-state` line of its own, so the user, its uid and the directory
 * are derived again here exactly as `openRoom` derives them, never read from the state.
 */
export async function reopenRoom(
  desc: Pick<RoomDescription, "sandbox" | "tag">,
  opts: { runnerTemp: string },
): Promise<Pick<Room, "reap" | "dispose">> {
  if (desc.sandbox === "none") {
    const base = path.join(opts.runnerTemp, "aegis-room");
    const tag = desc.tag && /^[0-9a-f-]{36}$/.test(desc.tag) ? desc.tag : randomUUID();
    return unsandboxedRoom(base, roomDirs(base), tag);
  }
  const privilege = await detectPrivilege();
  if (privilege !== "root" && privilege !== "sudo") throw new RoomError(`cannot reap the room: ${privilege}`);
  const { name, root, base } = roomPlace({});
  // Held: another step on this machine has opened the room since; its processes are not ours.
  const lock = await lockRoom(privilege, root, name).catch(() => undefined);
  if (lock === "busy") return { reap: async () => 0, dispose: async () => undefined };
  const found = await lookupUser(name);
  if (!found || found.uid === 0 || found.uid === process.getuid?.()) {
    // No such user (or one that is not a room's): only the directory can be left.
    return {
      reap: async () => 0,
      dispose: async () => {
        await privileged(privilege, "rm", ["-rf", "--one-file-system", base], "").catch(() => undefined);
      },
    };
  }
  return userRoomCleanup(privilege, { name, uid: found.uid, gid: found.gid }, base);
}

/** The room's user and directory, from the options or the environment (AEGIS_ROOM_USER, AEGIS_ROOM_DIR). */
function roomPlace(opts: { userName?: string; rootDir?: string }): {
  name: string;
  root: string;
  base: string;
} {
  const name = opts.userName ?? process.env.AEGIS_ROOM_USER ?? defaultRoomUser(process.env.RUNNER_NAME);
  if (!USER_NAME.test(name))
    throw new RoomError(`the room's user name ${JSON.stringify(name)} is not a valid user name`);
  const root = opts.rootDir ?? process.env.AEGIS_ROOM_DIR ?? DEFAULT_ROOM_ROOT;
  return { name, root, base: path.join(root, name) };
}

/**
 * The room's user when none is named: one per runner, so several runners on one machine never
 * share a room (each one's reaper would stop the other's agent).
 */
export function defaultRoomUser(runnerName: string | undefined): string {
  if (!runnerName) return DEFAULT_ROOM_USER;
  return `${DEFAULT_ROOM_USER}-${createHash("sha256").update(runnerName).digest("hex").slice(0, 8)}`;
}

function roomDirs(base: string): { tools: string; home: string; work: string; testHome: string } {
  return {
    tools: path.join(base, "tools"),
    home: path.join(base, "home"),
    work: path.join(base, "work"),
    testHome: path.join(base, "test-home"),
  };
}

/**
 * The paths worth closing: absolute, below the top level, not a shared temporary directory, and
 * neither the room's directory nor one above it (the room must still reach its own files).
 */
function closable(paths: string[], base: string): string[] {
  const out = new Set<string>();
  for (const raw of paths) {
    if (!raw || !path.isAbsolute(raw)) continue;
    const p = path.resolve(raw);
    if (p.split("/").filter(Boolean).length < 2) continue;
    if (SHARED_TEMP.some((t) => p === t)) continue;
    if (base === p || base.startsWith(`${p}/`) || p.startsWith(`${base}/`)) continue;
    if (existsSync(p)) out.add(p);
  }
  return [...out];
}

/** Which of `paths` the room's user can reach: a directory it may enter or list, a file it may read. */
async function reachableAs(launch: Launcher, paths: string[]): Promise<string[]> {
  if (!paths.length) return [];
  const script =
    'for p; do if [ -d "$p" ]; then { [ -x "$p" ] || [ -r "$p" ]; } && printf "%s\\0" "$p"; ' +
    'elif [ -r "$p" ]; then printf "%s\\0" "$p"; fi; done; exit 0';
  const cmd = launch("/bin/sh", ["-c", script, "sh", ...paths], { PATH: "/usr/bin:/bin" });
  const probe = await exec(cmd.file, cmd.args, { env: cmd.env, timeoutMs: 30_000 });
  if (probe.code !== 0)
    throw new RoomError(`could not check what the room's user can reach (exit ${probe.code})`);
  return probe.stdout.split("\0").filter(Boolean);
}

/** Where a process of the room may have left files outside its directory. */
const SHARED_TEMP = ["/tmp", "/var/tmp", "/dev/shm"];

/**
 * Reaping and removal of a user's room, one implementation for the main step and the post step.
 *
 * `reap` kills from inside the room first: kill(-1) as the room's user reaches every process of
 * that user and nothing else — setsid'd, double-forked and `env -i` children included — and is
 * atomic against forks in a way a pid list is not. A room process that itself keeps sending
 * kill(-1) would kill each of those killers as they start, so what survives a round is also killed
 * by pid with root's rights, which the room cannot refuse. (A pid could in principle be reused
 * between the listing and the kill; the listing is re-read each round and the window is
 * microseconds against a pid space of millions.)
 *
 * `dispose` acts only when no process of the user is left. While one survives, the user's chain
 * is sealed to refuse everything (a survivor never gains the network) and nothing else is done:
 * root removing files a live process can still swap for links, or reopening the runner's folders
 * to it, is what the survivor would want. The step fails, saying so.
 */
function userRoomCleanup(privilege: Privilege, user: RoomUser, base: string): Pick<Room, "reap" | "dispose"> {
  const launch = roomLauncher(privilege, user);
  const run = (file: string, args: string[], what: string) => privileged(privilege, file, args, what);
  const reap = async (): Promise<number> => {
    const first = await processesOf(user.uid);
    if (first.length === 0) return 0;
    for (let round = 0; round < 50; round++) {
      const killer = launch("/bin/bash", ["-c", "kill -KILL -1 2>/dev/null; exit 0"], {
        PATH: "/usr/bin:/bin",
      });
      await exec(killer.file, killer.args, { env: killer.env, timeoutMs: 10_000 });
      let left = await processesOf(user.uid);
      if (left.length) {
        await run("kill", ["-KILL", ...left.map(String)], "").catch(() => undefined);
        left = await processesOf(user.uid);
      }
      if (left.length === 0) return first.length;
      await sleep(20 * (round + 1));
    }
    const left = await processesOf(user.uid);
    if (left.length)
      throw new RoomError(`${left.length} process(es) of the room's user ${user.name} survived being killed`);
    return first.length;
  };
  const dispose = async (): Promise<void> => {
    const survivors = await processesOf(user.uid);
    if (survivors.length) {
      await sealEgress(run, user.uid).catch(() => undefined);
      throw new RoomError(
        `${survivors.length} process(es) of the room's user ${user.name} (pid ${survivors.join(", ")}) ` +
          "outlived every attempt to stop them: the user's network stays sealed, and its files and the " +
          "folders closed to it are left as they are. Stop those processes, then run the job again.",
      );
    }
    await removeEgress(run, user.uid).catch(() => undefined);
    await run("rm", ["-rf", "--one-file-system", base], "").catch(() => undefined);
    // Files the room's user left in shared temporary directories (a planted script, a socket).
    // The room can only have written into folders it owns or that anyone may write to: the rest
    // is not descended into, so a /tmp full of other jobs' files costs little.
    const uid = String(user.uid);
    await run(
      "find",
      [
        ...SHARED_TEMP.filter((d) => existsSync(d)),
        "-xdev",
        "-mindepth",
        "1",
        ...["(", "-type", "d", "!", "-user", uid, "!", "-perm", "-0002", "-prune", ")"],
        // -delete would imply -depth, under which -prune does nothing: remove whole entries instead.
        // -execdir: rm is handed a name in the folder find stands in, never a path to walk again.
        ...["-o", "-user", uid, "-prune", "-execdir", "rm", "-rf", "--", "{}", "+"],
      ],
      "",
    ).catch(() => undefined);
  };
  return { reap, dispose };
}

// ---- staging the tools the room runs ----

/** An executable as the room runs it: a native binary, or a script run by the staged node. */
export interface StagedTool {
  file: string;
  prefixArgs: string[];
}

async function isElf(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const buf = Buffer.alloc(4);
    await handle.read(buf, 0, 4, 0);
    return buf.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await handle.close();
  }
}

/** A hard link where the file system allows it (instant, no space), else a copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to, constants.COPYFILE_FICLONE);
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  const stat = await lstat(from);
  if (stat.isSymbolicLink()) {
    // Packages may link inside themselves; follow once and copy what it names.
    return copyTree(await realpath(from), to);
  }
  if (stat.isDirectory()) {
    await mkdir(to, { recursive: true, mode: 0o755 });
    for (const entry of await readdir(from)) await copyTree(path.join(from, entry), path.join(to, entry));
    return;
  }
  if (stat.isFile()) await linkOrCopy(from, to);
}

async function packageRoot(file: string): Promise<string | undefined> {
  let dir = path.dirname(file);
  while (dir !== path.dirname(dir)) {
    try {
      await access(path.join(dir, "package.json"), constants.R_OK);
      return dir;
    } catch {
      dir = path.dirname(dir);
    }
  }
  return undefined;
}

/**
 * Puts `executable` where the room can run it and not change it: a native binary is linked in
 * alone; an npm script comes with its package (with its whole scope, where platform binaries
 * sit beside it, as @openai/codex's do) and runs under the staged `node`.
 */
export async function stageTool(room: Room, name: string, executable: string): Promise<StagedTool> {
  const real = await realpath(executable);
  if (await isElf(real)) {
    const to = path.join(room.tools, name);
    await linkOrCopy(real, to);
    return { file: to, prefixArgs: [] };
  }
  const pkg = await packageRoot(real);
  if (!pkg) throw new Error(`${executable} is neither a native binary nor part of an npm package`);
  const scoped = path.basename(path.dirname(pkg)).startsWith("@");
  const from = scoped ? path.dirname(pkg) : pkg;
  const to = path.join(room.tools, name, "node_modules", path.basename(from));
  await copyTree(from, to);
  const node = await stageNode(room);
  return { file: node, prefixArgs: [path.join(to, path.relative(from, real))] };
}

/** The action's own node, for the hooks and npm-script tools: never whatever `node` is on PATH. */
export async function stageNode(room: Room): Promise<string> {
  const to = path.join(room.tools, "node");
  try {
    await access(to, constants.X_OK);
  } catch {
    await linkOrCopy(process.execPath, to);
  }
  return to;
}

/** The hooks (settings and bundled scripts), copied so the room reads them but cannot change them. */
export async function stageHooks(room: Room, hooksDir: string): Promise<string> {
  const to = path.join(room.tools, "hooks");
  await copyTree(hooksDir, to);
  return to;
}

/** Runs a launched command to completion, stdout as a Buffer (for git plumbing inside the room). */
export function runLaunched(
  launch: Launcher,
  file: string,
  args: string[],
  env: Record<string, string>,
  opts: { cwd: string; timeoutMs: number; maxBytes: number },
): Promise<{ code: number | null; stdout: Buffer; stderr: string; overflow: boolean }> {
  const cmd = launch(file, args, env);
  return new Promise((resolve) => {
    const child = spawn(cmd.file, cmd.args, {
      cwd: opts.cwd,
      env: cmd.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      size += d.length;
      if (size > opts.maxBytes) {
        overflow = true;
        child.kill("SIGKILL");
      } else out.push(d);
    });
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: Buffer.alloc(0), stderr: e.message, overflow });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr, overflow });
    });
  });
}
