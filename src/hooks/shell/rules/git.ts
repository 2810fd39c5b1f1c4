// git: pushes, history rewrites, ref deletion, forced cleans, credential reads, and aliases that hide them.
import { plainArg, type Arg } from "../words.js";
import { show } from "./context.js";

export type GitOutcome =
  | { readonly kind: "block"; readonly reason: string }
  /** Re-check this argv instead (an alias expanded). */
  | { readonly kind: "argv"; readonly argv: readonly Arg[] }
  /** Check this shell text (a `!` alias, `submodule foreach`). */
  | { readonly kind: "source"; readonly source: string; readonly label: string }
  | { readonly kind: "ok" };

export interface GitEnv {
  /** Directory git runs in (after `-C`), or null when unknown. */
  readonly dir: string | null;
  /** Aliases configured for `dir`; may throw, which blocks. */
  readonly repoAliases: (dir: string | null) => ReadonlyMap<string, string>;
  /** Aliases defined earlier in the same command line (`git config alias.p push && git p`). */
  readonly sessionAliases: Map<string, string>;
  /** Aliases from GIT_CONFIG_KEY_n/VALUE_n assignments on this command. */
  readonly envAliases: ReadonlyMap<string, string>;
}

const ok: GitOutcome = { kind: "ok" };
const block = (reason: string): GitOutcome => ({ kind: "block", reason });

/** git's own commands: an alias never overrides these, so no alias lookup is needed for them. */
const BUILTINS = new Set(
  "add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore check-mailmap check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column commit commit-graph commit-tree config count-objects credential credential-cache credential-store describe diagnose diff diff-files diff-index diff-tree difftool fast-export fast-import fetch fetch-pack filter-branch fmt-merge-msg for-each-ref for-each-repo format-patch fsck gc get-tar-commit-id grep gui hash-object help hook http-backend index-pack init instaweb interpret-trailers log ls-files ls-remote ls-tree mailinfo mailsplit maintenance merge merge-base merge-file merge-index merge-tree mergetool mktag mktree multi-pack-index mv notes pack-objects pack-redundant pack-refs patch-id prune prune-packed pull push range-diff read-tree rebase receive-pack reflog refs remote repack replace replay request-pull rerere reset restore rev-list rev-parse revert rm send-email send-pack shortlog show show-branch show-index show-ref sparse-checkout stage stash status stripspace submodule switch symbolic-ref tag unpack-file unpack-objects update-index update-ref update-server-info upload-archive upload-pack var verify-commit verify-pack verify-tag version whatchanged worktree write-tree".split(
    " ",
  ),
);

/** Config keys whose value git runs as a program: setting them turns a later harmless git call into anything. */
const EXEC_KEY =
  /^(core\.(pager|editor|sshcommand|fsmonitor|hookspath|askpass|gitproxy)|sequence\.editor|diff\.external|diff\..*\.(textconv|command)|merge\..*\.driver|filter\..*\.(clean|smudge|process)|credential(\..*)?\.helper|gpg(\..*)?\.program|pager\..*|uploadpack\.packobjectshook|interactive\.difffilter|include(if\..*)?\.path|alias\..*)$/i;
/** Keys that hold or point at credentials. */
const SECRET_KEY = /extraheader|credential|token|password|passwd|secret|cookiefile|auth/i;
const SECRET_KEY_SAMPLES = [
  "http.https://github.com/.extraheader",
  "http.extraheader",
  "credential.helper",
  "credential.https://github.com.username",
  "github.token",
];

