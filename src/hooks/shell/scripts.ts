// Script files the command runs: `bash x.sh`, `./x.sh`, `. ./env.sh`, `python3 x.py`, `node x.js`.
// The gate reads each file and checks its text like inline code (shell text with the same scan,
// other languages with the interpreter code check). A text script it cannot read is refused, since
// nobody can say what it would do; a compiled program (ELF) has no text to check and is let through.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { DYN, plainArg, type Arg } from "./words.js";
import { show } from "./rules/context.js";
import { codeRefusal, interpreterLang, type Lang } from "./rules/code.js";
import type { RuleScan } from "./command-rules.js";
import { isInside } from "../paths.js";

export const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "busybox"]);
/** Larger scripts are refused rather than checked: reading and parsing must stay well inside the hook's deadline. */
export const MAX_SCRIPT_BYTES = 256 * 1024;
/** A script running a script running a script…: the gate stops reading at this depth and refuses. */
const MAX_SCRIPT_DEPTH = 4;
/** Script checks per command line, so that scripts calling each other many times cannot blow up the work. */
const MAX_SCRIPT_CHECKS = 40;
/**
 * Script text checked per command line, all scripts together: dense shell takes up to 2 s per
 * 100 KiB to check, and the hook must decide well inside its 10 s watchdog.
 */
const MAX_TOTAL_BYTES = MAX_SCRIPT_BYTES;

export type ScriptFile =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "program" }
  | { readonly kind: "dir" }
  | { readonly kind: "missing" }
  | { readonly kind: "binary" }
  | { readonly kind: "large"; readonly bytes: number }
  | { readonly kind: "unreadable"; readonly why: string };

/** How the file is run, which decides how its text is read. */
export type Runner =
  /** `bash FILE`: shell text whatever its first line says, in a child shell. */
  | { readonly kind: "shell"; readonly name: string }
  /** `. FILE`, `source FILE`: shell text run by the current shell (its `cd` and variables stay). */
  | { readonly kind: "source" }
  /** `python3 FILE`, `node FILE`, …: the interpreter code check. */
  | { readonly kind: "code"; readonly lang: Lang; readonly name: string }
  /** `./FILE`: the kernel runs it, so its `#!` line decides; no `#!` means the shell runs it. */
  | { readonly kind: "exec" };

/** What the scan remembers about scripts across one command line. */
export interface ScriptState {
  depth: number;
  checks: number;
  bytes: number;
  readonly files: Map<string, ScriptFile>;
  /** Absolute paths of every script the command runs, for the same-command write check. */
  readonly runs: { readonly abs: string; readonly shown: string }[];
  /** package.json files whose scripts the command runs (npm test, yarn build), for the same check. */
  readonly packages: { readonly abs: string; readonly shown: string }[];
  /** package.json files the command changes through the package manager (`npm pkg set`). */
  readonly packageWrites: string[];
}

export function newScriptState(): ScriptState {
  return { depth: 0, checks: 0, bytes: 0, files: new Map(), runs: [], packages: [], packageWrites: [] };
}

const RUN_SEPARATELY = "Write the script first, then run it in a separate command so the gate can read it.";

