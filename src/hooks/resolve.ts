// Resolves a path the way the OS will when the file is written: through every symlink, even when
// the file (or some of its parents) does not exist yet, and through dangling links.
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";

const MAX_LINKS = 40;

export function resolveReal(p: string, base: string, hops = 0): string {
  const abs = path.resolve(base, p);
  const missing: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      const real = realpathSync(cur);
      return missing.length === 0 ? real : path.join(real, ...missing.reverse());
    } catch {
      // A dangling symlink: writing through it creates its target, so follow the link text.
      const link = readLinkOrNull(cur);
      if (link !== null && hops < MAX_LINKS) {
        return resolveReal(path.join(link, ...missing.reverse()), path.dirname(cur), hops + 1);
      }
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      missing.push(path.basename(cur));
      cur = parent;
    }
  }
}

function readLinkOrNull(p: string): string | null {
  try {
    return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : null;
  } catch {
    return null;
  }
}
