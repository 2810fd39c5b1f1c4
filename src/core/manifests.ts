// The dependencies a diff adds or upgrades, read from the common manifests as they are at the
// base and at the head: package.json and the npm, pnpm and yarn lockfiles, requirements*.txt,
// pyproject.toml and poetry's or uv's lockfile, Cargo.toml and Cargo.lock, go.mod and go.sum. Pure: the caller reads the two versions of each changed manifest. What is
// found is looked up in GitHub's advisory database before the PR (adapters/advisories.ts).
import { parse as parseToml } from "smol-toml";

/** GitHub's advisory ecosystems for the manifests read here. */
export type Ecosystem = "npm" | "pip" | "rust" | "go";

export interface Dependency {
  ecosystem: Ecosystem;
  name: string;
  /** The version the head asks for (the lower bound of a range), when one is written. */
  version?: string;
  /** The manifest that named it (the first, where several do). */
  manifest: string;
}

type Parser = (text: string) => Map<string, string | undefined>;

/** The manifests read, by file name; undefined for any other file. */
export function manifestKind(file: string): { ecosystem: Ecosystem; parse: Parser } | undefined {
  const name = file.split("/").pop() ?? "";
  if (name === "package.json") return { ecosystem: "npm", parse: packageJson };
  if (name === "package-lock.json" || name === "npm-shrinkwrap.json")
    return { ecosystem: "npm", parse: npmLock };
  if (/^requirements[\w.-]*\.txt$/.test(name)) return { ecosystem: "pip", parse: requirements };
  if (name === "pyproject.toml") return { ecosystem: "pip", parse: pyproject };
  if (name === "pnpm-lock.yaml") return { ecosystem: "npm", parse: pnpmLock };
  if (name === "yarn.lock") return { ecosystem: "npm", parse: yarnLock };
  if (name === "poetry.lock" || name === "uv.lock") return { ecosystem: "pip", parse: tomlPackages(true) };
  if (name === "Cargo.toml") return { ecosystem: "rust", parse: cargoToml };
  if (name === "Cargo.lock") return { ecosystem: "rust", parse: tomlPackages(false) };
  if (name === "go.mod") return { ecosystem: "go", parse: goMod };
  if (name === "go.sum") return { ecosystem: "go", parse: goSum };
  return undefined;
}

/**
 * Dependencies the head names that the base did not, or at another version. A manifest that does
 * not parse at the head is reported in `unreadable` (its dependencies cannot be checked); at the
 * base, it counts as empty.
 */
export function changedDependencies(files: readonly { path: string; base?: string; head?: string }[]): {
  dependencies: Dependency[];
  unreadable: string[];
  invalid: string[];
} {
  const found = new Map<string, Dependency>();
  const unreadable: string[] = [];
  const invalid: string[] = [];
  // npm and pip read a file with a byte-order mark as if it had none; so do the parsers.
  const text = (t: string) => t.replace(/^\uFEFF/, "");
  for (const f of files) {
    const kind = manifestKind(f.path);
    if (!kind || f.head === undefined) continue;
    let head: Map<string, string | undefined>;
    try {
      head = kind.parse(text(f.head));
    } catch {
      unreadable.push(f.path);
      continue;
    }
    let base = new Map<string, string | undefined>();
    try {
      if (f.base !== undefined) base = kind.parse(text(f.base));
    } catch {
      // A base that did not parse: everything the head names is new.
    }
    for (const [name, raw] of head) {
      if (base.has(name) && base.get(name) === raw) continue;
      // No registry serves such a name; asking about it would only make the lookup fail.
      if (!VALID_NAME[kind.ecosystem].test(name)) {
        invalid.push(`${f.path}: ${JSON.stringify(name.slice(0, 80))}`);
        continue;
      }
      const version = raw && VALID_VERSION.test(raw) ? raw : undefined;
      const key = `${kind.ecosystem}\u0000${name}`;
      if (!found.has(key))
        found.set(key, {
          ecosystem: kind.ecosystem,
          name,
          ...(version ? { version } : {}),
          manifest: f.path,
        });
    }
  }
  return { dependencies: [...found.values()], unreadable, invalid };
}