/** Reads a script without following it into FIFOs or devices, and without loading large or compiled files. */
export function readScript(abs: string): ScriptFile {
  if (abs === "/dev/null") return { kind: "text", text: "" };
  let st;
  try {
    st = statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    return { kind: "unreadable", why: code ?? String(err) };
  }
  if (st.isDirectory()) return { kind: "dir" };
  if (!st.isFile()) return { kind: "unreadable", why: "not a regular file" };
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { kind: "unreadable", why: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(4);
    const got = readSync(fd, head, 0, 4, 0);
    if (got === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return { kind: "program" };
    if (size > MAX_SCRIPT_BYTES) return { kind: "large", bytes: size };
    // One byte more than the cap tells a file that grew since fstat (or a /proc file that reports 0).
    const buf = Buffer.alloc(MAX_SCRIPT_BYTES + 1);
    let len = 0;
    for (let n = 1; n > 0 && len < buf.length; len += n) n = readSync(fd, buf, len, buf.length - len, len);
    if (len > MAX_SCRIPT_BYTES) return { kind: "large", bytes: len };
    const body = buf.subarray(0, len);
    if (body.includes(0)) return { kind: "binary" };
    return { kind: "text", text: body.toString("utf8") };
  } catch (err) {
    return { kind: "unreadable", why: (err as NodeJS.ErrnoException).code ?? String(err) };
  } finally {
    closeSync(fd);
  }
}

/** The program a `#!` line names (`/usr/bin/env -S node --x` → node), with the interpreter's path. */
export function shebang(text: string): { readonly interp: string; readonly program: string } | null {
  if (!text.startsWith("#!")) return null;
  const end = text.indexOf("\n");
  const words = text
    .slice(2, end === -1 ? undefined : end)
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const interp = words[0] ?? "";
  if (path.basename(interp) !== "env") return { interp, program: path.basename(interp) };
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string;
    if (w === "-u" || w === "--unset" || w === "-C" || w === "--chdir") i++;
    else if (!w.startsWith("-") && !/^\w+=/.test(w)) return { interp: w, program: path.basename(w) };
  }
  return { interp, program: "env" };
}

/** Reads a file once per command line. */
export function readCached(state: ScriptState, abs: string): ScriptFile {
  let f = state.files.get(abs);
  if (!f) {
    f = readScript(abs);
    state.files.set(abs, f);
  }
  return f;
}