export function gitOutcome(args: readonly Arg[], env: GitEnv, depth = 0): GitOutcome {
  const inlineAliases = new Map<string, string>();
  let dir = env.dir;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as Arg;
    const v = a.value;
    if (!v.startsWith("-")) break;
    if (!a.literal)
      return block(
        `Blocked: git option "${show(a)}" is only known at run time. Write git options literally.`,
      );
    if (v === "-c" || v === "--config-env") {
      const kv = args[++i];
      if (!kv?.literal)
        return block("Blocked: git -c with a value only known at run time. Write the setting literally.");
      const eq = kv.value.indexOf("=");
      const key = eq === -1 ? kv.value : kv.value.slice(0, eq);
      const alias = /^alias\.(.+)$/i.exec(key);
      if (alias?.[1]) inlineAliases.set(alias[1], kv.value.slice(eq + 1));
      else if (EXEC_KEY.test(key))
        return block(
          `Blocked: git -c ${key}=… makes git run a program of your choosing. Run the program directly instead.`,
        );
    } else if (v === "-C") {
      const d = args[++i];
      dir = d?.literal && dir !== null ? resolveDir(dir, d.value) : null;
    } else if (["--git-dir", "--work-tree", "--namespace", "--exec-path", "--super-prefix"].includes(v)) i++;
  }
  const subArg = args[i];
  if (!subArg) return ok;
  if (!subArg.literal)
    return block(
      `Blocked: git subcommand "${show(subArg)}" is only known at run time. Write the git command literally.`,
    );
  const sub = subArg.value;
  const rest = args.slice(i + 1);
  const words = rest.map((r) => r.value);
  const has = (...f: string[]): boolean => words.some((w) => f.includes(w));
  const shortHas = (c: string): boolean => words.some((w) => /^-[a-zA-Z]+$/.test(w) && w.includes(c));

  if (sub === "filter-repo")
    return block("Blocked: git filter-repo rewrites history. Add new commits on top instead.");
  if (!BUILTINS.has(sub)) {
    if (sub.startsWith("credential-"))
      return block(
        `Blocked: git ${sub} reads stored credentials. The agent never needs them: the action pushes.`,
      );
    if (depth > 5) return block("Blocked: git aliases nest too deeply to check.");
    let expansion = inlineAliases.get(sub) ?? env.envAliases.get(sub) ?? env.sessionAliases.get(sub);
    if (expansion === undefined) {
      try {
        expansion = env.repoAliases(dir).get(sub);
      } catch (err) {
        return block(
          `Blocked: could not read git aliases to check "git ${sub}" (${(err as Error).message}). Use the plain git command.`,
        );
      }
    }
    if (expansion === undefined) return ok;
    if (expansion.startsWith("!")) {
      return {
        kind: "source",
        source: `${expansion.slice(1)} ${words.map(shellQuote).join(" ")}`,
        label: `git alias ${sub}`,
      };
    }
    const expanded = splitAlias(expansion).map((w) => plainArg(w));
    return gitOutcome([...args.slice(0, i), ...expanded, ...rest], { ...env, dir }, depth + 1);
  }

  switch (sub) {
    case "push":
    case "send-pack":
      return block(
        "Blocked: git push. The action pushes your branch itself after checking it; just commit your work.",
      );
    case "reset":
      return has("--hard", "--merge", "--keep")
        ? block(
            "Blocked: git reset --hard discards work. Use git reset --soft, git restore <file> or git stash instead.",
          )
        : ok;
    case "rebase":
      return has("--abort", "--quit", "--show-current-patch") && rest.length === 1
        ? ok
        : block(
            "Blocked: git rebase rewrites history. Add new commits on top instead (git commit, git revert).",
          );
    case "filter-branch":
    case "filter-repo":
    case "replace":
      return block(`Blocked: git ${sub} rewrites history. Add new commits on top instead.`);
    case "update-ref":
      return block(
        "Blocked: git update-ref moves or deletes refs directly. Use git commit / git switch -c instead.",
      );
    case "symbolic-ref":
      return has("-d", "--delete") ? block("Blocked: git symbolic-ref --delete deletes a ref.") : ok;
    case "branch":
      return has("-d", "-D", "--delete", "-f", "--force", "-M", "-C") || shortHas("D") || shortHas("d")
        ? block(
            "Blocked: deleting, force-moving or force-renaming a branch. Create a new branch (git switch -c) instead.",
          )
        : ok;
    case "tag":
      return has("-d", "--delete", "-f", "--force")
        ? block("Blocked: deleting or moving a tag. Tags are managed by people.")
        : ok;
    case "reflog":
      return has("expire", "delete")
        ? block("Blocked: git reflog expire/delete destroys recovery history.")
        : ok;
    case "clean": {
      const force = has("--force") || shortHas("f");
      const dry = has("--dry-run") || shortHas("n");
      return force && !dry
        ? block(
            "Blocked: git clean -f deletes untracked files for good. Use git clean -n to list them, then rm specific files.",
          )
        : ok;
    }
    case "credential":
      return block(
        "Blocked: git credential reads or stores credentials. The agent never needs them: the action pushes.",
      );
    case "config":
      return configOutcome(rest, env);
    case "submodule": {
      const at = words.indexOf("foreach");
      if (at === -1) return ok;
      const cmd = words.slice(at + 1).filter((w) => w !== "--recursive" && w !== "-q" && w !== "--quiet");
      return { kind: "source", source: cmd.join(" "), label: "git submodule foreach command" };
    }
    case "bisect":
      return words[0] === "run" ? { kind: "argv", argv: rest.slice(1) } : ok;
    default:
      return ok;
  }
}

