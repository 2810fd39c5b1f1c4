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
    if (!v.startsWith("-") || v === "-") {
      if (v !== "-") return null; // a script file: out of scope, like make or npm test
      break;
    }
    if (lang === "python" && v === "-m") return null; // a module: pytest, pip, http.server …
  }
  if (stdin.kind === "text") return { code: stdin.text, argv: [] };
  if (stdin.kind === "unknown") return { unknownStdin: stdin.from };
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
const DECODE_EXEC =
  /\b(exec|eval|Function|system)\b[\s\S]*\b(b64decode|decodebytes|atob|fromCharCode|unhexlify|fromhex|from\(.*base64|unpack|decode\(|codecs|zlib|rot13|chr\()/;
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

/** Why running `code` is refused, or null. `checkShell` analyses a string as a shell command line. */
export function codeRefusal(
  lang: Lang,
  code: string,
  argv: readonly string[],
  where: Where,
  checkShell: (src: string) => string | null,
): string | null {
  const fail = (why: string): string =>
    `Blocked: ${lang} code that ${why}. Put the logic in a script file inside the workspace that touches only workspace files, and run that.`;
  const literals = [...stringLiterals(code), ...argv];
  if (DECODE_EXEC.test(code)) return fail("executes decoded or generated code");
  if (ENV_DUMP[lang].test(code)) return fail("prints the whole environment (secrets included)");
  if (SECRET_ENV_READ.test(code)) return fail("reads a secret from the environment");
  for (const s of literals) {
    const why = credentialReadRefusal(s, where);
    if (why && (s.includes("/") || s.startsWith("."))) return fail(`touches a credential store (${s})`);
    const sql = destructiveSql(s);
    if (sql && /\s/.test(s)) return fail(`runs ${sql}`);
  }
  if (DELETE_API[lang].test(code)) {
    if (HOME_OR_ROOT.test(code)) return fail("deletes under the home or current directory");
    for (const s of literals) {
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
    for (const s of [...literals, literals.join(" ")]) {
      const why = checkShell(s.replace(/^~(?=\/|$)/, where.home));
      if (why) return fail(`runs a blocked shell command (${why.replace(/^Blocked: /, "")})`);
    }
  }
  return null;
}

/** String literals of any of the languages, well enough for short inline programs. */
export function stringLiterals(code: string): string[] {
  const out: string[] = [];
  const re =
    /"""([\s\S]*?)"""|'''([\s\S]*?)'''|"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const body = m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? "";
    out.push(body.replace(/\\(["'\\`])/g, "$1"));
  }
  return out;
}
