/**
 * The room's OS user: its name (one per runner), its creation and the checks that it is a user of
 * its own, the lock that keeps two steps of one machine out of one room, and the switch to it.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import { exec, type Privilege, privileged, RoomError, SYSTEM_PATH } from "./privilege.js";

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

export interface RoomUser {
  name: string;
  uid: number;
  gid: number;
}

export async function lookupUser(name: string): Promise<(RoomUser & { groups: string[] }) | undefined> {
  const entry = await exec("getent", ["passwd", name]);
  if (entry.code !== 0) return undefined;
  const [, , uid, gid] = entry.stdout.trim().split(":");
  const groups = (await exec("id", ["-Gn", name])).stdout.trim().split(/\s+/).filter(Boolean);
  return { name, uid: Number(uid), gid: Number(gid), groups };
}

export async function ensureUser(privilege: Privilege, name: string, base: string): Promise<RoomUser> {
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
export function setprivArgs(user: RoomUser): string[] {
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

/** The room's user and directory, from the options or the environment (AEGIS_ROOM_USER, AEGIS_ROOM_DIR). */
export function roomPlace(opts: { userName?: string; rootDir?: string }): {
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

export type RoomLock = { release(): void } | "busy";

/**
 * One step at a time per room user on a machine: a root-only lock file beside the rooms, held by
 * a `flock` child of the action's for as long as the room is open. The child waits on a pipe from
 * the action, so the lock goes when the action does, however it ends (the post step can then take
 * it to clean up). Another step that finds it held is refused rather than reaping a live room.
 */
export async function lockRoom(privilege: Privilege, root: string, name: string): Promise<RoomLock> {
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
