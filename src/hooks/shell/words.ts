// Turns parsed shell words into the strings bash would pass, as far as they are known before running.
import path from "node:path";
import { child, flag, forEachNested, list, nodeType, text, type Node } from "./syntax.js";

/** Stands for any text only known at run time (a variable, a substitution, `~user`). */
export const DYN = "\u0000";

export interface Arg {
  /** The word after quote removal; DYN marks each run-time part. */
  readonly value: string;
  /** True when no part of the word depends on run-time state. */
  readonly literal: boolean;
  /** Unquoted `*`, `?` or `[`: the shell may expand it to several paths. */
  readonly glob: boolean;
  /** Unquoted brace expansion (`{a,b}`), which can turn one word into several. */
  readonly brace: boolean;
  /** Names of parameters whose values the word expands (not `${#X}`, which is a length). */
  readonly params: readonly string[];
  /** Command and process substitutions inside the word: they run too. */
  readonly substs: readonly Node[];
  readonly procSubst: boolean;
  /** An unquoted expansion produced blanks: bash splits the word into several. */
  readonly split?: boolean;
}

export interface WordEnv {
  readonly home: string;
  /** The shell's directory at this point, or null once a `cd` went somewhere unknown. */
  readonly cwd: string | null;
  /** Variables assigned earlier in the same command: a string, or null when not known. */
  readonly vars: ReadonlyMap<string, string | null>;
}

interface Acc {
  value: string;
  glob: boolean;
  brace: boolean;
  params: string[];
  substs: Node[];
  procSubst: boolean;
  split: boolean;
}

const GLOB = new Set(["*", "?", "["]);

export function evalWord(word: Node, env: WordEnv): Arg {
  const acc: Acc = {
    value: "",
    glob: false,
    brace: false,
    params: [],
    substs: [],
    procSubst: false,
    split: false,
  };
  const parts = list(word, "Parts");
  parts.forEach((part, i) => evalPart(part, i === 0, false, acc, env));
  return { ...acc, literal: !acc.value.includes(DYN) };
}

/** A synthetic argument (xargs input, find's `{}`, an alias word). */
export function plainArg(value: string, literal = !value.includes(DYN)): Arg {
  return { value, literal, glob: false, brace: false, params: [], substs: [], procSubst: false };
}

function evalPart(part: Node, first: boolean, quoted: boolean, acc: Acc, env: WordEnv): void {
  switch (nodeType(part)) {
    case "Lit":
      acc.value += quoted
        ? unescapeDouble(text(part, "Value"))
        : unquotedLit(text(part, "Value"), first, acc, env);
      return;
    case "SglQuoted":
      acc.value += flag(part, "Dollar") ? ansiC(text(part, "Value")) : text(part, "Value");
      return;
    case "DblQuoted":
      for (const inner of list(part, "Parts")) evalPart(inner, false, true, acc, env);
      return;
    case "ParamExp": {
      const v = paramValue(part, acc, env);
      if (!quoted && /\s/.test(v)) acc.split = true;
      acc.value += v;
      return;
    }
    case "CmdSubst": {
      acc.substs.push(part);
      const out = staticOutput(list(part, "Stmts"), env) ?? DYN;
      if (!quoted && /\s/.test(out)) acc.split = true;
      acc.value += out;
      return;
    }
    case "ProcSubst":
      acc.substs.push(part);
      acc.procSubst = true;
      acc.value += DYN;
      return;
    case "ExtGlob":
      acc.glob = true;
      acc.value += "*";
      return;
    default:
      // Arithmetic and anything newer: unknown text, but substitutions inside still run.
      forEachNested(part, (n, type) => {
        if (type !== "Stmt") acc.substs.push(n);
      });
      acc.value += DYN;
  }
}

function unquotedLit(raw: string, first: boolean, acc: Acc, env: WordEnv): string {
  let s = raw;
  let out = "";
  if (first && s.startsWith("~")) {
    const end = s.indexOf("/") === -1 ? s.length : s.indexOf("/");
    const user = s.slice(1, end);
    out += user === "" ? env.home : user === "+" && env.cwd ? env.cwd : DYN;
    s = s.slice(end);
  }
  if (/\{[^{}]*(,|\.\.)[^{}]*\}/.test(s)) acc.brace = true;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === "\\") {
      const next = s[i + 1];
      i++;
      if (next !== undefined && next !== "\n") out += next;
      continue;
    }
    if (GLOB.has(c)) acc.glob = true;
    out += c;
  }
  return out;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === "\n" ? "" : c));
}

function paramValue(part: Node, acc: Acc, env: WordEnv): string {
  // Substitutions in `${X:-$(cmd)}` and the like run as well.
  forEachNested(part, (n, type) => {
    if (type !== "Stmt") acc.substs.push(n);
  });
  const name = text(child(part, "Param"), "Value");
  if (flag(part, "Length")) return DYN;
  if (flag(part, "Excl")) {
    // `${!X}` reads a variable chosen at run time; `${!PREFIX*}` lists names only.
    if (!child(part, "Names")) acc.params.push(`!${name}`);
    return DYN;
  }
  acc.params.push(name);
  const plain = !child(part, "Exp") && !child(part, "Repl") && !child(part, "Slice") && !child(part, "Index");
  if (!plain) return DYN;
  if (env.vars.has(name)) return env.vars.get(name) ?? DYN;
  if (name === "HOME") return env.home;
  if (name === "PWD" && env.cwd) return env.cwd;
  return DYN;
}

/**
 * The output of `echo`/`printf` with literal arguments, which obfuscation uses to build command names,
 * and of `dirname`/`basename`/`pwd`, which scripts use to find their own directory (`cd "$(dirname "$0")"`).
 */
export function staticOutput(stmts: Node[], env: WordEnv): string | null {
  if (stmts.length !== 1) return null;
  const call = child(stmts[0], "Cmd");
  if (nodeType(call) !== "CallExpr") return null;
  const args = list(call, "Args").map((w) => evalWord(w, env));
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
