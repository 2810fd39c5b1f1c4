// File paths an issue names, for the brief's context, the turn limit and contention. Pure.

const PATH = /(?:^|[\s`'"([<])((?:\.{0,2}\/)?(?:[\w@.-]+\/)*[\w@-][\w@.-]*\.[A-Za-z0-9]{1,8})(?=$|[\s`'"),.:;!?\]>])/g;

/**
 * Paths like `src/app.ts`, `README.md` or `./docs/guide.md` in the text, normalised and
 * de-duplicated in order of appearance. URLs, e-mail addresses, versions and bare numbers are
 * not paths.
 */
export function namedPathsIn(text: string): string[] {
  const found = new Set<string>();
  const withoutUrls = text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, " ").replace(/\S+@\S+\.\S+/g, " ");
  for (const match of withoutUrls.matchAll(PATH)) {
    let path = match[1]!.replace(/^\.\//, "");
    if (path.startsWith("../") || path.startsWith("/")) continue;
    if (/^v?\d+(\.\d+)+$/.test(path)) continue; // versions such as 1.2.3
    if (/^[\d.]+$/.test(path)) continue;
    if (!path.includes("/") && /^[a-z]\.[a-z]$/i.test(path)) continue; // e.g, i.e
    path = path.replace(/\/{2,}/g, "/");
    found.add(path);
  }
  return [...found];
}
