// Package scripts: `npm test`, `npm run build`, `yarn build`, `pnpm run lint` run the shell text in
// package.json's "scripts" (with `sh -c`), so the gate reads package.json and checks that text (and,
// for npm and yarn, the pre/post scripts) like a script file, with the arguments passed on appended.
import path from "node:path";
import { DYN, plainArg, type Arg } from "./words.js";
import { show } from "./rules/context.js";
import type { RuleScan } from "./command-rules.js";
import { MAX_SCRIPT_BYTES, agentWritable, checkNested, nestingRefusal, readCached } from "./scripts.js";

export type PackageManager = "npm" | "pnpm" | "yarn";

const NPM_RUN = new Set(["run", "run-script", "rum", "urn"]);
/** npm commands that run a script of the same purpose (`npm t` runs "test"). */
const NPM_LIFECYCLE: Record<string, readonly string[]> = {
  test: ["test"],
  t: ["test"],
  tst: ["test"],
  start: ["start"],
  stop: ["stop"],
  // Without a "restart" script, npm restart runs "stop" then "start".
  restart: ["restart", "stop", "start"],
};
/** Options naming the package directory. */
const DIR_OPTS: Record<PackageManager, ReadonlySet<string>> = {
  npm: new Set(["--prefix", "-C"]),
  pnpm: new Set(["--dir", "-C"]),
  yarn: new Set(["--cwd"]),
};
/** Other options that take the next word as their value (so it is not the command). */
const VALUE_OPTS: Record<PackageManager, ReadonlySet<string>> = {
  npm: new Set([
    "--workspace",
    "-w",
    "--loglevel",
    "--script-shell",
    "--userconfig",
    "--globalconfig",
    "--registry",
    "--cache",
  ]),
  pnpm: new Set(["--filter", "-F", "--reporter", "--loglevel"]),
  yarn: new Set(["--modules-folder", "--cache-folder", "--mutex", "--network-timeout"]),
};
/** Commands of yarn and pnpm that are not package scripts run by bare name. */
const NOT_SCRIPTS = new Set(["exec", "dlx", "x", "create"]);

interface Invocation {
  readonly names: readonly string[];
  /** Words passed on to the script (npm appends them to its text). */
  readonly extra: readonly Arg[];
  readonly dir: Arg | null;
  /** `npm pkg set …`, `npm set-script …`: the command changes package.json itself. */
  readonly writes: boolean;
}

/** Which scripts an npm/pnpm/yarn command line runs, or null when it runs none of package.json's scripts. */
function invocation(pm: PackageManager, args: readonly Arg[]): Invocation | null {
  const ops: Arg[] = [];
  const extra: Arg[] = [];
  let dir: Arg | null = null;
  let named = -1; // index in `ops` of the script name, once known
  const scriptAt = (): number => {
    const cmd = ops[0]?.value ?? "";
    if (pm === "npm") return NPM_RUN.has(cmd) ? 1 : cmd in NPM_LIFECYCLE ? 0 : -2;
    return cmd === "run" || cmd === "run-script" ? 1 : 0;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Arg;
    const v = a.value;
    const passing = named !== -1 && pm !== "npm";
    if (v === "--" && (named !== -1 || ops.length > 0)) {
      extra.push(...args.slice(i + 1));
      break;
    }
    if (passing) {
      // yarn and pnpm pass every word after the script name on to it.
      extra.push(a);
      continue;
    }
    if (v.startsWith("-") && v !== "-") {
      const eq = v.indexOf("=");
      const opt = eq === -1 ? v : v.slice(0, eq);
      if (DIR_OPTS[pm].has(opt)) {
        const value = eq === -1 ? args[++i] : { ...a, value: v.slice(eq + 1) };
        if (value) dir = value;
      } else if (VALUE_OPTS[pm].has(opt) && eq === -1) i++;
      continue;
    }
    if (named !== -1) extra.push(a);
    else {
      ops.push(a);
      const at = scriptAt();
      if (at === ops.length - 1) named = at;
      else if (at === -2 || at < ops.length - 1) break;
    }
  }
  const words = args.filter((a) => !a.value.startsWith("-")).map((a) => a.value);
  const writes =
    pm === "npm" &&
    ((words[0] === "pkg" && ["set", "delete", "fix"].includes(words[1] ?? "")) ||
      words[0] === "set-script" ||
      words[0] === "init");
  if (writes) return { names: [], extra: [], dir, writes };
  const name = named === -1 ? undefined : ops[named];
  if (!name || (pm !== "npm" && named === 0 && NOT_SCRIPTS.has(name.value))) return null;
  const names = pm === "npm" && named === 0 ? (NPM_LIFECYCLE[name.value] ?? []) : [name.value];
  return { names, extra, dir, writes: false };
}

