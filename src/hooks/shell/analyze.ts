// The Bash command gate: parses a command line with a real shell parser and checks every simple
// command it would run, including those inside substitutions, wrappers, `bash -c` strings, eval,
// heredocs fed to shells, aliases, inline interpreter code and the script files the command runs.
import path from "node:path";
import {
  Op,
  ParseError,
  child,
  forEachNested,
  list,
  nodeType,
  num,
  parseShell,
  text,
  type Node,
} from "./syntax.js";
import { DYN, evalWord, plainArg, type Arg, type WordEnv } from "./words.js";
import { show, type Stdin, type Where } from "./rules/context.js";
import { pipeSource } from "./sources.js";
import { credentialReadRefusal, envDumpRefusal, fileLikeArgs, secretParamRefusal } from "./rules/secrets.js";
import { applyCommandRules, type RuleScan } from "./command-rules.js";
import { checkScript, newScriptState } from "./scripts.js";
import { isInside, writeRefusal, type PathPolicy } from "../paths.js";

export interface GateOptions {
  /** Directory the command starts in (the hook input's cwd). */
  readonly cwd: string;
  readonly home: string;
  readonly tempDirs: readonly string[];
  /** Workspace root and protected globs; shell redirects and tee/cp/mv targets obey them too. */
  readonly policy: PathPolicy;
  /** Aliases from the repository's git config for a directory (null: unknown). May throw. */
  readonly gitAliases: (dir: string | null) => ReadonlyMap<string, string>;
}

export type Verdict = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export function analyzeCommand(command: string, options: GateOptions): Verdict {
  const scan = new Scan(options);
  scan.source(command, "the command");
  // `printf … >> x.sh && bash x.sh`: the gate read the file before this command changes it.
  for (const run of scan.scripts.runs) {
    if (scan.written.some((w) => isInside(run.abs, w)))
      scan.block(
        `Blocked: this command both writes and runs the script ${run.shown}, so the gate cannot check the text that would run. Write the script first, then run it in a separate command so the gate can read it.`,
      );
  }
  const reason = scan.reasons[0];
  return reason === undefined ? { allowed: true } : { allowed: false, reason };
}

