// The Bash command gate: parses a command line with a real shell parser and checks every simple
// command it would run, including those inside substitutions, wrappers, `bash -c` strings, eval,
// heredocs fed to shells, aliases, inline interpreter code and the script files the command runs.
import path from "node:path";
import {
  Op,
  ParseError,
  child,
  flag,
  forEachNested,
  list,
  nodeType,
  num,
  offset,
  parseShell,
  text,
  walkAll,
  type Node,
} from "./syntax.js";
import {
  DEFAULT_IFS,
  DYN,
  IFS_NAME,
  evalFields,
  evalWord,
  plainArg,
  type Arg,
  type WordEnv,
} from "./words.js";
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
  // `echo '{…}' > package.json && npm test`, `npm pkg set scripts.test=… && npm test`: likewise.
  const pkgWrites = [...scan.written, ...scan.scripts.packageWrites];
  const pkg = scan.scripts.packages.find((p) => pkgWrites.some((w) => isInside(p.abs, w)));
  if (pkg)
    scan.block(
      `Blocked: this command both writes ${pkg.shown} and runs a package script from it, so the gate cannot check the script that would run. Edit package.json first, then run the script in a separate command so the gate can read it.`,
    );
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
/** `$1`, `$2`, … and `$#`: what `set --`, `shift` and function calls change (not `$0`). */
const ARGS = /^([1-9]\d*|#)$/;
/** Special builtins: sh and bash --posix keep a prefix assignment (`IFS=, :`) after them. */
const SPECIAL_BUILTINS = new Set([
  ":",
  ".",
  "source",
  "break",
  "continue",
  "eval",
  "exec",
  "exit",
  "export",
  "readonly",
  "return",
  "set",
  "shift",
  "times",
  "trap",
  "unset",
]);

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
  /** Parse depth of the current shell's own top level (a script run as a child shell has its own). */
  private topDepth = 1;
  /** Whether the simple command being checked runs unconditionally (see `stmts`): `eval` text inherits it. */
  private callTop = false;
  /** IFS is written in a way the scan does not follow (`read IFS`, `for IFS in`, `((IFS=1))`): unknown throughout. */
  private ifsOpaque = false;
  /** Counts IFS assignments, so nested text that set IFS is told from text that did not. */
  private ifsWrites = 0;

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

  /**
   * Shell text run by a new shell (a script, `bash -c`, `env -S`, a `!sh` alias, `npx -c`): its
   * top-level assignments hold within it and, unless `inherit` (`. file`), end with it.
   */
  childShell(
    src: string,
    label: string,
    positional: readonly Arg[] | null,
    inherit = false,
    stdin: Stdin = NONE,
  ): void {
    const cwd = this.cwd;
    const vars = new Map(this.vars);
    const topDepth = this.topDepth;
    if (positional) {
      for (const k of [...this.vars.keys()]) if (POSITIONAL.test(k)) this.vars.delete(k);
      positional.forEach((a, i) => this.vars.set(String(i), a.literal ? a.value : null));
      this.vars.set("#", String(positional.length - 1));
    }
    if (!inherit) {
      // A new shell starts with the default IFS (bash and dash ignore one in the environment), and its
      // top-level assignments hold for the rest of it.
      this.setIfs(undefined);
      this.topDepth = this.depth + 1;
    }
    try {
      // While probing, a script that is not bash (a python file guessed as `$X file`) says nothing.
      this.parse(src, label, this.probing, stdin);
    } finally {
      this.topDepth = topDepth;
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
    // Nested text runs in a new shell (bash -c, where IFS is back to the default) or in this one (eval),
    // so an IFS this command set is unknown in there; it holds again after, unless the text assigned it.
    const had = this.vars.has("IFS");
    const ifs = this.vars.get("IFS");
    const writes = this.ifsWrites;
    if (had) this.setIfs(null);
    // `eval` text runs in this shell, as unconditionally as the eval itself.
    const topDepth = this.topDepth;
    if (this.callTop) this.topDepth = this.depth + 1;
    try {
      this.parse(src, label, false, stdin);
    } finally {
      this.topDepth = topDepth;
      if (had && this.ifsWrites === writes) this.setIfs(ifs ?? null);
    }
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
      if (src.includes("IFS") && writesIfsOddly(file)) {
        this.ifsOpaque = true;
        this.setIfs(null);
      }
      this.stmts(list(file, "Stmts"), stdin, this.depth === this.topDepth);
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

  /**
   * `top`: the statements run unconditionally in the shell whose variables the scan tracks, so an IFS
   * they assign certainly holds afterwards (elsewhere, in a branch, loop, function, pipeline or
   * subshell, it might not, and IFS becomes unknown).
   */
  private stmts(stmts: Node[], stdin: Stdin, top = false): void {
    for (const s of stmts) this.stmt(s, stdin, top);
  }

  private stmt(stmt: Node, inherited: Stdin, top = false): void {
    let stdin = inherited;
    for (const r of list(stmt, "Redirs")) stdin = this.redirect(r, stdin);
    this.command(child(stmt, "Cmd"), stdin, top && !flag(stmt, "Background") && !flag(stmt, "Coprocess"));
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
    // Scratch files in the temp directory are fine, unless the workspace or the home directory itself
    // lives there (tests, runners): `~/.bashrc` stays guarded wherever home is.
    const guarded = isInside(abs, this.opts.policy.workspace) || isInside(abs, this.opts.home);
    if (
      !guarded &&
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

  /** The argv words one shell word becomes after field splitting; its substitutions are checked once. */
  private fields(w: Node): Arg[] {
    const { whole, fields } = evalFields(w, this.env());
    for (const s of whole.substs) this.stmts(list(s, "Stmts"), NONE);
    return fields;
  }

  /** Sets IFS (undefined: bash's default), or marks it unknown when the scan cannot follow it. */
  private setIfs(value: string | null | undefined): void {
    if (value === undefined && !this.ifsOpaque) this.vars.delete("IFS");
    else this.vars.set("IFS", this.ifsOpaque ? null : (value ?? null));
  }

  /** Records an assignment; see `stmts` for `top`. `X=(…)` and `X[i]=…` leave `$X` unknown. */
  private assign(a: Node, value: Arg | null, top: boolean): void {
    const name = text(child(a, "Name"), "Value");
    // The array's words (and the substitutions in them) are evaluated like any others.
    for (const e of list(child(a, "Array"), "Elems"))
      this.checkArgs("assignment", [this.word(child(e, "Value"))]);
    const prev = this.vars.has(name) ? this.vars.get(name) : name === "IFS" ? DEFAULT_IFS : null;
    let known = child(a, "Array") || child(a, "Index") || !value?.literal ? null : value.value;
    if (!value && !child(a, "Array")) known = prev ?? null; // `declare X`: unchanged
    if (flag(a, "Append")) known = known !== null && prev != null ? prev + known : null;
    // Assigned in a branch, loop, function or subshell, the value may or may not hold afterwards
    // (`G=git; false && G=ls; $G push`): unknown from here on, like IFS.
    if (name !== "IFS") this.vars.set(name, top ? known : null);
    else {
      this.ifsWrites++;
      this.setIfs(top ? known : null);
    }
  }

  /** `set -- a b`, `set a b`: new positional parameters (unknown unless set unconditionally). */
  private setPositional(args: readonly Arg[], top: boolean): void {
    let i = 0;
    for (; i < args.length; i++) {
      const v = (args[i] as Arg).value;
      if (v === "--" || v === "-") {
        i++;
        break;
      }
      if (!/^[-+]/.test(v)) break;
      if (/^[-+][a-zA-Z]*o$/.test(v)) i++; // `set -o pipefail`
    }
    if (i > args.length || (i === args.length && !args.some((a) => a.value === "--" || a.value === "-")))
      return;
    this.forgetArgs();
    const values = args.slice(i);
    values.forEach((a, k) => this.vars.set(String(k + 1), a.literal ? a.value : null));
    // `set -- $X` with X unknown may set any number of them.
    this.vars.set("#", top && values.every((a) => a.literal) ? String(values.length) : null);
  }

  private forgetArgs(): void {
    for (const k of [...this.vars.keys()]) if (ARGS.test(k)) this.vars.delete(k);
  }

  private command(cmd: Node | null, stdin: Stdin, top = false): void {
    if (!cmd) return;
    switch (nodeType(cmd)) {
      case "CallExpr":
        this.callExpr(cmd, stdin, top);
        return;
      case "BinaryCmd": {
        const x = child(cmd, "X");
        const y = child(cmd, "Y");
        const op = num(cmd, "Op");
        if (op === Op.Pipe || op === Op.PipeAll) {
          // Each side of a pipe is a subshell: everything in it runs, and its variables end with it.
          if (x) this.subshell(() => this.stmt(x, stdin, true));
          if (y) this.subshell(() => this.stmt(y, pipeSource(x, this.env()), true));
          return;
        }
        // The left side of `a && b` / `a || b` always runs; the right side may not, unless the left
        // is a literal `true`/`:` before `&&` or `false` before `||`.
        if (x) this.stmt(x, stdin, top);
        const runs = (op === Op.AndStmt && exitsWith(x, true)) || (op === Op.OrStmt && exitsWith(x, false));
        if (y) this.stmt(y, stdin, top && runs);
        return;
      }
      case "Subshell":
        this.subshell(() => this.stmts(list(cmd, "Stmts"), stdin, true));
        return;
      case "Block":
        // `{ …; }` runs in this shell, as unconditionally as the block itself.
        this.stmts(list(cmd, "Stmts"), stdin, top);
        return;
      case "DeclClause": {
        const variant = text(child(cmd, "Variant"), "Value");
        const args: Arg[] = [];
        for (const a of list(cmd, "Args")) {
          const name = text(child(a, "Name"), "Value");
          const value = child(a, "Value") ? this.word(child(a, "Value")) : null;
          if (name) {
            this.assign(a, value, top);
            args.push(plainArg(value ? `${name}=${value.value}` : name));
          } else if (value) args.push(value);
          if (value) this.checkArgs(variant, [value]);
          // `declare -n r=I\FS` makes r another name for IFS.
          if (value && IFS_NAME.test(value.value)) this.ifsUnknowable();
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
      default: {
        // A function's body sees the arguments of each call, not the current `$1`, `$@`.
        const saved = nodeType(cmd) === "FuncDecl" ? [...this.vars].filter(([k]) => ARGS.test(k)) : null;
        if (saved) {
          this.forgetArgs();
          this.vars.set("#", null);
        }
        // if/while/for/case/[[ ]]/(( ))/subshells/blocks/functions: check everything inside.
        forEachNested(cmd, (n, type) =>
          type === "Stmt" ? this.stmt(n, stdin) : this.stmts(list(n, "Stmts"), NONE),
        );
        if (saved) {
          this.forgetArgs();
          for (const [k, v] of saved) this.vars.set(k, v);
        }
      }
    }
  }

  /** Runs `check` as a subshell: the variables and directory it sets end with it. */
  private subshell(check: () => void): void {
    const vars = new Map(this.vars);
    const cwd = this.cwd;
    try {
      check();
    } finally {
      this.vars.clear();
      for (const [k, v] of vars) this.vars.set(k, v);
      this.cwd = cwd;
    }
  }

  private ifsUnknowable(): void {
    this.ifsOpaque = true;
    this.setIfs(null);
  }

  private callExpr(call: Node, stdin: Stdin, top: boolean): void {
    // Bash expands the words before the assignments in front of them take effect (`X=ls $X` runs the
    // old $X, `IFS=, $cmd` splits on the old IFS), and splits unquoted expansions into several words
    // (`CMD="rm -rf"; $CMD /`, `git${IFS}push`).
    const words = list(call, "Args");
    const argv = words.flatMap((w) => this.fields(w));
    const ifsBefore = this.vars.has("IFS") ? this.vars.get("IFS") : undefined;
    // With IFS unknown (set in a branch, or in a way not followed), unquoted expansions count as run-time
    // text. That loses a known command word (`$X origin` with X="git push"), so the command is also
    // checked as split on the default IFS, which is what it is whenever the unknown write did not happen.
    let splitByDefault: Arg[] | null = null;
    if (ifsBefore === null) {
      const vars = new Map(this.vars);
      vars.delete("IFS");
      const alt = words.flatMap((w) => evalFields(w, { ...this.env(), vars }).fields);
      if (alt.map((a) => a.value).join("\0") !== argv.map((a) => a.value).join("\0")) splitByDefault = alt;
    }
    const assigns: string[] = [];
    for (const a of list(call, "Assigns")) {
      const name = text(child(a, "Name"), "Value");
      const value = this.word(child(a, "Value"));
      this.checkArgs("assignment", [value]);
      this.assign(a, child(a, "Value") ? value : plainArg(""), top);
      assigns.push(`${name}=${value.value}`);
    }
    const head = argv[0];
    if (!head) return;
    const callTop = this.callTop;
    this.callTop = top;
    try {
      this.argv(argv, stdin, assigns);
    } finally {
      this.callTop = callTop;
    }
    const why = splitByDefault && this.probeArgv(splitByDefault, stdin, assigns);
    if (why) this.block(why);
    // `read IFS`, `unset IFS`, `printf -v IFS`, `getopts … IFS`: IFS changes in ways not followed here.
    if (argv.slice(1).some((a) => IFS_NAME.test(a.value))) this.ifsUnknowable();
    if (list(call, "Assigns").some((a) => text(child(a, "Name"), "Value") === "IFS")) {
      // `IFS=, cmd` sets IFS for cmd alone in bash; sh and bash --posix keep it after a special builtin.
      this.setIfs(head.literal && !SPECIAL_BUILTINS.has(head.value) ? ifsBefore : null);
    }
    if (head.value === "set") this.setPositional(argv.slice(1), top);
    if (head.value === "shift") this.vars.set("#", null);
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

  private probeArgv(argv: readonly Arg[], stdin: Stdin, assigns: readonly string[] = []): string | null {
    const before = this.reasons.length;
    const saved = this.cwd;
    this.probes++;
    try {
      this.argv(argv, stdin, assigns);
    } finally {
      this.probes--;
      this.cwd = saved;
    }
    const found = this.reasons[before] ?? null;
    this.reasons.length = before;
    return found;
  }
}

/** Whether `stmt` certainly exits with success (`true`, `:`, `true && true`) or failure (`false`). */
function exitsWith(stmt: Node | null, success: boolean): boolean {
  const cmd = child(stmt, "Cmd");
  if (!cmd || list(stmt, "Redirs").length || flag(stmt, "Negated")) return false;
  if (nodeType(cmd) === "BinaryCmd") {
    const op = num(cmd, "Op");
    const [x, y] = [child(cmd, "X"), child(cmd, "Y")];
    if (op !== Op.AndStmt && op !== Op.OrStmt) return false;
    // `x && y` runs y only when x succeeds, `x || y` only when x fails; otherwise x's status stands.
    const goesOn = op === Op.AndStmt;
    if (exitsWith(x, goesOn)) return exitsWith(y, success);
    return exitsWith(x, !goesOn) && success === !goesOn;
  }
  if (nodeType(cmd) !== "CallExpr" || list(cmd, "Assigns").length) return false;
  const args = list(cmd, "Args");
  const parts = args.length === 1 ? list(args[0] ?? null, "Parts") : [];
  const word =
    parts.length === 1 && nodeType(parts[0] ?? null) === "Lit" ? text(parts[0] ?? null, "Value") : "";
  return success ? word === "true" || word === ":" : word === "false";
}

/**
 * True when shell text names IFS other than in `$IFS`/`${IFS…}` or a plain `IFS=…` assignment: such
 * text may change IFS in ways the scan does not follow (`read IFS`, `unset IFS`, `for IFS in`,
 * `((IFS=1))`, `declare -n r=IFS`). Names in quoted data (`grep IFS`) count too, which only costs
 * precision.
 */
function writesIfsOddly(file: Node): boolean {
  const plain = new Set<number>();
  let odd = false;
  walkAll(file, (n, type) => {
    if (type === "ParamExp") plain.add(offset(child(n, "Param")));
    else if (type === "CallExpr" || type === "DeclClause")
      for (const a of list(n, type === "CallExpr" ? "Assigns" : "Args")) plain.add(offset(child(a, "Name")));
    else if ((type === "Lit" && !plain.has(offset(n))) || type === "SglQuoted")
      odd ||= IFS_NAME.test(text(n, "Value"));
  });
  return odd;
}