/** What each registry accepts as a package name (npm: 214 characters at most). */
const VALID_NAME: Record<Ecosystem, RegExp> = {
  npm: /^(?=.{1,214}$)(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i,
  pip: /^(?=.{1,200}$)[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/i,
  rust: /^[A-Za-z0-9_-]{1,64}$/,
  go: /^(?=.{1,300}$)[A-Za-z0-9][A-Za-z0-9._~+/-]*$/,
};
const VALID_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+~-]{0,63}$/;

/** The version a spec starts from: `^1.2.3` → 1.2.3, `>=2.0` → 2.0.0, `v0.9.1` → 0.9.1. */
export function lowerBound(spec: string | undefined): string | undefined {
  if (!spec) return undefined;
  const m = /(?:^|[\s=^~>v])(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?([-+][0-9A-Za-z.-]+)?/.exec(
    ` ${spec.trim()}`,
  );
  if (!m) return undefined;
  const part = (p: string | undefined) => (p === undefined || p === "x" || p === "*" ? "0" : p);
  return `${m[1]}.${part(m[2])}.${part(m[3])}${m[4] ?? ""}`;
}

const DEPENDENCY_FIELDS = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];

function packageJson(text: string): Map<string, string | undefined> {
  const doc = JSON.parse(text) as Record<string, unknown>;
  const out = new Map<string, string | undefined>();
  for (const field of DEPENDENCY_FIELDS) {
    const deps = doc[field];
    if (!deps || typeof deps !== "object") continue;
    for (const [key, spec] of Object.entries(deps as Record<string, unknown>)) {
      // An alias installs another package under this key: `"left-pad": "npm:other@1.0.0"`.
      const alias =
        typeof spec === "string" ? /^npm:((?:@[^@/\s]+\/)?[^@/\s]+)(?:@(.*))?$/.exec(spec.trim()) : null;
      const [name, range] = alias ? [alias[1]!, alias[2] ?? ""] : [key, typeof spec === "string" ? spec : ""];
      // git:, file:, workspace: and URLs name no registry version; the name is still looked up.
      out.set(name, /^[\s\d^~<>=v.x*|-]+$/.test(range) ? lowerBound(range) : undefined);
    }
  }
  return out;
}

function npmLock(text: string): Map<string, string | undefined> {
  const doc = JSON.parse(text) as {
    packages?: Record<string, { name?: unknown; version?: string; link?: boolean }>;
  };
  const out = new Map<string, string | undefined>();
  for (const [where, entry] of Object.entries(doc.packages ?? {})) {
    // An aliased install records the package it really is in `name`; its path has the alias.
    const name = typeof entry.name === "string" ? entry.name : where.split("node_modules/").pop();
    if (!where.includes("node_modules/") || !name || entry.link) continue;
    if (!out.has(name)) out.set(name, typeof entry.version === "string" ? entry.version : undefined);
  }
  return out;
}

/** PEP 503: case and runs of `-_.` do not tell two names apart. */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function pythonRequirement(line: string): [string, string | undefined] | undefined {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;#]*)/.exec(line);
  if (!m) return undefined;
  return [normalizePythonName(m[1]!), lowerBound(m[2]?.replace(/,.*/, ""))];
}

function requirements(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    // Options (-r, -e, --hash), URLs and paths name no package of the index.
    if (
      !line ||
      line.startsWith("#") ||
      line.startsWith("-") ||
      /^[\w+.-]+:\/\//.test(line) ||
      line.startsWith(".")
    )
      continue;
    const req = pythonRequirement(line);
    if (req) out.set(...req);
  }
  return out;
}

