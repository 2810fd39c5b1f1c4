// Turns parsed shell words into the strings bash would pass, as far as they are known before running.
import path from "node:path";
import { child, flag, forEachNested, list, nodeType, num, text, type Node } from "./syntax.js";

/** Stands for any text only known at run time (a variable, a substitution, `~user`). */
export const DYN = "\u0000";

export interface Arg {
  /** The word after quote removal; DYN marks each run-time part. */
  readonly value: string;
  /** True when no part of the word depends on run-time state. */
  readonly literal: boolean;
  /** Unquoted `*`, `?` or `[` (written, or from an unquoted expansion): the shell may expand it to several paths. */
  readonly glob: boolean;
  /** Unquoted brace expansion (`{a,b}`), which can turn one word into several. */
  readonly brace: boolean;
  /** Names of parameters whose values the word expands (not `${#X}`, which is a length). */
  readonly params: readonly string[];
  /** Command and process substitutions inside the word: they run too. */
  readonly substs: readonly Node[];
  readonly procSubst: boolean;
}

export interface WordEnv {
  readonly home: string;
  /** The shell's directory at this point, or null once a `cd` went somewhere unknown. */
  readonly cwd: string | null;
  /**
   * Variables assigned earlier in the same command: a string, or null when not known. IFS absent means
   * bash's default; `#` and `1`… are the positional parameters when known (a script's arguments, `set --`).
   */
  readonly vars: ReadonlyMap<string, string | null>;
}

/** What bash sets IFS to at startup; it never takes IFS from the environment (nor does dash). */
export const DEFAULT_IFS = " \t\n";

/**
 * A run of a word's text after expansion, kept apart so that field splitting and globbing can tell
 * where each character came from: only characters of unquoted expansions separate fields, and only
 * unquoted ones glob. An empty piece that is not `split` is a quoted empty string (`""`), which keeps
 * the word even when nothing else is in it.
 */
interface Piece {
  readonly text: string;
  /** From an unquoted expansion: IFS characters in it separate fields. */
  readonly split: boolean;
  /** Unquoted and unescaped: `*`, `?` and `[` in it are glob characters. */
  readonly glob: boolean;
}

/** Between two positional parameters of `"$@"` (always a new field) or of an unquoted `$@`/`$*` (a blank). */
type Gap = "field" | "blank";

interface Acc {
  pieces: (Piece | Gap)[];
  brace: boolean;
  params: string[];
  substs: Node[];
  procSubst: boolean;
}

const GLOB = new Set(["*", "?", "["]);
/**
 * `IFS` named as a variable in shell text or an argument (`read IFS`, `unset IFS`, `declare -n r=IFS`),
 * not read (`$IFS`, `${IFS}`, as in a `bash -c '…'` string).
 */
