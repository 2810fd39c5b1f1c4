// Removes the OS users (and their room directories) that the suite's rooms created, before the
// run (a crashed earlier run's) and after it — whether the tests passed or not.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";

const PREFIXES = ["aegt-", "aegis-t"];
const ROOM_ROOT = "/var/lib/aegis-room";

export function removeTestUsers(): string[] {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return [];
  const names = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":")[0] ?? "")
    .filter((name) => PREFIXES.some((p) => name.startsWith(p)));
  for (const name of names) {
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
    rmSync(path.join(ROOM_ROOT, name), { recursive: true, force: true });
  }
  return names;
}

export function setup(): () => void {
  removeTestUsers();
  return () => {
    removeTestUsers();
  };
}