/** Whether the file (after symlinks) lies in the workspace or a temp directory. */
export function agentWritable(abs: string, scan: RuleScan): boolean {
  const where = scan.where();
  const real = realOrSelf(abs);
  return [where.workspace, ...where.tempDirs].some(
    (dir) => isInside(real, dir) || isInside(real, realOrSelf(dir)),
  );
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Where node or python starts when given a directory or a path without extension, or null. */
function entryPoint(
  abs: string,
  lang: Lang,
  file: ScriptFile,
  read: (p: string) => ScriptFile,
): string | null {
  if (lang === "python" && file.kind === "dir") return path.join(abs, "__main__.py");
  if (lang !== "node") return null;
  if (file.kind === "missing") {
    const found = [".js", ".mjs", ".cjs", ".json", ".node"].find((ext) => read(abs + ext).kind !== "missing");
    return found ? abs + found : null;
  }
  if (file.kind !== "dir") return null;
  const pkg = read(path.join(abs, "package.json"));
  if (pkg.kind === "text") {
    try {
      const main = (JSON.parse(pkg.text) as { main?: unknown }).main;
      if (typeof main === "string" && main !== "") return path.resolve(abs, main);
    } catch {
      // Node refuses a broken package.json too; index.js is the best guess at what would run.
    }
  }
  return path.join(abs, "index.js");
}

/**
 * Checks the script `file` that `runner` runs with `args`. Refusals found inside it name the file.
 * During probes (guessing what a computed command name or a string in interpreter code might run),
 * only the script's content counts: a file that is missing or unreadable then is not a reason.
 */
export function checkScript(scan: RuleScan, file: Arg, runner: Runner, args: readonly Arg[]): void {
  const state = scan.scripts;
  const shown = show(file);
  const block = (why: string): void => {
    if (!scan.probing) scan.block(why);
  };
  if (!file.literal) {
    // `"$(npm bin)/vitest"`: the name is known, the directory is not; the gate cannot read it and lets
    // it through like any command found on PATH. A wholly computed script path is refused.
    const base = file.value.slice(file.value.lastIndexOf("/") + 1);
    if (base === "" || base.includes(DYN))
      block(
        `Blocked: the script "${shown}" is only known at run time, so the gate cannot read it. Write its path literally.`,
      );
    return;
  }
  if (file.glob)
    return block(
      `Blocked: the script path "${shown}" is a pattern, so the gate cannot tell which file runs. Name the script literally.`,
    );
  if (scan.cwd === null && !path.isAbsolute(file.value))
    return block(
      `Blocked: the script ${shown} is run after a cd to a directory only known at run time, so the gate cannot find it. cd to a literal path first.`,
    );
  let abs = path.resolve(scan.cwd ?? "/", file.value);
  const nested = nestingRefusal(state, shown);
  if (nested) return block(nested);
  const read = (p: string): ScriptFile => readCached(state, p);
  let f = read(abs);
  if (runner.kind === "code") {
    const entry = entryPoint(abs, runner.lang, f, read);
    if (entry) {
      abs = entry;
      f = read(abs);
    }
  }
  state.runs.push({ abs, shown });
  if (f.kind === "missing")
    return block(
      `Blocked: the script ${shown} does not exist yet, so the gate cannot check what it would run. ${RUN_SEPARATELY}`,
    );
  // Installed software (/usr/bin/psql, /opt/…) is treated like a command found on PATH: the gate
  // reads what the agent can write, the workspace and the temp directories.
  if (!agentWritable(abs, scan)) return;
  switch (f.kind) {
    case "unreadable":
      return block(
        `Blocked: the gate cannot read the script ${shown} (${f.why}), so it cannot check what it would run. Make it a readable file, then run it.`,
      );
    case "large":
      return block(
        `Blocked: the script ${shown} is ${Math.ceil(f.bytes / 1024)} KiB, too large to check (limit ${MAX_SCRIPT_BYTES / 1024} KiB). Run the commands you need directly or split the script.`,
      );
    case "binary":
      return block(
        `Blocked: ${shown} is a binary file but not a compiled program the gate recognises, so it cannot check what it would run. Run its source script or the program itself.`,
      );
    case "program":
    case "dir":
      return; // a compiled program has no text to check; a directory does not run
    case "text":
      break;
  }
  checkNested(scan, f.text, `in the script ${shown}`, () => runText(scan, f.text, file, runner, args));
}

/**
 * Why the gate stops reading before one more script (too deeply nested, or too many), or null.
 * Counts the script toward the per-command limit.
 */
export function nestingRefusal(state: ScriptState, shown: string): string | null {
  if (state.depth >= MAX_SCRIPT_DEPTH)
    return `Blocked: ${shown} is run by scripts nested more than ${MAX_SCRIPT_DEPTH} deep; the gate stops reading there. Run the inner script directly.`;
  if (++state.checks > MAX_SCRIPT_CHECKS)
    return `Blocked: the command runs more than ${MAX_SCRIPT_CHECKS} scripts, too many to check. Run fewer scripts per command.`;
  return null;
}

/**
 * Checks a script's `text` one level deeper, its refusals prefixed with `where`. Returns false
 * (refused, unless probing) when the text would take the command past its size budget.
 */
export function checkNested(scan: RuleScan, text: string, where: string, check: () => void): boolean {
  const state = scan.scripts;
  state.bytes += text.length;
  if (state.bytes > MAX_TOTAL_BYTES) {
    if (!scan.probing)
      scan.block(
        `Blocked: the scripts this command runs hold more than ${MAX_TOTAL_BYTES / 1024} KiB of text, too much to check. Run fewer or smaller scripts per command.`,
      );
    return false;
  }
  state.depth++;
  try {
    scan.within(where, check);
  } finally {
    state.depth--;
  }
  return true;
}

function runText(scan: RuleScan, text: string, file: Arg, runner: Runner, args: readonly Arg[]): void {
  if (runner.kind === "shell") return scan.childShell(text, show(file), [file, ...args]);
  if (runner.kind === "source")
    return scan.childShell(text, show(file), args.length ? [file, ...args] : null, true);
  if (runner.kind === "code") return runCode(scan, runner.lang, text, args);
  const bang = shebang(text);
  if (!bang || SHELLS.has(bang.program)) return scan.childShell(text, show(file), [file, ...args]);
  const lang = interpreterLang(bang.program);
  if (lang) return runCode(scan, lang, text, args);
  // Another interpreter (awk -f, make -f, a custom one): the gate does not check those languages, as
  // when they are run directly; an interpreter that is itself a script is read like any script.
  if (bang.interp.includes("/")) checkScript(scan, plainArg(bang.interp), { kind: "exec" }, []);
}

function runCode(scan: RuleScan, lang: Lang, text: string, args: readonly Arg[]): void {
  const why = codeRefusal(
    lang,
    text,
    args.map((a) => a.value),
    scan.where(),
    (src) => scan.probe(src),
    "file",
  );
  if (why) scan.block(why);
}