/** Names tried for a command word only known at run time: if any of them would be blocked, so is it. */
const STAND_INS = [
  "rm",
  "git",
  "find",
  "env",
  "psql",
  "mysql",
  "sqlite3",
  "bash",
  "python3",
  "node",
  "perl",
  "wrangler",
  "kubectl",
  "terraform",
  "cat",
  "gh",
];
const NONE: Stdin = { kind: "none" };
const MAX_DEPTH = 12;
const POSITIONAL = /^(\d+|[@*#])$/;

class Scan implements RuleScan {
  readonly reasons: string[] = [];
  cwd: string | null;
  readonly home: string;
  readonly gitAliases: GateOptions["gitAliases"];
  readonly sessionAliases = new Map<string, string>();
  readonly scripts = newScriptState();
  /** Absolute paths this command line writes to (redirects, tee, cp/mv targets, sed -i). */
  readonly written: string[] = [];
  private readonly vars = new Map<string, string | null>();
  private depth = 0;
  private probes = 0;

  constructor(private readonly opts: GateOptions) {
    this.cwd = opts.cwd;
    this.home = opts.home;
    this.gitAliases = opts.gitAliases;
  }

  block(reason: string): void {
    this.reasons.push(reason);
  }

  where(): Where {
    return {
      cwd: this.cwd,
      workspace: this.opts.policy.workspace,
      home: this.opts.home,
      tempDirs: this.opts.tempDirs,
    };
  }

  private env(): WordEnv {
    return { home: this.opts.home, cwd: this.cwd, vars: this.vars };
  }

  get probing(): boolean {
    return this.probes > 0;
  }

  within(where: string, check: () => void): void {
    const before = this.reasons.length;
    check();
    for (let i = before; i < this.reasons.length; i++)
      this.reasons[i] = `Blocked: ${where}: ${(this.reasons[i] as string).replace(/^Blocked: /, "")}`;
  }

  childShell(src: string, label: string, positional: readonly Arg[] | null, inherit = false): void {
    const cwd = this.cwd;
    const vars = new Map(this.vars);
    if (positional) {
      for (const k of [...this.vars.keys()]) if (POSITIONAL.test(k)) this.vars.delete(k);
      positional.forEach((a, i) => this.vars.set(String(i), a.literal ? a.value : null));
      this.vars.set("#", String(positional.length - 1));
    }
    try {
      // While probing, a script that is not bash (a python file guessed as `$X file`) says nothing.
      this.parse(src, label, this.probing, NONE);
    } finally {
      if (!inherit) this.cwd = cwd;
      for (const k of inherit
        ? [...this.vars.keys()].filter((x) => POSITIONAL.test(x))
        : [...this.vars.keys()])
        this.vars.delete(k);
      for (const [k, v] of vars) if (!inherit || POSITIONAL.test(k)) this.vars.set(k, v);
    }
  }

  /**
   * Parses and checks shell text; text that does not parse is refused, since bash might still run part of it.
   * `stdin` is what the text's commands read: `… | bash -c 'sh'` and `… | eval sh` feed the pipe to sh.
   */
  source(src: string, label: string, stdin: Stdin = NONE): void {
    this.parse(src, label, false, stdin);
  }

  private parse(src: string, label: string, quietParseErrors: boolean, stdin: Stdin): void {
    if (++this.depth > MAX_DEPTH) {
      this.block(
        `Blocked: ${label} nests shells, evals and substitutions too deeply to check. Write the command directly.`,
      );
      return;
    }
    try {
      const file = parseShell(src);
      this.stmts(list(file, "Stmts"), stdin);
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      if (!quietParseErrors)
        this.block(`Blocked: ${label} is not valid bash (${err.message}); fix the quoting and retry.`);
    } finally {
      this.depth--;
    }
  }

  /** Checks shell text and returns the first refusal, without keeping it (for interpreter code). */
  probe(src: string): string | null {
    const before = this.reasons.length;
    const saved = this.cwd;
    this.probes++;
    try {
      this.source(src, "embedded command");
    } finally {
      this.probes--;
      this.cwd = saved;
    }
    const found = this.reasons.slice(before);
    this.reasons.length = before;
    return found.find((r) => !r.includes("is not valid bash")) ?? null;
  }

  private stmts(stmts: Node[], stdin: Stdin): void {
    for (const s of stmts) this.stmt(s, stdin);
  }

  private stmt(stmt: Node, inherited: Stdin): void {
    let stdin = inherited;
    for (const r of list(stmt, "Redirs")) stdin = this.redirect(r, stdin);
    this.command(child(stmt, "Cmd"), stdin);
  }

  private redirect(r: Node, stdin: Stdin): Stdin {
    const op = num(r, "Op");
    if (op === Op.Hdoc || op === Op.DashHdoc) {
      const body = child(r, "Hdoc");
      const quoted = list(child(r, "Word"), "Parts").some((p) => nodeType(p) !== "Lit");
      if (!body) return { kind: "text", text: "" };
      if (quoted)
        return {
          kind: "text",
          text: list(body, "Parts")
            .map((p) => text(p, "Value"))
            .join(""),
        };
      const arg = this.word(body);
      const secret = secretParamRefusal("heredoc", [arg]);
      if (secret) this.block(secret);
      return { kind: "text", text: arg.value };
    }
    const target = this.word(child(r, "Word"));
    if (op === Op.WordHdoc) {
      const secret = secretParamRefusal("here-string", [target]);
      if (secret) this.block(secret);
      return { kind: "text", text: `${target.value}\n` };
    }
    if (op === Op.RdrIn || op === Op.RdrInOut) {
      const why = credentialReadRefusal(target.value, this.where());
      if (why) this.block(why);
      if (op === Op.RdrIn)
        return target.procSubst
          ? { kind: "unknown", from: "a process substitution" }
          : { kind: "file", file: target };
    }
    const writes =
      [Op.RdrOut, Op.AppOut, Op.ClbOut, Op.RdrAll, Op.AppAll, Op.RdrInOut].includes(op as 54) ||
      (op === Op.DplOut && !/^(\d+|-)$/.test(target.value));
    if (writes) this.checkWrite(target, "redirects output to");
    return stdin;
  }

  checkWrite(target: Arg, verb: string): void {
    if (target.literal && (this.cwd !== null || path.isAbsolute(target.value)))
      this.written.push(path.resolve(this.cwd ?? "/", target.value));
    if (!target.literal || this.cwd === null) return;
    const abs = path.resolve(this.cwd, target.value);
    // Scratch files in the temp directory are fine, unless the workspace itself lives there (tests, runners).
    const inWorkspace = isInside(abs, this.opts.policy.workspace);
    if (
      !inWorkspace &&
      (/^\/dev\/(null|stdout|stderr|tty|fd\/\d+)$/.test(abs) ||
        this.opts.tempDirs.some((t) => abs.startsWith(`${t}/`)))
    )
      return;
    const why = writeRefusal(abs, this.opts.policy);
    if (why) this.block(`Blocked: the command ${verb} ${target.value}: ${why}.`);
  }

  /** Evaluates a word and checks the substitutions inside it, which bash runs first. */
  private word(w: Node | null): Arg {
    if (!w) return plainArg("");
    const arg = evalWord(w, this.env());
    for (const s of arg.substs) this.stmts(list(s, "Stmts"), NONE);
    return arg;
  }

  private command(cmd: Node | null, stdin: Stdin): void {
    if (!cmd) return;
    switch (nodeType(cmd)) {
      case "CallExpr":
        this.callExpr(cmd, stdin);
        return;
      case "BinaryCmd": {
        const x = child(cmd, "X");
        const y = child(cmd, "Y");
        const op = num(cmd, "Op");
        if (x) this.stmt(x, stdin);
        if (y) this.stmt(y, op === Op.Pipe || op === Op.PipeAll ? pipeSource(x, this.env()) : stdin);
        return;
      }
      case "DeclClause": {
        const variant = text(child(cmd, "Variant"), "Value");
        const args: Arg[] = [];
        for (const a of list(cmd, "Args")) {
          const name = text(child(a, "Name"), "Value");
          const value = child(a, "Value") ? this.word(child(a, "Value")) : null;
          if (name) {
            this.vars.set(name, value?.literal ? value.value : value ? null : (this.vars.get(name) ?? null));
            args.push(plainArg(value ? `${name}=${value.value}` : name));
          } else if (value) args.push(value);
          if (value) this.checkArgs(variant, [value]);
        }
        const why = envDumpRefusal(variant, args);
        if (why) this.block(why);
        return;
      }
      case "TimeClause":
      case "CoprocClause": {
        const inner = child(cmd, "Stmt");
        if (inner) this.stmt(inner, stdin);
        return;
      }
      default:
        // if/while/for/case/[[ ]]/(( ))/subshells/blocks/functions: check everything inside.
        forEachNested(cmd, (n, type) =>
          type === "Stmt" ? this.stmt(n, stdin) : this.stmts(list(n, "Stmts"), NONE),
        );
    }
  }

  private callExpr(call: Node, stdin: Stdin): void {
    const assigns: string[] = [];
    for (const a of list(call, "Assigns")) {
      const name = text(child(a, "Name"), "Value");
      const value = this.word(child(a, "Value"));
      this.checkArgs("assignment", [value]);
      this.vars.set(name, value.literal ? value.value : null);
      assigns.push(`${name}=${value.value}`);
    }
    // Unquoted expansions with blanks split into several words (`CMD="rm -rf"; $CMD /`).
    const argv = list(call, "Args")
      .map((w) => this.word(w))
      .flatMap((a) =>
        a.split
          ? a.value
              .split(/\s+/)
              .filter(Boolean)
              .map((v) => plainArg(v))
          : [a],
      );
    if (argv.length > 0) this.argv(argv, stdin, assigns);
  }

  /** Checks one simple command given as evaluated words. */
  argv(argv: readonly Arg[], stdin: Stdin, assigns: readonly string[] = []): void {
    const [head, ...args] = argv;
    if (!head) return;
    // `"$(npm bin)/vitest"`: the directory is computed but the program's name is not.
    const base = head.value.slice(head.value.lastIndexOf("/") + 1);
    if (!head.literal && (base === "" || base.includes(DYN))) {
      this.unknownCommand(head, args, stdin);
      return;
    }
    if (head.brace) {
      this.block(
        `Blocked: the command word "${head.value}" uses brace expansion, which hides what runs. Write the command literally.`,
      );
      return;
    }
    const name = base;
    this.checkArgs(name, args);
    applyCommandRules(this, name, args, stdin, assigns);
    // `./x.sh`, `scripts/run.sh`, `./node_modules/.bin/tsc`: a file run by path is read and checked.
    if (head.value.includes("/")) checkScript(this, head, { kind: "exec" }, args);
  }

  /** Rules that apply to every command's arguments: secret expansion and credential-file reads. */
  private checkArgs(name: string, args: readonly Arg[]): void {
    const secret = secretParamRefusal(name, args);
    if (secret) this.block(secret);
    for (const a of fileLikeArgs(name, args)) {
      const v =
        a.value.startsWith("-") && a.value.includes("=") ? a.value.slice(a.value.indexOf("=") + 1) : a.value;
      const why = credentialReadRefusal(v, this.where());
      if (why) this.block(why);
    }
  }

  private unknownCommand(head: Arg, args: readonly Arg[], stdin: Stdin): void {
    // The command name is computed at run time (`$X -rf /`, `$(echo rm) …`): try it as each command we
    // guard, and refuse when any of them would be refused with these arguments.
    for (const name of STAND_INS) {
      const why = this.probeArgv([plainArg(name), ...args], stdin);
      if (why) {
        this.block(
          `Blocked: the command name "${show(head)}" is only known at run time and, if it were ${name}, this would be refused (${why.replace(/^Blocked: /, "")}). Write the command name literally.`,
        );
        return;
      }
    }
  }

  private probeArgv(argv: readonly Arg[], stdin: Stdin): string | null {
    const before = this.reasons.length;
    const saved = this.cwd;
    this.probes++;
    try {
      this.argv(argv, stdin);
    } finally {
      this.probes--;
      this.cwd = saved;
    }
    const found = this.reasons[before] ?? null;
    this.reasons.length = before;
    return found;
  }
}