export const IFS_NAME = /(^|[^A-Za-z0-9_${])IFS($|[^A-Za-z0-9_])/;

function build(word: Node, env: WordEnv): Acc {
  const acc: Acc = { pieces: [], brace: false, params: [], substs: [], procSubst: false };
  const parts = list(word, "Parts");
  parts.forEach((part, i) => evalPart(part, i === 0, false, acc, env));
  return acc;
}

/** The word as one string, without field splitting: assignment values, redirect targets, heredocs. */
export function evalWord(word: Node, env: WordEnv): Arg {
  return whole(build(word, env));
}

/**
 * The argv words one shell word becomes: unquoted expansions are split on IFS, so `git${IFS}push`
 * is two words and an unquoted empty `$X` none. `whole` is the word unsplit, for its substitutions
 * (which run even when the word disappears).
 */
export function evalFields(word: Node, env: WordEnv): { whole: Arg; fields: Arg[] } {
  const acc = build(word, env);
  const all = whole(acc);
  // The usual word, with nothing to split: one field, exactly as before. (No pieces at all: `"$@"` with
  // no parameters, which leaves no word.)
  if (acc.pieces.length > 0 && !acc.pieces.some((p) => typeof p === "string" || p.split))
    return { whole: all, fields: [all] };
  return { whole: all, fields: splitFields(acc, ifsOf(env)) };
}

/** The argv a list of shell words becomes (see evalFields). */
export function evalArgv(words: readonly Node[], env: WordEnv): Arg[] {
  return words.flatMap((w) => evalFields(w, env).fields);
}

/** A synthetic argument (xargs input, find's `{}`, an alias word). */
export function plainArg(value: string, literal = !value.includes(DYN)): Arg {
  return { value, literal, glob: false, brace: false, params: [], substs: [], procSubst: false };
}

/** IFS at this point: bash's default unless the command set it; null when set to something unknown. */
function ifsOf(env: WordEnv): string | null {
  return env.vars.has("IFS") ? (env.vars.get("IFS") ?? null) : DEFAULT_IFS;
}

function globbing(p: Piece): boolean {
  return p.glob && [...p.text].some((c) => GLOB.has(c));
}

function whole(acc: Acc): Arg {
  const value = acc.pieces.map((p) => (typeof p === "string" ? " " : p.text)).join("");
  return {
    value,
    literal: !value.includes(DYN),
    glob: acc.pieces.some((p) => typeof p !== "string" && globbing(p)),
    brace: acc.brace,
    params: acc.params,
    substs: acc.substs,
    procSubst: acc.procSubst,
  };
}

/**
 * Bash's field splitting (as its list_string does it): IFS whitespace around fields is dropped and a
 * run of it separates fields once; every other IFS character ends a field, so `a,,b` with IFS=, is
 * three fields, one empty, while a trailing `,` adds none. A word that ends up with no field at all
 * (an unquoted expansion with nothing in it) disappears. With IFS unknown, the unquoted expansions
 * become run-time text instead, as if nothing about them were known.
 */
function splitFields(acc: Acc, ifs: string | null): Arg[] {
  const out: Arg[] = [];
  let text = "";
  let glob = false;
  /** The field holds something, if only a quoted empty string. */
  let open = false;
  /** IFS whitespace just ended a field: one following non-blank IFS character belongs to the same gap. */
  let afterBlank = false;
  const end = (): void => {
    out.push({
      value: text,
      literal: !text.includes(DYN),
      glob,
      brace: acc.brace,
      params: acc.params,
      substs: acc.substs,
      procSubst: acc.procSubst,
    });
    text = "";
    glob = false;
    open = false;
  };
  for (const p of acc.pieces) {
    if (p === "field" || p === "blank") {
      if (p === "field" || open) end();
      afterBlank = false;
      continue;
    }
    if (!p.split || ifs === null) {
      // Quoted text never separates; with IFS unknown an expansion's text is unknown too.
      text += p.split && p.text !== "" ? DYN : p.text;
      glob ||= globbing(p);
      open ||= !p.split || p.text !== "";
      if (p.text !== "") afterBlank = false;
      continue;
    }
    for (const c of p.text) {
      if (!ifs.includes(c)) {
        text += c;
        glob ||= p.glob && GLOB.has(c);
        open = true;
        afterBlank = false;
      } else if (DEFAULT_IFS.includes(c)) {
        if (open) {
          end();
          afterBlank = true;
        }
      } else if (open) {
        end();
        afterBlank = false;
      } else if (afterBlank) afterBlank = false;
      else end();
    }
  }
  if (open) end();
  return out;
}

function add(acc: Acc, text: string, split: boolean, glob: boolean): void {
  acc.pieces.push({ text, split, glob });
}

function evalPart(part: Node, first: boolean, quoted: boolean, acc: Acc, env: WordEnv): void {
  switch (nodeType(part)) {
    case "Lit":
      if (quoted) add(acc, unescapeDouble(text(part, "Value")), false, false);
      else unquotedLit(text(part, "Value"), first, acc, env);
      return;
    case "SglQuoted":
      add(acc, flag(part, "Dollar") ? ansiC(text(part, "Value")) : text(part, "Value"), false, false);
      return;
    case "DblQuoted": {
      const inner = list(part, "Parts");
      // `""` is an empty word of its own, unlike an unquoted empty expansion.
      if (inner.length === 0) add(acc, "", false, false);
      for (const p of inner) evalPart(p, false, true, acc, env);
      return;
    }
    case "ParamExp":
      paramExp(part, quoted, acc, env);
      return;
    case "CmdSubst": {
      acc.substs.push(part);
      add(acc, staticOutput(list(part, "Stmts"), env) ?? DYN, !quoted, !quoted);
      return;
    }
    case "ProcSubst":
      acc.substs.push(part);
      acc.procSubst = true;
      add(acc, DYN, false, false);
      return;
    case "ExtGlob":
      add(acc, "*", false, true);
      return;
    default:
      // Arithmetic and anything newer: unknown text, but substitutions inside still run.
      forEachNested(part, (n, type) => {
        if (type !== "Stmt") acc.substs.push(n);
      });
      add(acc, DYN, false, false);
  }
}

function unquotedLit(raw: string, first: boolean, acc: Acc, env: WordEnv): void {
  let s = raw;
  if (first && s.startsWith("~")) {
    const end = s.indexOf("/") === -1 ? s.length : s.indexOf("/");
    const user = s.slice(1, end);
    // The expanded directory is neither split nor globbed.
    add(acc, user === "" ? env.home : user === "+" && env.cwd ? env.cwd : DYN, false, false);
    s = s.slice(end);
  }
  if (/\{[^{}]*(,|\.\.)[^{}]*\}/.test(s)) acc.brace = true;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "\\") {
      const next = s[i + 1];
      i++;
      // An escaped `*` is a plain character: it goes in a piece of its own that does not glob.
      if (next !== undefined && next !== "\n") {
        if (out) add(acc, out, false, true);
        add(acc, next, false, false);
        out = "";
      }
      continue;
    }
    out += c;
  }
  if (out) add(acc, out, false, true);
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === "\n" ? "" : c));
}

