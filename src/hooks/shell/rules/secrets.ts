// Environment dumps, secret-named variables, credential stores, and token printers.
import path from "node:path";
import type { Arg } from "../words.js";
import { show, type Where } from "./context.js";

/** `GITHUB_TOKEN`, `NPM_AUTH_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`, `API_KEY`, … */
export function isSecretName(name: string): boolean {
  return /(^|_)(TOKEN|KEY|SECRET|SECRETS|PASS|PASSWD|PAT|CREDENTIALS?|APIKEY|PRIVATE)(_|$)|PASSWORD|SECRET|TOKEN/i.test(
    name,
  );
}

/** Commands where naming a secret variable is harmless: a test for presence reveals nothing. */
const PRESENCE_TESTS = new Set(["test", "["]);

export function secretParamRefusal(name: string, args: readonly Arg[]): string | null {
  if (PRESENCE_TESTS.has(name)) return null;
  for (const a of args) {
    // `${!X}` is recorded as "!X"; a lone "!" is `$!`, the last background job's process id.
    const p = a.params.find((n) => isSecretName(n) || (n.startsWith("!") && n !== "!"));
    if (p === undefined) continue;
    if (p.startsWith("!"))
      return `Blocked: \${!${p.slice(1)}} expands a variable chosen at run time, which could be a secret. Name the variable you need literally.`;
    return `Blocked: the command expands $${p}, a secret. Never print or send secrets; the action supplies credentials where they are needed.`;
  }
  return null;
}

/** Commands that print every variable when run bare. */
export function envDumpRefusal(name: string, args: readonly Arg[]): string | null {
  const words = args.map((a) => a.value);
  const operands = words.filter((w) => !w.startsWith("-"));
  const dump =
    `Blocked: ${[name, ...words].join(" ")} prints the environment, which holds secrets. Print the one non-secret variable you need (printenv PATH).`.replace(
      / +\./,
      ".",
    );
  switch (name) {
    case "env":
      return dump; // reached only when env has no command to run
    case "printenv": {
      if (operands.length === 0) return dump;
      const secret = operands.find((o) => isSecretName(o));
      return secret ? `Blocked: printenv ${secret} prints a secret. Never print secrets.` : null;
    }
    case "set":
      return words.length === 0 ? dump : null;
    case "export":
      return operands.length === 0 && !words.includes("-n") && !words.includes("-f") ? dump : null;
    case "declare":
    case "typeset":
    case "local":
    case "readonly": {
      if (words.some((w) => /^-[a-zA-Z]*[fF]/.test(w))) return null; // functions only
      const names = operands.map((o) => o.split("=")[0] as string);
      if (names.length === 0 && name !== "local") return dump;
      const secret = words.some((w) => /^-[a-zA-Z]*p/.test(w))
        ? names.find((n) => isSecretName(n))
        : undefined;
      return secret ? `Blocked: ${name} -p ${secret} prints a secret. Never print secrets.` : null;
    }
    case "ps":
      // BSD-style `ps e`/`ps eww` and `ps -E`-less forms show every process's environment.
      return words.some((w) => /^[a-zA-Z]*e[a-zA-Z]*$/.test(w) && !w.startsWith("-"))
        ? "Blocked: ps e shows other processes' environments, which hold secrets. Use ps without e."
        : null;
    default:
      return null;
  }
}

const CREDENTIAL_FILES: readonly [RegExp, string][] = [
  [/(^|\/)\.git-credentials$/, "git's stored credentials"],
  [/(^|\/)[._]netrc$/, "a .netrc credential file"],
  [/(^|\/)\.ssh(\/.*)?$/, "SSH keys"],
  [/^\/proc\/[^/]+\/environ$/, "a process environment"],
  [/(^|\/)\.config\/gh(\/.*)?$/, "the GitHub CLI's token store"],
  [/(^|\/)\.docker\/config\.json$/, "Docker registry credentials"],
  [/(^|\/)\.aws\/(credentials|config)$/, "AWS credentials"],
  [/(^|\/)\.config\/gcloud(\/.*)?$/, "Google Cloud credentials"],
  [/(^|\/)\.kube\/config$/, "Kubernetes credentials"],
  [/(^|\/)\.(npmrc|pypirc|yarnrc\.yml)$/, "a package-registry token file"],
  [/(^|\/)\.git\/config$/, "the repository's git config, which can hold auth headers (use git remote -v)"],
];

/** Why reading `value` (an argument or redirect, resolved against the shell's cwd) is refused. */
export function credentialReadRefusal(value: string, where: Where): string | null {
  if (value === "") return null;
  const candidates = [value];
  if (where.cwd !== null && !value.includes("\u0000")) candidates.push(path.resolve(where.cwd, value));
  for (const c of candidates) {
    for (const [re, what] of CREDENTIAL_FILES) {
      // `.npmrc` and friends are credential stores only in the home directory; a project's own file is fine.
      if (
        what.startsWith("a package-registry") &&
        path.dirname(path.resolve(where.cwd ?? "/", c)) !== where.home
      )
        continue;
      if (re.test(c))
        return `Blocked: reading ${show(value)} exposes ${what}. The agent never needs credentials: the action pushes and calls APIs itself.`;
    }
  }
  return null;
}

/** Arguments that are text, not files: patterns, messages, scripts. Everything else may name a file read. */
export function fileLikeArgs(name: string, args: readonly Arg[]): readonly Arg[] {
  if (["echo", "printf", "print", "logger", "git", "gh", "test", "[", "[[", "jq", "yq"].includes(name))
    return [];
  const patternFirst = [
    "grep",
    "egrep",
    "fgrep",
    "rg",
    "ag",
    "ack",
    "sed",
    "awk",
    "gawk",
    "perl",
    "python",
    "python3",
    "node",
  ];
  if (!patternFirst.includes(name)) return args;
  if (!args.some((a) => ["-e", "-f", "--regexp", "--file"].includes(a.value))) {
    const firstOperand = args.findIndex((a) => !a.value.startsWith("-"));
    return args.filter((_a, k) => k !== firstOperand);
  }
  // `grep -e PATTERN FILE…`, `sed -e SCRIPT FILE`: the value after -e is text, not a file read
  // (`grep -rn -e 'cat ~/.git-credentials' src` only searches). A `-f FILE` is read, so it stays.
  return args.filter((_a, k) => !["-e", "--regexp"].includes(args[k - 1]?.value ?? ""));
}

export function ghRefusal(args: readonly Arg[]): string | null {
  const w = args.map((a) => a.value);
  const [group, action] = w.filter((x) => !x.startsWith("-"));
  if (group === "auth" && (action === "token" || w.includes("--show-token") || w.includes("-t"))) {
    return "Blocked: gh auth token prints a GitHub token. The agent never needs it: the action talks to GitHub itself.";
  }
  const mutating: Record<string, readonly string[]> = {
    secret: ["set", "delete", "remove", "list"],
    variable: ["set", "delete"],
    release: ["create", "upload", "delete", "edit"],
    repo: ["create", "delete", "edit", "rename", "archive", "sync"],
    workflow: ["run", "enable", "disable"],
    run: ["cancel", "rerun", "delete"],
    pr: ["merge", "close", "create", "ready", "review"],
    issue: ["close", "delete", "transfer", "edit", "create", "comment"],
  };
  if (group && action && mutating[group]?.includes(action)) {
    return `Blocked: gh ${group} ${action} changes GitHub state. The action opens and labels pull requests itself; just commit your work.`;
  }
  return null;
}
