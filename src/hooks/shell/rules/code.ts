// Inline code for other interpreters (python -c, node -e, perl -e, ruby -e, heredocs fed to them).
// This is a heuristic over the code text, not a parser for four languages: it blocks deletion APIs
// aimed at precious paths, shell-outs whose string literals are themselves blocked commands, decoded
// code that is executed, and environment dumps. Run scripts from files for anything more complex.
import path from "node:path";
import type { Arg } from "../words.js";
import { recursiveTargetRefusal } from "./delete.js";
import { destructiveSql } from "./sql.js";
import { credentialReadRefusal } from "./secrets.js";
import type { Stdin, Where } from "./context.js";

export type Lang = "python" | "node" | "perl" | "ruby" | "php";

export function interpreterLang(name: string): Lang | null {
  if (/^python(\d+(\.\d+)?)?$|^pypy3?$/.test(name)) return "python";
  if (/^(node|nodejs|deno|bun|tsx|ts-node)$/.test(name)) return "node";
  if (name === "perl") return "perl";
  if (name === "ruby" || name === "irb") return "ruby";
  if (name === "php") return "php";
  return null;
}

export type CodeSource =
  { readonly code: string; readonly argv: readonly string[] } | { readonly unknownStdin: string } | null;

/** Options whose value is the next word, per language (`python -W ignore x.py`, `node -r ./setup.js x.js`). */
const VALUE_FLAGS: Record<Lang, readonly string[]> = {
  python: ["-W", "-X", "-Q", "--check-hash-based-pycs"],
  node: [
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "-C",
    "--conditions",
    "--input-type",
    "--env-file",
    "--env-file-if-exists",
    "--title",
    "--disable-warning",
    "--redirect-warnings",
    "--watch-path",
    "--test-reporter",
    "--test-reporter-destination",
    "--test-name-pattern",
    "--test-skip-pattern",
    "--inspect-port",
    "--unhandled-rejections",
  ],
  perl: ["-I"],
  ruby: ["-I", "-r", "-C", "-E", "-F"],
  php: ["-c", "-d", "-z"],
};

/** Finds the inline program: `-c CODE`, `-e CODE`, `--eval=CODE`, `deno eval CODE`, or stdin when no script is named. */
export function inlineCode(name: string, lang: Lang, args: readonly Arg[], stdin: Stdin): CodeSource {
  const flags =
    lang === "python"
      ? ["-c"]
      : lang === "node"
        ? ["-e", "--eval", "-p", "--print"]
        : lang === "php"
          ? ["-r"]
          : ["-e", "-E"];
  for (let i = 0; i < args.length; i++) {
    const v = (args[i] as Arg).value;
    if (flags.includes(v))
      return { code: args[i + 1]?.value ?? "", argv: args.slice(i + 2).map((a) => a.value) };
    const eq = flags.find((f) => f.startsWith("--") && v.startsWith(`${f}=`));
    if (eq) return { code: v.slice(eq.length + 1), argv: args.slice(i + 1).map((a) => a.value) };
    // Glued forms: `python -c'…'`, `perl -e'…'`, and clustered flags like `perl -le '…'`.
    if (
      /^-[a-zA-Z]+$/.test(v) &&
      flags.some((f) => f.length === 2 && v.endsWith(f[1] as string)) &&
      lang !== "node"
    ) {
      return { code: args[i + 1]?.value ?? "", argv: args.slice(i + 2).map((a) => a.value) };
    }
    if (lang === "python" && v.startsWith("-c") && v.length > 2)
      return { code: v.slice(2), argv: args.slice(i + 1).map((a) => a.value) };
    if (name === "deno" && v === "eval") return { code: args[i + 1]?.value ?? "", argv: [] };
    if (VALUE_FLAGS[lang].includes(v)) {
      i++;
      continue;
    }
    if (!v.startsWith("-") || v === "-") {
      if (v !== "-") return null; // a script file: see scriptFileArg
      break;
    }
    if (lang === "python" && v === "-m") return null; // a module: pytest, pip, http.server …
  }
  if (stdin.kind === "text") return { code: stdin.text, argv: [] };
  if (stdin.kind === "unknown") return { unknownStdin: stdin.from };
  return null;
}