/** ParExpOperator numbers of mvdan/sh v3 (checked against the parser, like syntax.ts's Op). */
const EXP = {
  AltUnset: 68,
  AltUnsetOrNull: 69,
  DefUnset: 70,
  DefUnsetOrNull: 71,
  RemSmallSuffix: 76,
  RemLargeSuffix: 77,
  RemSmallPrefix: 78,
  RemLargePrefix: 79,
} as const;
/** ArithmExpr unary minus (`${X: -1}`). */
const ARITH_MINUS = 70;

/** `$X`, `${X}` and the forms that only take part of a known value (`${IFS:0:1}`, `${X:-def}`, `${X%?}`). */
function paramExp(part: Node, quoted: boolean, acc: Acc, env: WordEnv): void {
  // Substitutions in `${X:-$(cmd)}` and the like run as well.
  forEachNested(part, (n, type) => {
    if (type !== "Stmt") acc.substs.push(n);
  });
  const name = text(child(part, "Param"), "Value");
  const unknown = (): void => add(acc, DYN, !quoted, false);
  if (flag(part, "Length")) return unknown();
  if (flag(part, "Excl")) {
    // `${!X}` reads a variable chosen at run time; `${!PREFIX*}` lists names only.
    if (!child(part, "Names")) acc.params.push(`!${name}`);
    return unknown();
  }
  acc.params.push(name);
  if (child(part, "Repl") || child(part, "Index")) return unknown();
  if (name === "@" || name === "*") return positional(part, name, quoted, acc, env);
  // null: set to something unknown; undefined: perhaps unset (the environment is not known).
  const value = env.vars.has(name)
    ? (env.vars.get(name) ?? null)
    : name === "IFS"
      ? DEFAULT_IFS
      : name === "HOME"
        ? env.home
        : name === "PWD" && env.cwd
          ? env.cwd
          : undefined;
  const slice = child(part, "Slice");
  const exp = child(part, "Exp");
  if (slice) {
    const v = value == null ? null : sliceOf(value, slice);
    return v === null ? unknown() : add(acc, v, !quoted, !quoted);
  }
  if (!exp) return value == null ? unknown() : add(acc, value, !quoted, !quoted);
  const op = num(exp, "Op");
  const word = child(exp, "Word");
  if (op >= EXP.AltUnset && op <= EXP.DefUnsetOrNull) {
    // Which of the value or the word is used depends on whether the variable is set (and, with `:`, empty).
    if (value == null) return unknown();
    const colon = op === EXP.AltUnsetOrNull || op === EXP.DefUnsetOrNull;
    const isDefault = op === EXP.DefUnset || op === EXP.DefUnsetOrNull;
    const useWord = isDefault ? colon && value === "" : !colon || value !== "";
    if (!useWord) return add(acc, isDefault ? value : "", !quoted, !quoted);
    const from = acc.pieces.length;
    for (const p of list(word, "Parts")) evalPart(p, false, quoted, acc, env);
    // Unquoted, the word's own unquoted text is split too (`${X:-git push}` is two words).
    if (!quoted)
      for (let i = from; i < acc.pieces.length; i++) {
        const p = acc.pieces[i] as Piece | Gap;
        if (typeof p !== "string" && p.glob) acc.pieces[i] = { ...p, split: true };
      }
    return;
  }
  if (op >= EXP.RemSmallSuffix && op <= EXP.RemLargePrefix && value != null) {
    const pattern = patternRegExp(word, env);
    if (pattern === null) return unknown();
    const v = removeMatch(value, pattern, op);
    return add(acc, v, !quoted, !quoted);
  }
  return unknown();
}

