// Removes what the suite's rooms and egress tests made — OS users and their room directories,
// their firewall chains, network namespaces and veth links — before the run (a crashed earlier
// run's) and after it, whether the tests passed or not.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { SHARED_ACTION_PREFIX } from "./shared-action.js";

const PREFIXES = ["aegt-", "aegis-t"];
const ROOM_ROOT = "/var/lib/aegis-room";

export function removeTestUsers(): string[] {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return [];
  const names = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":")[0] ?? "")
    .filter((name) => PREFIXES.some((p) => name.startsWith(p)));
  for (const name of names) {
    const uid = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((line) => line.startsWith(`${name}:`))
      ?.split(":")[2];
    if (uid) removeChain(Number(uid));
    try {
      execFileSync("pkill", ["-KILL", "-u", name], { stdio: "ignore" });
    } catch {
      // No process left: pkill exits 1.
    }
    for (let i = 0; i < 20; i++) {
      try {
        execFileSync("userdel", [name], { stdio: "ignore" });
        break;
      } catch {
        execFileSync("sleep", ["0.1"]);
      }
    }
    // A step killed mid-run leaves its checkout's view mounted: unmount it before removing the room
    // (its lower layer is another test's workspace, read-only but not to be walked into).
    unmountUnder(path.join(ROOM_ROOT, name));
    rmSync(path.join(ROOM_ROOT, name), { recursive: true, force: true });
    // A test runner user with passwordless sudo (room.test.ts) has its own sudoers entry.
    rmSync(path.join("/etc/sudoers.d", name), { force: true });
  }
  return names;
}

/** Every mount at or below `dir`, deepest first, lazily unmounted. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) =>
      (line.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) =>
        String.fromCharCode(parseInt(o, 8)),
      ),
    )
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) quiet("umount", ["--lazy", "--", m]);
}

const quiet = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" });
  } catch {
    return "";
  }
};

/** The egress chain of a test user, in both families (the action's own removal, done again). */
function removeChain(uid: number): void {
  const chain = `AEGIS-EGRESS-${uid}`;
  for (const tool of ["iptables", "ip6tables"]) {
    for (let i = 0; i < 10; i++) {
      try {
        execFileSync(tool, ["-w", "-D", "OUTPUT", "-m", "owner", "--uid-owner", String(uid), "-j", chain], {
          stdio: "ignore",
        });
      } catch {
        break;
      }
    }
    quiet(tool, ["-w", "-F", chain]);
    quiet(tool, ["-w", "-X", chain]);
  }
}

/** Network namespaces and veth links of the outside-host stand-ins (test/harness/outside-host.ts). */
function removeTestNetworks(): void {
  for (const line of quiet("ip", ["netns", "list"]).split("\n")) {
    const ns = line.split(" ")[0] ?? "";
    if (ns.startsWith("aegt-ns-")) quiet("ip", ["netns", "del", ns]);
  }
  for (const match of quiet("ip", ["-o", "link"]).matchAll(/^\d+: (aegh[0-9a-f]+)[@:]/gm))
    quiet("ip", ["link", "del", match[1]!]);
  // The metadata stand-ins' routes go with their link.
}

/**
 * Suites running at once on one machine (a developer's second terminal, CI beside a session)
 * each make their own users, named after their own fake servers: only the last suite to finish
 * sweeps, and a suite starting beside another leaves the sweep to it.
 */
const SUITES = path.join(tmpdir(), "aegis-test-suites");

function otherSuitesAlive(): boolean {
  let alive = false;
  for (const name of existsSync(SUITES) ? readdirSync(SUITES) : []) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      rmSync(path.join(SUITES, name), { force: true });
    }
  }
  return alive;
}

function sweep(): void {
  if (process.getuid?.() === 0) removeTestNetworks();
  removeTestUsers();
  // The action placed where a sudo runner reaches it (shared-action.ts), when the clone is closed.
  for (const name of readdirSync(tmpdir()))
    if (name.startsWith(SHARED_ACTION_PREFIX))
      rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  // What planted code wrote (spy.ts's drops), should a test have died before removing it.
  if (process.getuid?.() === 0) rmSync("/var/lib/aegis-test-drops", { recursive: true, force: true });
}

export function setup(): () => void {
  mkdirSync(SUITES, { recursive: true });
  writeFileSync(path.join(SUITES, String(process.pid)), "");
  if (!otherSuitesAlive()) sweep();
  return () => {
    rmSync(path.join(SUITES, String(process.pid)), { force: true });
    if (!otherSuitesAlive()) sweep();
  };
}
