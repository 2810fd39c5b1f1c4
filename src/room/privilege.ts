/**
 * How the action acts with root's rights for the room: directly as root (self-hosted runners), or
 * through passwordless `sudo -n` (GitHub-hosted runners), always with a fixed system PATH.
 */
import { execFile } from "node:child_process";

/** The room cannot be built: the message says why and names the opt-out. */
export class RoomError extends Error {
  override name = "RoomError";
}

export const EGRESS_OPT_OUT =
  'Install iptables (GitHub-hosted runners have it), or set `run: { egress: ["*"] }` in the aegis config to let the agent reach any host.';

export const OPT_OUT =
  "Run the job as root or as a user with passwordless sudo (GitHub-hosted runners are), " +
  "or set `run: { sandbox: none }` in the aegis config to let the agent share the runner's user " +
  "(its code can then read the action's credentials).";

export type Privilege = "root" | "sudo";

export const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

export function exec(
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
export async function privileged(
  privilege: Privilege,
  file: string,
  args: string[],
  what: string,
): Promise<string> {
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

export async function detectPrivilege(): Promise<Privilege | string> {
  if (process.platform !== "linux") return `the agent's room needs Linux; this runner is ${process.platform}`;
  if (process.getuid?.() === 0) return "root";
  const probe = await exec("sudo", ["-n", "true"], { timeoutMs: 10_000 });
  if (probe.code === 0) return "sudo";
  return `this job runs as uid ${process.getuid?.()} without passwordless sudo (${probe.stderr.trim().split("\n")[0] || `sudo exit ${probe.code}`})`;
}
