/**
 * Repository path globs for protected paths. Node 20's `path.matchesGlob` is experimental (it
 * prints a warning into the workflow log), so this is a small translator with fixed semantics:
 *   `**` any number of path segments (including none), `*` any run within a segment,
 *   `?` one character within a segment, `{a,b}` alternatives; a trailing `/` means `/**`.
 * Matching is against the whole repository-relative path with `/` separators, case-sensitive.
 */

const cache = new Map<string, RegExp>();

function escape(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit) return hit;
  let g = glob.trim().replace(/^\.\//, "");
  if (g.endsWith("/")) g += "**";
  let re = "";
  let braces = 0;
  for (let i = 0; i < g.length; i++) {
    const ch = g[i] as string;
    if (ch === "*") {
      if (g[i + 1] === "*") {
        const atStart = i === 0 || g[i - 1] === "/";
        const atEnd = i + 2 === g.length || g[i + 2] === "/";
        if (atStart && atEnd) {
          // `**/` → zero or more whole segments; a final `**` → everything below.
          if (i + 2 === g.length) re += ".*";
          else re += "(?:[^/]+/)*";
          i += i + 2 === g.length ? 1 : 2;
          continue;
        }
        re += "[^/]*";
        i += 1;
        continue;
      }
      re += "[^/]*";
    } else if (ch === "?") {
      re += "[^/]";
    } else if (ch === "{") {
      braces++;
      re += "(?:";
    } else if (ch === "}" && braces > 0) {
      braces--;
      re += ")";
    } else if (ch === "," && braces > 0) {
      re += "|";
    } else {
      re += escape(ch);
    }
  }
  if (braces > 0) throw new Error(`unbalanced "{" in glob ${JSON.stringify(glob)}`);
  const compiled = new RegExp(`^${re}$`);
  cache.set(glob, compiled);
  return compiled;
}

export function matchesGlob(filePath: string, glob: string): boolean {
  return globToRegExp(glob).test(filePath.replace(/^\.\//, ""));
}

export function matchesAny(filePath: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => matchesGlob(filePath, g));
}