/** `"$@"`, `"$*"`, `$@`, `$*` when the positional parameters are known. */
function positional(part: Node, name: string, quoted: boolean, acc: Acc, env: WordEnv): void {
  const count = Number(env.vars.get("#") ?? NaN);
  const values = Array.from({ length: Number.isInteger(count) ? count : 0 }, (_v, i) =>
    env.vars.get(String(i + 1)),
  );
  if (!Number.isInteger(count) || child(part, "Exp") || child(part, "Slice") || values.some((x) => x == null))
    return add(acc, DYN, !quoted, false);
  const ifs = ifsOf(env);
  // Unquoted, bash splits each parameter on its own and glues the pieces to the text around them, which
  // differs from splitting the joined text once IFS has other characters than blanks (`,`): not modelled.
  const blanks = ifs !== null && [...ifs].every((c) => DEFAULT_IFS.includes(c));
  if (!quoted && !blanks) return add(acc, DYN, true, false);
  if (quoted && name === "*" && ifs === null) return add(acc, DYN, false, false);
  if (!quoted && ifs === "")
    // Nothing to split on: each parameter is a word of its own (empty ones vanish).
    return values.forEach((v, i) => {
      if (i > 0) acc.pieces.push("blank");
      add(acc, v as string, true, true);
    });
  // `"$*"` joins them with IFS's first character. Unquoted, with IFS all blanks, that joined text
  // split is what bash passes.
  if (name === "*" || !quoted) return add(acc, values.join((ifs as string).slice(0, 1)), !quoted, !quoted);
  // `"$@"` keeps each parameter a word of its own (none at all when there are none).
  values.forEach((v, i) => {
    if (i > 0) acc.pieces.push("field");
    add(acc, v as string, false, false);
  });
}

/** `${X:off}`, `${X:off:len}` with literal numbers (a negative offset counts from the end). */
function sliceOf(value: string, slice: Node): string | null {
  const number = (n: Node | null): number | null => {
    if (!n) return null;
    if (nodeType(n) === "UnaryArithm" && num(n, "Op") === ARITH_MINUS) {
      const inner = number(child(n, "X"));
      return inner === null ? null : -inner;
    }
    if (nodeType(n) !== "Word") return null;
    const parts = list(n, "Parts");
    const digits = parts.length === 1 && nodeType(parts[0]) === "Lit" ? text(parts[0], "Value") : "";
    return /^\d{1,6}$/.test(digits) ? Number(digits) : null;
  };
  const offset = number(child(slice, "Offset"));
  const lengthNode = child(slice, "Length");
  const length = lengthNode ? number(lengthNode) : value.length;
  if (offset === null || length === null) return null;
  const start = offset < 0 ? Math.max(0, value.length + offset) : offset;
  if (offset < 0 && value.length + offset < 0) return "";
  const stop = length < 0 ? value.length + length : start + length;
  if (stop < start) return null; // bash reports an error
  return value.slice(start, stop);
}

