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
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { EgressPolicy } from "../core/egress.js";
import { copyCheckout, type ScrubPlan } from "./checkout-copy.js";
import { type CheckoutTaken, checkoutTree, unmountViews } from "./checkout-view.js";
import { type EgressReport, installEgress, type InstalledEgress } from "./egress.js";
import { type Launcher, nameServicesToHide, namespaceWorks, reachableAs, roomLauncher } from "./launcher.js";
import {
  detectPrivilege,
  EGRESS_OPT_OUT,
  exec,
  OPT_OUT,
  type Privilege,
  privileged,
  RoomError,
} from "./privilege.js";
import {
  killSessionTree,
  type RoomCleanup,
  SESSION_TAG_VAR,
  SHARED_TEMP,
  userRoomCleanup,
} from "./reaper.js";
import { type ToolchainView, viewCommands } from "./toolchain-view.js";
import { ensureUser, lockRoom, lookupUser, roomPlace, type RoomLock, type RoomUser } from "./user.js";

export type Sandbox = "user" | "none";

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
  /**
   * Lays the room's tree of the checkout `source` in `work` (empty), as `plan` says: a view over
   * the checkout where the machine allows it (checkout-view.ts), else a copy. `renew(work)`
   * takes it away again.
   */
  takeCheckout(source: string, plan: ScrubPlan, scratch: string): Promise<CheckoutTaken>;
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
  /** Removes the room's directory (after `reap`); throws (removing nothing) while a process of the room survives or the checkout's view cannot be unmounted. */
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
  await unmountViews(privilege, base);
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
  const tree = checkoutTree(privilege, user, dirs.work, path.join(base, "layers"));
  return {
    sandbox: "user",
    unresolved: egress?.unresolved ?? [],
    egressReport: async () => egress?.report(),
    user,
    base,
    ...dirs,
    launch,
    takeCheckout: (source, plan, scratch) => tree.take(source, plan, scratch),
    async handOver() {
      // A view's files already show as the room's; a chown through it would copy every one up.
      const mine = tree.viewed() ? [dirs.home, dirs.testHome] : [dirs.home, dirs.work, dirs.testHome];
      await privileged(
        privilege,
        "chown",
        ["-R", "--no-dereference", `${user.uid}:${user.gid}`, ...mine],
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
      if (dir === dirs.work) await tree.drop();
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
    async takeCheckout(source, plan) {
      await copyCheckout(source, dirs.work, plan);
      return { kind: "copy", why: "the room has no user of its own (run.sandbox: none)" };
    },
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
): Promise<RoomCleanup> {
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
        await unmountViews(privilege, base);
        await privileged(privilege, "rm", ["-rf", "--one-file-system", base], "").catch(() => undefined);
      },
    };
  }
  return userRoomCleanup(privilege, { name, uid: found.uid, gid: found.gid }, base);
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
