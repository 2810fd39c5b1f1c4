// The per-command rules of the Bash gate: which checks a simple command gets, chosen by its name
// (wrappers, shells, interpreters, eval/source, cd, deletes, copies, git, gh, containers, npx, SQL,
// deploy tools). Commands that run other commands recurse through the scan that called them; script
// files they run are read and checked too (scripts.ts).
import path from "node:path";
import { DYN, plainArg, type Arg } from "./words.js";
import { WRAPPERS, unwrap } from "./wrappers.js";
import { show, type Stdin, type Where } from "./rules/context.js";
import { diskRefusal, findPlan, mvRefusal, rmRefusal } from "./rules/delete.js";
import { gitOutcome, type GitEnv } from "./rules/git.js";
import { containerCommand, gitEnvAliases } from "./sources.js";
import { envDumpRefusal, ghRefusal } from "./rules/secrets.js";
import { SQL_CLIENTS, sqlRefusal } from "./rules/sql.js";
import { DEPLOY_TOOLS, deployRefusal } from "./rules/deploy.js";
import { codeRefusal, inlineCode, interpreterLang, scriptFileArg } from "./rules/code.js";
import { SHELLS, checkScript, type Runner, type ScriptState } from "./scripts.js";
import { checkPackageScripts } from "./package-scripts.js";

const NONE: Stdin = { kind: "none" };

/** What the rules need from the scan running them: its state, refusals, and recursion into nested commands. */
export interface RuleScan {
  /** Directory the next command runs in; null once it can no longer be known (`cd "$X"`). */
  cwd: string | null;
  readonly home: string;
  readonly gitAliases: GitEnv["repoAliases"];
  /** Aliases defined earlier in this command line (`git config alias.x …; git x`). */
  readonly sessionAliases: GitEnv["sessionAliases"];
  where(): Where;
  block(reason: string): void;
  /** Checks a nested simple command given as evaluated words. */
  argv(argv: readonly Arg[], stdin: Stdin, assigns?: readonly string[]): void;
  /** Parses and checks nested shell text, whose commands read `stdin` (none when not given). */
  source(src: string, label: string, stdin?: Stdin): void;
  /** The first refusal for shell text, without recording it (for code embedded in interpreters). */
  probe(src: string): string | null;
  /** True while probing: refusals are collected to be judged, not kept. */
  readonly probing: boolean;
  /**
   * Parses and checks a script's shell text. `positional` ($0, $1, …) replaces the caller's for the
   * script; unless `inherit`, the script's cd and variables end with it, as in a child shell.
   */
  childShell(
    src: string,
    label: string,
    positional: readonly Arg[] | null,
    inherit?: boolean,
    stdin?: Stdin,
  ): void;
  /** Runs `check`; the refusals it records are prefixed with `where` (e.g. "in the script x.sh"). */
  within(where: string, check: () => void): void;
  readonly scripts: ScriptState;
  checkWrite(target: Arg, verb: string): void;
}

