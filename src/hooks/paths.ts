// Which paths the agent may write: pure rules over already-resolved absolute paths.
import path from "node:path";
import { matchesGlob } from "../core/glob.js";
import { protectingGlob } from "../core/protected-paths.js";

export const DEFAULT_CONFIG_PATH = ".github/aegis.yml";

export interface PathPolicy {
  /** Absolute, symlink-free workspace root. */
  readonly workspace: string;
  /** Workspace-relative globs no tool may write besides the built-in ones (config, `.git`, extras). */
  readonly protectedGlobs: readonly string[];
  /** `run.instructionChanges: flag`: AGENTS.md and the like may be written (the PR names them). */
  readonly instructionsWritable: boolean;
}

/**
 * Builds the policy from the hook's environment (AEGIS_CONFIG_PATH, AEGIS_PROTECTED_PATHS,
 * AEGIS_INSTRUCTIONS_WRITABLE).
 */
export function pathPolicy(workspace: string, env: Readonly<Record<string, string | undefined>>): PathPolicy {
  const config = (env.AEGIS_CONFIG_PATH ?? "").trim() || DEFAULT_CONFIG_PATH;
  const extra = splitGlobList(env.AEGIS_PROTECTED_PATHS ?? "");
  return {
    workspace,
    protectedGlobs: [toRelativeGlob(config, workspace), ".git/**", ...extra],
    instructionsWritable: env.AEGIS_INSTRUCTIONS_WRITABLE === "1",
  };
}

/**
 * Newline- or comma-separated globs; a comma inside `{…}` belongs to the pattern
 * (`config/{prod,staging}.yml` is one glob, as the pre-push check reads it).
 */
export function splitGlobList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    let depth = 0;
    let current = "";
    for (const ch of line) {
      if (ch === "{") depth++;
      else if (ch === "}" && depth > 0) depth--;
      if (ch === "," && depth === 0) {
        out.push(current);
        current = "";
      } else current += ch;
    }
    out.push(current);
  }
  return out.map((s) => s.trim()).filter(Boolean);
}

function toRelativeGlob(p: string, workspace: string): string {
  return path.isAbsolute(p) ? path.relative(workspace, p) : p;
}

export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Strictly below `dir` (not `dir` itself). */
export function isBelow(p: string, dir: string): boolean {
  return p !== dir && isInside(p, dir);
}

/**
 * Why writing `abs` is refused, or null. `abs` must already be absolute and, for the file tools,
 * resolved through symlinks so that a link cannot smuggle a write out of the workspace.
 */
export function writeRefusal(abs: string, policy: PathPolicy): string | null {
  if (!isInside(abs, policy.workspace)) {
    return `${abs} is outside the workspace ${policy.workspace}; only files inside the repository may be written`;
  }
  const rel = path.relative(policy.workspace, abs).split(path.sep).join("/");
  if (rel === "") return `${abs} is the workspace root itself, not a file`;
  if (rel.split("/").includes(".git"))
    return `${rel} is inside git's own metadata (.git); change files through git commands instead`;
  const glob = protectingGlob(rel, policy.protectedGlobs, {
    instructionsWritable: policy.instructionsWritable,
  });
  if (glob)
    return `${rel} is a protected path (${glob}); the workflow, the aegis config and the hooks are changed by people, not by the agent`;
  return null;
}

/**
 * A glob matches the path itself or, for a directory pattern, anything below it (`hooks/` covers
 * `hooks/x`): the pre-push check's own matcher, so gate and check agree on every pattern.
 */
export function globMatches(glob: string, rel: string): boolean {
  return matchesGlob(rel, glob);
}

/** Shell-style globs for the Bash gate's delete rules (`rm -rf src/*`), not protected paths. */
export function globToRegExp(glob: string, opts: { dotAll?: boolean } = {}): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        // `**/` matches zero or more directories; a trailing `**` matches anything.
        const slash = glob[i + 2] === "/";
        re += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else {
        const segmentStart = i === 0 || glob[i - 1] === "/";
        re += opts.dotAll || !segmentStart ? "[^/]*" : "(?!\\.)[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) re += "\\[";
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else {
      re += c.replace(/[.+^${}()|\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}