/** The pattern of `${X%pat}` and friends as unanchored regexp source; null when not known or not modelled. */
function patternRegExp(word: Node | null, env: WordEnv): string | null {
  if (!word) return "";
  const acc = build(word, env);
  let re = "";
  for (const p of acc.pieces) {
    if (typeof p === "string" || p.text.includes(DYN)) return null;
    for (const c of p.text) {
      // Bracket expressions (`[a-z]`) are not modelled.
      if (p.glob && c === "[") return null;
      if (p.glob && c === "*") re += "[\\s\\S]*";
      else if (p.glob && c === "?") re += "[\\s\\S]";
      else re += c.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
    }
  }
  return re;
}

/** `#`/`##` remove the shortest/longest matching prefix, `%`/`%%` the shortest/longest suffix. */
function removeMatch(value: string, pattern: string, op: number): string {
  const prefix = op === EXP.RemSmallPrefix || op === EXP.RemLargePrefix;
  const longest = op === EXP.RemLargePrefix || op === EXP.RemLargeSuffix;
  const re = new RegExp(`^(?:${pattern})$`);
  const cuts = Array.from({ length: value.length + 1 }, (_v, i) => i);
  // Prefix: try lengths short to long (or long to short); suffix: starting points late to early (or early to late).
  const order = prefix === !longest ? cuts : cuts.reverse();
  for (const i of order) {
    if (prefix && re.test(value.slice(0, i))) return value.slice(i);
    if (!prefix && re.test(value.slice(i))) return value.slice(0, i);
  }
  return value;
}

/**
 * The output of `echo`/`printf` with literal arguments, which obfuscation uses to build command names,
 * and of `dirname`/`basename`/`pwd`, which scripts use to find their own directory (`cd "$(dirname "$0")"`).
 */
export function staticOutput(stmts: Node[], env: WordEnv): string | null {
  if (stmts.length !== 1) return null;
  const call = child(stmts[0], "Cmd");
  if (nodeType(call) !== "CallExpr") return null;
  const args = evalArgv(list(call, "Args"), env);
  if (args.some((a) => !a.literal)) return null;
  const [name, ...rest] = args.map((a) => a.value);
  if (name === "echo") return echoText(rest).replace(/\n+$/, "");
  if (name === "printf" && rest.length > 0) return printfText(rest).replace(/\n+$/, "");
  const [operand, more] = rest;
  if (name === "pwd" && rest.every((a) => a === "-L" || a === "-P")) return env.cwd;
  if (operand === undefined || more !== undefined || operand.startsWith("-")) return null;
  if (name === "dirname") return path.posix.dirname(operand);
  if (name === "basename") return path.posix.basename(operand);
  return null;
}

export function echoText(args: string[]): string {
  let interpret = false;
  let newline = true;
  let i = 0;
  for (; i < args.length && /^-[neE]+$/.test(args[i] as string); i++) {
    const f = args[i] as string;
    if (f.includes("e")) interpret = true;
    if (f.includes("n")) newline = false;
  }
  const body = args.slice(i).join(" ");
  return (interpret ? ansiC(body) : body) + (newline ? "\n" : "");
}

/** Good enough for literal text: `%s`/`%b`/`%d` take the next argument, escapes are decoded. */
export function printfText(args: string[]): string {
  let rest = args;
  if (rest[0] === "-v") rest = rest.slice(2);
  const [format = "", ...values] = rest;
  let k = 0;
  const once = (): string =>
    ansiC(format).replace(/%(%|[-+ #0-9.]*[sbdiqxXoc])/g, (m, spec: string) =>
      spec === "%" ? "%" : (values[k++] ?? ""),
    );
  let out = once();
  while (k > 0 && k < values.length) out += once();
  return out;
}

/** Decodes bash's `$'…'` escapes (also used for `echo -e` and printf formats). */
export function ansiC(s: string): string {
  return s.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs,
    (_m, e: string) => {
      const c = e[0];
      if (c === "x" || c === "u" || c === "U") return String.fromCodePoint(parseInt(e.slice(1), 16));
      if (c !== undefined && c >= "0" && c <= "7") return String.fromCharCode(parseInt(e, 8));
      if (c === "c") return String.fromCharCode(e.charCodeAt(1) & 31);
      const simple: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        a: "\x07",
        b: "\b",
        e: "\x1b",
        E: "\x1b",
        f: "\f",
        v: "\v",
      };
      return simple[e] ?? e;
    },
  );
}