/** Subcommands of deno and bun that do not run a file named next. */
const NOT_RUNNERS = new Set([
  "test",
  "task",
  "fmt",
  "lint",
  "check",
  "compile",
  "install",
  "add",
  "remove",
  "cache",
  "bench",
  "info",
  "doc",
  "repl",
  "upgrade",
  "init",
  "create",
  "publish",
  "build",
  "x",
  "pm",
  "link",
  "outdated",
  "update",
  "coverage",
  "types",
  "completions",
  "jupyter",
  "lsp",
]);

/**
 * The script file an interpreter runs (`python3 x.py`, `node build.js`, `deno run x.ts`, `php -f x.php`)
 * and the arguments it gets; null for inline code, modules (`python -m`), a REPL or subcommands.
 */
export function scriptFileArg(
  name: string,
  lang: Lang,
  args: readonly Arg[],
): { readonly file: Arg; readonly argv: readonly Arg[] } | null {
  if (name === "irb") return null;
  // deno, bun and tsx take a subcommand first; `bun run NAME` may name a package.json script.
  let subcommand = name === "deno" || name === "bun" || name === "tsx";
  let packageScript = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Arg;
    const v = a.value;
    if (lang === "php" && v === "-f")
      return args[i + 1] ? { file: args[i + 1] as Arg, argv: args.slice(i + 2) } : null;
    if (VALUE_FLAGS[lang].includes(v)) {
      i++;
      continue;
    }
    if (lang === "python" && v.startsWith("-m")) return null;
    // `node --check x.js`, `ruby -c x.rb`: a syntax check runs nothing.
    if ((lang === "node" && (v === "-c" || v === "--check")) || (lang === "ruby" && v === "-c")) return null;
    if (v === "--") {
      const file = args[i + 1];
      return file ? { file, argv: args.slice(i + 2) } : null;
    }
    if (v === "-") return null;
    if (v.startsWith("-")) continue;
    if (subcommand) {
      subcommand = false;
      if (v === "run" || v === "serve" || v === "watch") {
        packageScript = name === "bun";
        continue;
      }
      if (NOT_RUNNERS.has(v)) return null;
      if (name === "bun" && !/[./]/.test(v)) return null;
    }
    if (packageScript && !/[./]/.test(v)) return null;
    return { file: a, argv: args.slice(i + 1) };
  }
  return null;
}

