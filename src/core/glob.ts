/**
 * Protected-path globs: one matcher for the file gate (src/hooks/paths.ts, before a write) and the
 * pre-push check (secret-scan.ts, after the session), so the two never judge a pattern
 * differently. picomatch with `dot: true` (a dotfile is a file like any other here): `**` any
 * number of segments, `*` and `?` within a segment, `{a,b}` alternatives, `[ab]` classes. A
 * pattern also covers everything below a directory it names (`hooks`, `hooks/` and `hooks/**`
 * alike). Paths are repository-relative with `/` separators; matching is case-sensitive.
 */
import picomatch from "picomatch";

const cache = new Map<string, (path: string) => boolean>();

function matcher(glob: string): (path: string) => boolean {
  let hit = cache.get(glob);
  if (!hit) {
    hit = picomatch(glob, { dot: true });
    cache.set(glob, hit);
  }
  return hit;
}

/** `./x/` → `x`; an empty pattern matches nothing. */
export function normalizeGlob(glob: string): string {
  return glob
    .trim()
    .replace(/^(\.\/)+/, "")
    .replace(/\/+$/, "");
}

export function matchesGlob(filePath: string, glob: string): boolean {
  const g = normalizeGlob(glob);
  if (g === "") return false;
  const rel = filePath.replace(/^(\.\/)+/, "");
  const test = matcher(g);
  if (test(rel)) return true;
  // A pattern naming a directory protects everything below it.
  const parts = rel.split("/");
  for (let i = parts.length - 1; i > 0; i--) if (test(parts.slice(0, i).join("/"))) return true;
  return false;
}

export function matchesAny(filePath: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => matchesGlob(filePath, g));
}
