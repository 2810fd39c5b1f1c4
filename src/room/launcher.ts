/**
 * How a command enters the room: as the room's user (setpriv: no groups, no capabilities, no way
 * to gain any), in a mount namespace of its own where the name services' sockets are hidden and
 * the runner's HOME shows only the job's toolchain.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { EgressPolicy } from "../core/egress.js";
import { exec, type Privilege, privileged, RoomError } from "./privilege.js";
import { type RoomUser, setprivArgs } from "./user.js";

/** Runs `file args` somewhere (inside the room, or as the action): the argv and env to spawn. */
export type Launcher = (
  file: string,
  args: string[],
  env: Record<string, string>,
) => { file: string; args: string[]; env: Record<string, string> };

/**
 * Unix sockets through which any local user can have the system resolve a name — systemd-resolved's
 * varlink socket, the D-Bus system bus (resolve1), nscd — and so send a lookup out as another user,
 * past the room's egress rules and its name filter. The room's processes see an empty folder there.
 */
export const NAME_SERVICE_DIRS = ["/run/systemd/resolve", "/run/dbus", "/run/nscd"];

/**
 * What the launcher runs (as root) before dropping to the room's user: the folders hidden. Each
 * is hidden if it is there when the process starts (a folder made or removed since the room was
 * opened — systemd-resolved starting or stopping — neither leaves a socket in sight nor fails the
 * launch); one that is there and cannot be hidden stops the launch.
 */
function hidingScript(hidden: readonly string[], view: readonly string[] = []): string {
  const mounts = hidden.map(
    (d) => `{ [ ! -d '${d}' ] || /usr/bin/mount -t tmpfs -o size=4k,mode=755 aegis-hidden '${d}'; }`,
  );
  return [...mounts, ...view, 'exec "$@"'].join(" && ");
}

export function roomLauncher(
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

/** Fails (closed) where a mount namespace cannot be made: `what` needs one. */
export async function namespaceWorks(privilege: Privilege, what: string): Promise<void> {
  await privileged(
    privilege,
    "/usr/bin/unshare",
    ["--mount", "--propagation", "private", "--", "/bin/true"],
    `${what} (a mount namespace)`,
  );
}

/**
 * The name services' folders the room's launches hide, once hiding those present on this machine
 * is known to work. Under an allow-list a machine that has them but cannot hide them fails closed;
 * with `"*"` the room may resolve any name anyway, and nothing is hidden. Every launch hides all of
 * them that exist at that moment, so one made after this check is hidden too.
 */
export async function nameServicesToHide(privilege: Privilege, policy: EgressPolicy): Promise<string[]> {
  if (policy.kind === "open") return [];
  const present = NAME_SERVICE_DIRS.filter((d) => existsSync(d));
  if (!present.length) return [];
  await privileged(
    privilege,
    "/usr/bin/unshare",
    ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", hidingScript(present), "sh", "/bin/true"],
    `hiding the name services' sockets (${present.join(", ")}) from the room`,
  );
  return NAME_SERVICE_DIRS;
}

/** Which of `paths` the room's user can reach: a directory it may enter or list, a file it may read. */
export async function reachableAs(launch: Launcher, paths: string[]): Promise<string[]> {
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