const DELETE_API: Record<Lang, RegExp> = {
  python: /\b(rmtree|remove|unlink|rmdir|removedirs|send2trash|truncate)\s*\(/,
  node: /\b(rmSync|rmdirSync|unlinkSync|rm|rmdir|unlink|rimraf|remove|removeSync|emptyDir|emptyDirSync|truncateSync)\s*\(/,
  perl: /\b(rmtree|remove_tree|unlink|rmdir)\b/,
  ruby: /\b(rm_rf|rm_r|rm|remove_dir|remove_entry|remove_entry_secure|rmtree|delete|rmdir|unlink)\b/,
  php: /\b(unlink|rmdir|exec|system|shell_exec|passthru)\s*\(/,
};
const EXEC_API: Record<Lang, RegExp> = {
  python:
    /\b(system|popen|subprocess|check_output|check_call|run|call|Popen|spawn\w*|exec[lv]p?e?|getoutput|getstatusoutput)\s*\(/,
  node: /\b(child_process|execSync|exec|spawn|spawnSync|execFile|execFileSync|fork|\$`|execa)\b/,
  perl: /\b(system|exec|qx)\b|`/,
  ruby: /\b(system|exec|spawn|popen\w*|Open3|%x)\b|`/,
  php: /\b(exec|system|shell_exec|passthru|popen|proc_open)\s*\(|`/,
};
const HOME_OR_ROOT =
  /expanduser|Path\.home|os\.homedir|homedir\(\)|Dir\.home|getcwd|process\.cwd|Dir\.pwd|os\.getenv\(\s*['"]HOME|environ\s*\[\s*['"]HOME|environ\.get\(\s*['"]HOME|process\.env\.HOME|ENV\s*\[\s*['"]HOME|\$ENV\{\s*['"]?HOME/;
const DECODE = String.raw`\b(b64decode|decodebytes|atob|fromCharCode|unhexlify|fromhex|from\(.*base64|unpack|decode\(|codecs|zlib|rot13|chr\()`;
const DECODE_EXEC = new RegExp(String.raw`\b(exec|eval|Function|system)\b[\s\S]*` + DECODE);
/** In a script file, the decoding must be part of the same statement as the call that runs it. */
const DECODE_EXEC_NEAR = new RegExp(String.raw`\b(exec|eval|Function|system)\b[^\n;]{0,160}?` + DECODE);
const ENV_DUMP: Record<Lang, RegExp> = {
  python:
    /(print|pprint|json\.dumps?|str|repr)\s*\(\s*(dict\s*\(\s*)?os\.environ\s*\)|os\.environ\.(items|values)\s*\(|for\s+\w+\s+in\s+os\.environ\b/,
  node: /(console\.(log|dir|error|info)|JSON\.stringify|util\.inspect|Object\.(entries|values|keys))\s*\(\s*process\.env\s*[,)]|process\.stdout\.write\(\s*JSON\.stringify\(\s*process\.env/,
  perl: /%ENV\b(?!\s*\{)|\bkeys\s+%ENV|Dumper\s*\(\s*\\%ENV/,
  ruby: /\b(p|pp|puts|print)\s*\(?\s*ENV\b(?!\s*\[)|ENV\.(to_h|to_a|each|inspect|map)/,
  php: /getenv\(\s*\)|\$_ENV\b(?!\s*\[)|\$_SERVER\b(?!\s*\[)/,
};
const SECRET_ENV_READ =
  /(environ|getenv|process\.env|ENV|\$_ENV)\W{0,6}\w*(TOKEN|SECRET|PASSWORD|_KEY\b|API_?KEY)/i;

/**
 * How the code is read. Inline code (`python -c`) is short, so a deletion API anywhere counts with any
 * path anywhere, and every string literal may be a command. A script file is long: only the
 * arguments of deletion calls and of calls that run commands count.
 */
export type CodeKind = "inline" | "file";

const ADVICE: Record<CodeKind, string> = {
  inline:
    "Put the logic in a script file inside the workspace that touches only workspace files, and run that.",
  file: "Change the script so it touches only workspace files and runs no blocked commands, or run the commands you need directly.",
};
/** Command strings checked per program at most. */
const MAX_COMMANDS = 400;
/** How far a deletion call's arguments may reach in a script file. */
const DELETE_ARGS_MAX = 400;

/** Why running `code` is refused, or null. `checkShell` analyses a string as a shell command line. */
export function codeRefusal(
  lang: Lang,
  code: string,
  argv: readonly string[],
  where: Where,
  checkShell: (src: string) => string | null,
  kind: CodeKind = "inline",
): string | null {
  const fail = (why: string): string => `Blocked: ${lang} code that ${why}. ${ADVICE[kind]}`;
  const found = literalsIn(code);
  const literals = [...found.map((l) => l.text), ...argv];
  if ((kind === "file" ? DECODE_EXEC_NEAR : DECODE_EXEC).test(code))
    return fail("executes decoded or generated code");
  if (ENV_DUMP[lang].test(code)) return fail("prints the whole environment (secrets included)");
  if (SECRET_ENV_READ.test(code)) return fail("reads a secret from the environment");
  for (const s of literals) {
    const why = credentialReadRefusal(s, where);
    if (why && (s.includes("/") || s.startsWith("."))) return fail(`touches a credential store (${s})`);
    const sql = destructiveSql(s);
    if (sql && /\s/.test(s)) return fail(`runs ${sql}`);
  }
  for (const span of deleteSpans(lang, code, found, literals, kind)) {
    if (HOME_OR_ROOT.test(span.text) && !span.below)
      return fail("deletes under the home or current directory");
    for (const s of span.literals) {
      if (s.includes("\n") || s.length > 200) continue;
      const why = recursiveTargetRefusal(
        {
          value: s,
          literal: true,
          glob: /[*?[]/.test(s),
          brace: false,
          params: [],
          substs: [],
          procSubst: false,
        },
        where,
      );
      if (why && (path.isAbsolute(s) || /^(~|\.\.?)(\/|$)|^\.git\b|^\*$/.test(s)))
        return fail(`deletes recursively: ${why}`);
    }
  }
  if (EXEC_API[lang].test(code)) {
    // Each literal may be a shell line (`os.system("git push")`); list forms are joined (`["git", "push"]`).
    const lines = new Set(
      kind === "inline" ? [...literals, literals.join(" ")] : execArgs(lang, code, found, argv),
    );
    // Each check parses a command line; a file with thousands of them would outlast the hook's deadline.
    if (lines.size > MAX_COMMANDS)
      return fail(`runs more than ${MAX_COMMANDS} command strings, too many to check`);
    for (const s of lines) {
      const why = checkShell(s.replace(/^~(?=\/|$)/, where.home));
      if (why) return fail(`runs a blocked shell command (${why.replace(/^Blocked: /, "")})`);
    }
  }
  return null;
}

interface Literal {
  readonly text: string;
  readonly quote: string;
  readonly start: number;
  readonly end: number;
}

/**
 * What each deletion call deletes: the whole of inline code, or in a file the call's own arguments
 * (`rmtree(os.path.expanduser("~"))`), where a home or current directory with a name below it
 * (`path.join(process.cwd(), "dist")`) is a subdirectory, not the directory itself.
 */
function deleteSpans(
  lang: Lang,
  code: string,
  found: readonly Literal[],
  literals: readonly string[],
  kind: CodeKind,
): { text: string; literals: readonly string[]; below: boolean }[] {
  if (kind === "inline") return DELETE_API[lang].test(code) ? [{ text: code, literals, below: false }] : [];
  const spans: { text: string; literals: readonly string[]; below: boolean }[] = [];
  const re = new RegExp(DELETE_API[lang].source, "g");
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const start = m.index + m[0].length - (m[0].endsWith("(") ? 1 : 0);
    const end = argsEnd(code, start);
    const inside = found.filter((l) => l.start >= start && l.end <= end).map((l) => l.text);
    spans.push({
      text: code.slice(start, end),
      literals: inside,
      below: inside.some((l) => /^(?![/~]|\.\.?(\/|$))\S/.test(l)),
    });
  }
  return spans;
}

/** Where the arguments starting at `from` end: the balancing `)`, or the end of the statement. */
function argsEnd(code: string, from: number): number {
  const limit = Math.min(code.length, from + DELETE_ARGS_MAX);
  let i = from;
  while (i < limit && /[ \t]/.test(code[i] as string)) i++;
  if (code[i] !== "(") {
    while (i < limit && !/[;\n]/.test(code[i] as string)) i++;
    return i;
  }
  for (let depth = 0; i < limit; i++) {
    if (code[i] === "(") depth++;
    else if (code[i] === ")" && --depth === 0) return i + 1;
  }
  return limit;
}

/**
 * The commands a script file may run: the literals in the arguments of each call that runs a
 * command (each alone and all joined, for `["git", "push"]`), backquoted commands in perl, ruby and
 * php, zx's `` $`…` ``, and the script's own arguments. Literals whose first word is computed
 * (`${dir}/x`) are messages and paths, not commands.
 */
function execArgs(lang: Lang, code: string, found: readonly Literal[], argv: readonly string[]): string[] {
  const out: string[] = [];
  const command = (t: string): boolean => !/^\s*[^\s$]*\$/.test(t);
  const re = new RegExp(EXEC_API[lang].source, "g");
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const start = m.index + m[0].length - (m[0].endsWith("(") ? 1 : 0);
    const end = argsEnd(code, start);
    const inside = found.filter((l) => l.start >= start && l.end <= end).map((l) => l.text);
    out.push(...inside.filter(command));
    if (inside.length > 1) out.push(inside.join(" "));
  }
  for (const l of found) {
    if (
      l.quote === "`" &&
      (lang !== "node" || code[l.start - 1] === "$") &&
      lang !== "python" &&
      command(l.text)
    )
      out.push(l.text);
  }
  if (argv.length > 0) out.push(argv.join(" "));
  return out;
}

/** String literals of any of the languages, well enough for short inline programs. */
export function stringLiterals(code: string): string[] {
  return literalsIn(code).map((l) => l.text);
}

function literalsIn(code: string): Literal[] {
  const out: Literal[] = [];
  const re =
    /"""([\s\S]*?)"""|'''([\s\S]*?)'''|"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const body = m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? "";
    out.push({
      text: body.replace(/\\(["'\\`])/g, "$1"),
      quote: m[0][0] as string,
      start: m.index,
      end: m.index + m[0].length,
    });
  }
  return out;
}