export function applyCommandRules(
  scan: RuleScan,
  name: string,
  args: readonly Arg[],
  stdin: Stdin,
  assigns: readonly string[],
): void {
  const where = scan.where();
  const refuse = (why: string | null): void => {
    if (why) scan.block(why);
  };
  if (WRAPPERS.has(name)) {
    const inner = unwrap(name, args);
    if (inner.kind === "argv") scan.argv(inner.argv, stdin, [...assigns, ...(inner.assigns ?? [])]);
    // `… | env -S 'sh'`: the string's commands read the wrapper's stdin.
    else if (inner.kind === "source") scan.childShell(inner.source, inner.label, null, false, stdin);
    else if (name === "env") refuse(envDumpRefusal("env", args));
    return;
  }
  if (SHELLS.has(name)) return shellRule(scan, name, args, stdin);
  const lang = interpreterLang(name);
  if (lang) {
    const code = inlineCode(name, lang, args, stdin);
    if (code && "unknownStdin" in code)
      return scan.block(
        `Blocked: piping ${code.unknownStdin} into ${name} runs code nobody can check first. Save it to a file, read it, then run the file.`,
      );
    if (code) return refuse(codeRefusal(lang, code.code, code.argv, where, (src) => scan.probe(src)));
    const script = scriptFileArg(name, lang, args);
    if (script) checkScript(scan, script.file, { kind: "code", lang, name }, script.argv);
    else if (stdin.kind === "file") stdinScript(scan, name, stdin.file, { kind: "code", lang, name });
    return;
  }
  switch (name) {
    case "eval": {
      const joined = args.map((a) => a.value).join(" ");
      if (joined.includes(DYN))
        return scan.block(
          `Blocked: eval of text only known at run time ("${show(joined)}"). Run the command directly.`,
        );
      // `curl … | eval sh`: the evaluated text reads the same stdin as eval.
      return scan.source(joined, "eval text", stdin);
    }
    case "source":
    case ".":
      if (!args[0]) return; // bash refuses: nothing runs
      if (args[0].procSubst || !args[0].literal)
        return scan.block(
          "Blocked: sourcing generated or downloaded content runs code nobody can check first. Save it to a file, read it, then run it.",
        );
      return checkScript(scan, args[0], { kind: "source" }, args.slice(1));
    case "cd":
    case "pushd": {
      const to = args.find((a) => !a.value.startsWith("-") || a.value === "-");
      if (!to) scan.cwd = scan.home;
      else
        scan.cwd =
          to.literal && to.value !== "-" && scan.cwd !== null ? path.resolve(scan.cwd, to.value) : null;
      return;
    }
    case "rm":
    case "shred":
    case "unlink":
    case "srm":
    case "trash":
    case "trash-put":
      return refuse(rmRefusal(name, args, where));
    case "find": {
      const plan = findPlan(args, where);
      refuse(plan.refusal);
      for (const cmd of plan.execs) scan.argv(cmd, NONE);
      return;
    }
    case "mv":
    case "cp":
    case "ln":
    case "install":
    case "rsync": {
      if (name === "mv") refuse(mvRefusal(args, where));
      const last = args.filter((a) => !a.value.startsWith("-")).at(-1);
      if (last && args.filter((a) => !a.value.startsWith("-")).length > 1)
        scan.checkWrite(last, `${name}s into`);
      return;
    }
    case "tee":
      for (const a of args.filter((x) => !x.value.startsWith("-"))) scan.checkWrite(a, "writes with tee to");
      return;
    case "sed":
      if (args.some((a) => /^-[a-zA-Z]*i/.test(a.value) || a.value.startsWith("--in-place"))) {
        for (const a of args.filter((x) => !x.value.startsWith("-")).slice(1))
          scan.checkWrite(a, "edits in place");
      }
      return;
    case "git": {
      const envAliases = gitEnvAliases(assigns);
      const outcome = gitOutcome(args, {
        dir: scan.cwd,
        repoAliases: scan.gitAliases,
        sessionAliases: scan.sessionAliases,
        envAliases,
      });
      if (outcome.kind === "block") scan.block(outcome.reason);
      else if (outcome.kind === "argv")
        scan.argv(
          outcome.argv[0]?.value === "git" ? outcome.argv : [plainArg("git"), ...outcome.argv],
          NONE,
          assigns,
        );
      // A `!sh` alias or `submodule foreach sh` reads git's stdin like any -c string.
      else if (outcome.kind === "source") scan.childShell(outcome.source, outcome.label, null, false, stdin);
      return;
    }
    case "gh":
      return refuse(ghRefusal(args));
    case "docker":
    case "podman":
    case "kubectl": {
      // `docker exec CONTAINER cmd…`, `docker run IMAGE cmd…`, `kubectl exec POD -- cmd…` run a command too.
      const inner = containerCommand(name, args);
      if (inner) scan.argv(inner, stdin);
      break;
    }
    case "npx":
    case "pnpx":
    case "bunx": {
      // npx runs a package binary: check that command; `-c` takes a shell string.
      const at = args.findIndex((a) => a.value === "-c" || a.value === "--call");
      if (at !== -1)
        return scan.childShell(args[at + 1]?.value ?? "", `${name} -c string`, null, false, stdin);
      const rest = args.filter(
        (a, k) =>
          !(a.value.startsWith("-") || args[k - 1]?.value === "-p" || args[k - 1]?.value === "--package"),
      );
      // `wrangler@3` is the wrangler binary at a pinned version.
      const [bin, ...binArgs] = rest;
      if (bin) scan.argv([{ ...bin, value: bin.value.replace(/(.)@[^@/]*$/, "$1") }, ...binArgs], stdin);
      return;
    }
    default:
      break;
  }
  if (
    (name === "npm" || name === "pnpm" || name === "yarn") &&
    ["exec", "dlx", "x"].includes(args[0]?.value ?? "")
  ) {
    const rest = args.slice(1).filter((a) => !a.value.startsWith("-"));
    if (rest[0]?.value === "--") rest.shift();
    if (rest.length > 0) scan.argv(rest, stdin);
    return;
  }
  refuse(envDumpRefusal(name, args));
  refuse(diskRefusal(name, args));
  if (SQL_CLIENTS.has(name)) refuse(sqlRefusal(name, args, stdin));
  if (DEPLOY_TOOLS.has(name)) refuse(deployRefusal(name, args));
  if (name === "npm" || name === "pnpm" || name === "yarn") checkPackageScripts(scan, name, args);
}