function pyproject(text: string): Map<string, string | undefined> {
  const doc = parseToml(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const out = new Map<string, string | undefined>();
  const lists: unknown[] = [
    doc.project?.dependencies,
    ...Object.values((doc.project?.["optional-dependencies"] ?? {}) as Record<string, unknown>),
  ];
  for (const list of lists)
    for (const item of Array.isArray(list) ? list : [])
      if (typeof item === "string") {
        const req = pythonRequirement(item);
        if (req) out.set(...req);
      }
  const poetry = doc.tool?.poetry as Record<string, unknown> | undefined;
  for (const table of [poetry?.dependencies, poetry?.["dev-dependencies"]])
    for (const [name, spec] of Object.entries((table ?? {}) as Record<string, unknown>)) {
      if (name === "python") continue;
      const version = typeof spec === "string" ? spec : (spec as { version?: unknown })?.version;
      out.set(normalizePythonName(name), typeof version === "string" ? lowerBound(version) : undefined);
    }
  return out;
}

function cargoToml(text: string): Map<string, string | undefined> {
  const doc = parseToml(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const tables: unknown[] = [
    doc.dependencies,
    doc["dev-dependencies"],
    doc["build-dependencies"],
    doc.workspace?.dependencies,
    ...Object.values((doc.target ?? {}) as Record<string, Record<string, unknown>>).flatMap((t) => [
      t.dependencies,
      t["dev-dependencies"],
      t["build-dependencies"],
    ]),
  ];
  const out = new Map<string, string | undefined>();
  for (const table of tables)
    for (const [key, spec] of Object.entries((table ?? {}) as Record<string, unknown>)) {
      const detail = typeof spec === "object" && spec !== null ? (spec as Record<string, unknown>) : {};
      // A renamed dependency is looked up by the crate it names; a path or git one by its name.
      const name = typeof detail.package === "string" ? detail.package : key;
      const version = typeof spec === "string" ? spec : detail.version;
      out.set(name, typeof version === "string" ? lowerBound(version) : undefined);
    }
  return out;
}

function goMod(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  let inBlock = false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (/^require\s*\($/.test(line)) inBlock = true;
    else if (inBlock && line === ")") inBlock = false;
    const m = (inBlock ? /^(\S+)\s+(v\S+)/ : /^require\s+(\S+)\s+(v\S+)/).exec(line);
    if (m) out.set(m[1]!, m[2]!.replace(/^v/, ""));
  }
  return out;
}

/** `[[package]]` tables with a name and a version: Cargo.lock, poetry.lock, uv.lock. */
function tomlPackages(python: boolean): Parser {
  return (text) => {
    const doc = parseToml(text) as { package?: { name?: unknown; version?: unknown }[] };
    const out = new Map<string, string | undefined>();
    for (const p of Array.isArray(doc.package) ? doc.package : [])
      if (typeof p.name === "string")
        out.set(
          python ? normalizePythonName(p.name) : p.name,
          typeof p.version === "string" ? p.version : undefined,
        );
    return out;
  };
}

/** pnpm-lock.yaml: `packages` keyed `name@version` (v9) or `/name@version` (v6). */
function pnpmLock(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  let inPackages = false;
  for (const line of text.split("\n")) {
    if (/^\S/.test(line)) inPackages = /^packages:\s*$/.test(line);
    const m = inPackages ? /^ {2}['"]?\/?((?:@[^@/\s]+\/)?[^@/\s'"]+)@([^('":\s]+)/.exec(line) : null;
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}

/**
 * yarn.lock (v1 and berry): an entry's first line names the package (or, for an alias
 * `left-pad@npm:other@^1`, the package it installs); berry's `resolution` line names what it
 * resolved to, and stands; the `version` line gives the version.
 */
function yarnLock(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  let entry: { name?: string; resolved?: string; version?: string } = {};
  const flush = () => {
    const name = entry.resolved ?? entry.name;
    if (name && entry.version && !out.has(name)) out.set(name, entry.version);
    entry = {};
  };
  for (const line of text.split("\n")) {
    if (line.trim() && !line.startsWith(" ")) {
      flush();
      const head = /^"?((?:@[^@/\s]+\/)?[^@/\s",]+)@(?:npm:((?:@[^@/\s]+\/)?[^@/\s",]+)@)?/.exec(line);
      entry.name = head ? (head[2] ?? head[1]) : undefined;
    }
    const resolution = /^ {2}resolution:? "?((?:@[^@/\s]+\/)?[^@/\s"]+)@/.exec(line);
    if (resolution) entry.resolved = resolution[1];
    const version = /^ {2}version:? "?([^"\s]+)"?/.exec(line);
    if (version) entry.version = version[1];
  }
  flush();
  return out;
}

/** go.sum: `module version[/go.mod] hash` lines. */
function goSum(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const line of text.split("\n")) {
    const m = /^(\S+)\s+v([^\s/]+)(?:\/go\.mod)?\s/.exec(line);
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}
