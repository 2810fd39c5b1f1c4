// Reads the aliases git would expand in a directory (repo, global and system config), quickly.
import { execFileSync } from "node:child_process";

const ALIAS_TIMEOUT_MS = 2_000;

/** Aliases for `dir`; throws when git cannot answer in time (the gate then blocks the alias). */
export function readGitAliases(dir: string | null): ReadonlyMap<string, string> {
  if (dir === null) throw new Error("the directory git runs in is only known at run time");
  let out: string;
  try {
    out = execFileSync("git", ["config", "-z", "--get-regexp", "^alias\\."], {
      cwd: dir,
      encoding: "utf8",
      timeout: ALIAS_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch (err) {
    // Exit 1 means "no alias configured"; anything else (timeout, missing git) is a real failure.
    if ((err as { status?: number }).status === 1) return new Map();
    throw new Error(`git config --get-regexp failed in ${dir}`, { cause: err });
  }
  const map = new Map<string, string>();
  for (const entry of out.split("\0")) {
    const nl = entry.indexOf("\n");
    if (nl > 0) map.set(entry.slice("alias.".length, nl), entry.slice(nl + 1));
  }
  return map;
}