/** `bash -c STRING`, `bash SCRIPT`, `… | bash`: check the text the shell would run, or refuse when it is unknowable. */
function shellRule(scan: RuleScan, name: string, args: readonly Arg[], stdin: Stdin): void {
  let i = name === "busybox" ? 1 : 0;
  if (name === "busybox" && !SHELLS.has(args[0]?.value ?? "")) {
    // busybox APPLET …: check it as that applet.
    if (args.length > 0) scan.argv(args, stdin);
    return;
  }
  let readsStdin = false;
  for (; i < args.length; i++) {
    const a = args[i] as Arg;
    const v = a.value;
    if (/^[-+][a-zA-Z]*c[a-zA-Z]*$/.test(v) && v.startsWith("-")) {
      const src = args[i + 1];
      if (!src) return;
      if (!src.literal && src.value.replace(new RegExp(DYN, "g"), "").trim() === "") {
        return scan.block(
          `Blocked: ${name} -c with a script only known at run time. Run the command directly.`,
        );
      }
      // `curl … | bash -c 'sh'`: the -c string's commands inherit the shell's stdin.
      return scan.childShell(src.value, `the ${name} -c string`, null, false, stdin);
    }
    // `bash -n x.sh` only parses the script (noexec).
    if (/^-[a-zA-Z]*n[a-zA-Z]*$/.test(v) || (v === "-o" && args[i + 1]?.value === "noexec")) return;
    if (v === "-s") readsStdin = true;
    else if (v === "-o" || v === "+o" || v === "-O" || v === "+O" || v === "--rcfile" || v === "--init-file")
      i++;
    else if (v === "--") {
      i++;
      break;
    } else if (!v.startsWith("-") && !v.startsWith("+")) break;
  }
  const script = args[i];
  if (script && !readsStdin) {
    if (script.procSubst || !script.literal)
      return scan.block(
        `Blocked: ${name} running a script that is generated or downloaded at run time. Save it to a file, read it, then run the file.`,
      );
    return checkScript(scan, script, { kind: "shell", name }, args.slice(i + 1));
  }
  if (stdin.kind === "text") scan.childShell(stdin.text, `the script fed to ${name}`, null);
  else if (stdin.kind === "file") stdinScript(scan, name, stdin.file, { kind: "shell", name });
  else if (stdin.kind === "unknown")
    scan.block(
      `Blocked: piping ${stdin.from} into ${name} runs commands nobody can check first (e.g. curl … | bash, base64 -d | sh). Save it to a file, read it, then run the file.`,
    );
}

/** `bash < x.sh`, `python3 < x.py`: the redirected file is the script. */
function stdinScript(scan: RuleScan, name: string, file: Arg | undefined, runner: Runner): void {
  if (!file) return;
  if (file.procSubst || !file.literal)
    return scan.block(
      `Blocked: ${name} reading a script from a file only known at run time ("${show(file)}"). Write its path literally.`,
    );
  checkScript(scan, file, runner, []);
}
