/**
 * Finding and killing everything an agent session started.
 *
 * The session runs detached in its own process group, but Claude Code starts each Bash tool
 * command in a new session of its own (setsid), so a background child (`cmd &`) is in neither the
 * CLI's group nor its session and survives the CLI. What every descendant does keep is the
 * environment, so the session carries a random tag variable and, on Linux, `/proc/<pid>/environ`
 * finds the stragglers. (A process that clears its own environment escapes the tag; the group kill
 * still covers everything that did not call setsid.)
 */
import { readdir, readFile } from "node:fs/promises";

export const SESSION_TAG_VAR = "AEGIS_SESSION_TAG";

/** Pids whose environment holds `SESSION_TAG_VAR=tag` or whose process group is `pgid`. */
export async function findSessionProcesses(tag: string, pgid?: number): Promise<number[]> {
  if (process.platform !== "linux") return [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const needle = Buffer.from(`${SESSION_TAG_VAR}=${tag}\0`);
  const self = process.pid;
  const found: number[] = [];
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const pid = Number(e);
        if (pid === self) return;
        try {
          const stat = await statOf(pid);
          // A zombie has already exited; its parent (or init) reaps it, and it cannot be killed.
          if (stat.state === "Z" || stat.state === "X") return;
          if (pgid !== undefined && stat.pgrp === pgid) {
            found.push(pid);
            return;
          }
          const env = await readFile(`/proc/${pid}/environ`);
          // environ ends each entry with NUL; prefix a NUL so the match is a whole entry.
          if (Buffer.concat([Buffer.from([0]), env]).includes(Buffer.concat([Buffer.from([0]), needle]))) {
            found.push(pid);
          }
        } catch {
          // Exited meanwhile, or not ours to read: either way nothing to kill.
        }
      }),
  );
  return found.sort((a, b) => a - b);
}

async function statOf(pid: number): Promise<{ state: string; pgrp: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "", pgrp: Number(rest[2]) };
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
