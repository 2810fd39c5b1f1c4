/**
 * Finding and stopping everything of a room, one reaper for the main step, the post step and a
 * session's end.
 *
 * With a user of its own, the room's processes are exactly that user's: `reapUser` kills them all
 * (see `userRoomCleanup`). Without one (`run.sandbox: none`), and for a session's own stop, they
 * are found another way: the session runs detached in its own process group, but Claude Code
 * starts each Bash tool command in a new session of its own (setsid), so a background child
 * (`cmd &`) is in neither the CLI's group nor its session and survives the CLI. What every
 * descendant does keep is the environment, so the session carries a random tag variable and, on
 * Linux, `/proc/<pid>/environ` finds the stragglers. (A process that clears its own environment
 * escapes the tag; the group kill still covers everything that did not call setsid.)
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { unmountViews } from "./checkout-view.js";
import { removeEgress, sealEgress } from "./egress.js";
import { roomLauncher } from "./launcher.js";
import { exec, type Privilege, privileged, RoomError } from "./privilege.js";
import type { RoomUser } from "./user.js";

export const SESSION_TAG_VAR = "AEGIS_SESSION_TAG";

/** What the post step needs of a room: its processes stopped, then its files and rules gone. */
export interface RoomCleanup {
  /** Kills every process of the room; returns how many there were. Throws if some survive. */
  reap(): Promise<number>;
  /** Removes the room (after `reap`). */
  dispose(): Promise<void>;
}

/** One pass over /proc: the live pids (zombies hold nothing; this process excluded) that `match`. */
async function scanProcesses(match: (pid: number, stat: ProcStat) => Promise<boolean>): Promise<number[]> {
  if (process.platform !== "linux") return [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const pid = Number(e);
        if (pid === process.pid) return;
        try {
          const stat = await statOf(pid);
          // A zombie has already exited; its parent (or init) reaps it, and it cannot be killed.
          if (stat.state === "Z" || stat.state === "X") return;
          if (await match(pid, stat)) found.push(pid);
        } catch {
          // Exited meanwhile, or not ours to read: either way nothing to kill.
        }
      }),
  );
  return found.sort((a, b) => a - b);
}

interface ProcStat {
  state: string;
  pgrp: number;
}

async function statOf(pid: number): Promise<ProcStat> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "", pgrp: Number(rest[2]) };
}

/** Live pids of processes any of whose uids (real, effective, saved, filesystem) is `uid`. */
export function processesOf(uid: number): Promise<number[]> {
  return scanProcesses(async (pid) => {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
    return uids.includes(uid);
  });
}

/** Pids whose environment holds `SESSION_TAG_VAR=tag` or whose process group is `pgid`. */
export function findSessionProcesses(tag: string, pgid?: number): Promise<number[]> {
  // environ ends each entry with NUL; prefix a NUL so the match is a whole entry.
  const needle = Buffer.from(`\0${SESSION_TAG_VAR}=${tag}\0`);
  return scanProcesses(async (pid, stat) => {
    if (pgid !== undefined && stat.pgrp === pgid) return true;
    const env = await readFile(`/proc/${pid}/environ`);
    return Buffer.concat([Buffer.from([0]), env]).includes(needle);
  });
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM the group and every tagged process, wait up to `graceMs` for them to go, then SIGKILL
 * what is left. Returns how many processes were still alive at the first pass.
 */
export async function killSessionTree(opts: {
  pgid?: number;
  tag: string;
  graceMs: number;
}): Promise<number> {
  const { pgid, tag, graceMs } = opts;
  const first = await findSessionProcesses(tag, pgid);
  if (pgid !== undefined && pgid > 1) signal(-pgid, "SIGTERM");
  for (const pid of first) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let left: number[];
  while (Date.now() < deadline) {
    left = await findSessionProcesses(tag, pgid);
    if (left.length === 0 && (process.platform === "linux" || pgid === undefined || !groupAlive(pgid)))
      return first.length;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (pgid !== undefined && pgid > 1) signal(-pgid, "SIGKILL");
  for (const pid of await findSessionProcesses(tag, pgid)) signal(pid, "SIGKILL");
  return first.length;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where a process of the room may have left files outside its directory. */
export const SHARED_TEMP = ["/tmp", "/var/tmp", "/dev/shm"];

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
export function userRoomCleanup(privilege: Privilege, user: RoomUser, base: string): RoomCleanup {
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
    // The checkout's view and its lower layer first: while one stays mounted, nothing is removed.
    await unmountViews(privilege, base);
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