function configOutcome(rest: readonly Arg[], env: GitEnv): GitOutcome {
  const words = rest.map((r) => r.value);
  const positionals: string[] = [];
  let mode: "get" | "set" | "list" | "regexp" | null = null;
  let nameOnly = false;
  for (let k = 0; k < words.length; k++) {
    const w = words[k] as string;
    if (["-f", "--file", "--blob", "--type", "--default", "--comment"].includes(w)) k++;
    else if (w === "-l" || w === "--list" || (positionals.length === 0 && w === "list" && mode === null))
      mode = "list";
    else if (w === "--get-regexp") mode = "regexp";
    else if (
      ["--get", "--get-all", "--get-urlmatch", "--get-color", "--get-colorbool"].includes(w) ||
      (positionals.length === 0 && w === "get" && mode === null)
    )
      mode = "get";
    else if (w === "--name-only") nameOnly = true;
    else if (
      (positionals.length === 0 && w === "set" && mode === null) ||
      ["--add", "--replace-all"].includes(w)
    )
      mode = "set";
    else if (!w.startsWith("-")) positionals.push(w);
  }
  if (mode === "list")
    return nameOnly
      ? ok
      : block(
          "Blocked: git config --list can print auth headers and credentials. Ask for one non-secret key: git config --get user.name.",
        );
  if (mode === "regexp") {
    const re = safeRegExp(positionals[0] ?? "");
    return re === null || SECRET_KEY_SAMPLES.some((k) => re.test(k))
      ? block(
          "Blocked: git config --get-regexp with a pattern that can match auth headers or credentials. Ask for specific non-secret keys.",
        )
      : ok;
  }
  const key = positionals[0] ?? "";
  if (mode === null) mode = positionals.length >= 2 ? "set" : "get";
  if (mode === "get")
    return SECRET_KEY.test(key)
      ? block(`Blocked: reading git config ${key}, which holds credentials. The agent never needs them.`)
      : ok;
  if (/^alias\./i.test(key) && positionals[1] !== undefined)
    env.sessionAliases.set(key.slice(6), positionals[1]);
  else if (EXEC_KEY.test(key))
    return block(
      `Blocked: git config ${key} makes later git commands run a program. Run the program directly instead.`,
    );
  return ok;
}

function resolveDir(base: string, d: string): string {
  return d.startsWith("/") ? d : `${base.replace(/\/$/, "")}/${d}`;
}

function safeRegExp(s: string): RegExp | null {
  try {
    return new RegExp(s, "i");
  } catch {
    return null;
  }
}

/** git splits alias values on whitespace, honouring single and double quotes. */
export function splitAlias(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      any = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = "";
      any = false;
    } else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