/** `'…'` quoting, with the run-time parts of a word left as an unknown expansion. */
function shellQuote(a: Arg): string {
  return a.value
    .split(DYN)
    .map((part) => `'${part.replace(/'/g, `'\\''`)}'`)
    .join('"$$"');
}

/** The package.json npm would use: the nearest one at or above `dir`, and every path it looked at. */
function findPackageJson(
  scan: RuleScan,
  dir: string,
): { readonly found: string | null; readonly tried: string[] } {
  const tried: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    const p = path.join(d, "package.json");
    tried.push(p);
    if (readCached(scan.scripts, p).kind !== "missing") return { found: p, tried };
    if (path.dirname(d) === d) return { found: null, tried };
  }
}

/** Checks the package scripts an npm, pnpm or yarn command runs. */
export function checkPackageScripts(scan: RuleScan, pm: PackageManager, args: readonly Arg[]): void {
  const inv = invocation(pm, args);
  if (!inv) return;
  const state = scan.scripts;
  const block = (why: string): void => {
    if (!scan.probing) scan.block(why);
  };
  if (inv.dir && !inv.dir.literal)
    return block(
      `Blocked: ${pm} runs package scripts from a directory only known at run time ("${show(inv.dir)}"), so the gate cannot read them. Write the directory literally.`,
    );
  const rel = inv.dir?.value ?? ".";
  if (scan.cwd === null && !path.isAbsolute(rel))
    return block(
      `Blocked: ${pm} runs package scripts after a cd to a directory only known at run time, so the gate cannot read package.json. cd to a literal path first.`,
    );
  const { found, tried } = findPackageJson(scan, path.resolve(scan.cwd ?? "/", rel));
  const shown = (p: string): string => (scan.cwd ? path.relative(scan.cwd, p) || p : p);
  if (inv.writes) {
    state.packageWrites.push(...tried);
    return;
  }
  for (const p of tried) state.packages.push({ abs: p, shown: shown(p) });
  if (!found || !agentWritable(found, scan)) return;
  const file = readCached(state, found);
  if (file.kind === "large")
    return block(
      `Blocked: ${shown(found)} is ${Math.ceil(file.bytes / 1024)} KiB, too large to check (limit ${MAX_SCRIPT_BYTES / 1024} KiB), so the gate cannot read the ${pm} script it would run. Run the commands you need directly.`,
    );
  if (file.kind === "unreadable")
    return block(
      `Blocked: the gate cannot read ${shown(found)} (${file.why}), so it cannot check the ${pm} script it would run. Make it a readable file, then run the script.`,
    );
  if (file.kind !== "text") return;
  let scripts: unknown;
  try {
    scripts = (JSON.parse(file.text) as { scripts?: unknown } | null)?.scripts;
  } catch {
    return; // the package manager refuses a broken package.json too
  }
  if (typeof scripts !== "object" || scripts === null) return;
  const table = scripts as Record<string, unknown>;
  const suffix = inv.extra.map(shellQuote).join(" ");
  for (const name of inv.names) {
    // npm and yarn v1 run "pre<name>" and "post<name>" around it; checking them for pnpm too costs little.
    for (const [key, withArgs] of [
      [`pre${name}`, false],
      [name, true],
      [`post${name}`, false],
    ] as const) {
      const text = Object.hasOwn(table, key) ? table[key] : undefined;
      if (typeof text !== "string") continue;
      const label = `the ${pm} script "${key}"`;
      const nested = nestingRefusal(state, label);
      if (nested) return block(nested);
      const src = withArgs && suffix ? `${text} ${suffix}` : text;
      if (!checkNested(scan, src, `in ${label}`, () => scan.childShell(src, label, [plainArg("sh")]))) return;
    }
  }
}
