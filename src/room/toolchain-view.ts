/**
 * The job's toolchain, as the room sees it. A workflow sets up its build before aegis runs —
 * rustup leaves cargo in `~/.cargo/bin`, nvm and pipx and Go live in the runner's HOME — and the
 * room is closed to that HOME (it holds `~/.docker/config.json`, `~/.npmrc`, `~/.git-credentials`).
 * So the room's processes, each in a mount namespace of its own, see an empty HOME (a tmpfs laid
 * over it, or over the highest folder above it other users cannot enter) in which only the
 * toolchain folders reappear, at their own paths and read-only: `PATH` and `CARGO_HOME` work as
 * they are, nothing else of HOME exists, and nothing the room does reaches the real folders.
 *
 * The toolchain is what `PATH` and the toolchain variables point at inside the runner's HOME. A
 * folder that holds a credential file is left out (with a warning) rather than opened, and nothing
 * under the workspace or RUNNER_TEMP is opened (the room has its own copy of the one and must
 * never see the other).
 */
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";

/** Variables that name a toolchain's folder (setup actions and installers set them). */
export const TOOLCHAIN_VARS = [
  "CARGO_HOME",
  "RUSTUP_HOME",
  "GOPATH",
  "GOROOT",
  "JAVA_HOME",
  "pythonLocation",
  "Python_ROOT_DIR",
  "DOTNET_ROOT",
  "NVM_DIR",
  "NVM_BIN",
  "PIPX_HOME",
  "PIPX_BIN_DIR",
  "PNPM_HOME",
  "VOLTA_HOME",
  "BUN_INSTALL",
  "DENO_INSTALL",
  "GEM_HOME",
];

/** File names that hold a credential wherever they are (cargo's, npm's, PyPI's, git's, docker's, ssh's). */
const CREDENTIAL_FILE =
  /^(credentials(\.toml)?|\.credentials|\.npmrc|\.pypirc|\.netrc|_netrc|\.git-credentials|\.dockercfg|id_(rsa|dsa|ecdsa|ed25519)|.*\.pem|.*\.key|\.env)$/i;
/** How deep a toolchain folder is searched for one: credential files sit near the top. */
const SCAN_DEPTH = 3;
const SCAN_ENTRIES = 20_000;

export interface ToolchainView {
  /** The folder the tmpfs is laid over (the runner's HOME, or the highest closed folder above it). */
  cover: string;
  /** Folders shown again inside it, read-only: the real folder, and the path it appears at. */
  binds: { source: string; target: string }[];
  /** Toolchain folders not opened, and why. */
  leftOut: { path: string; why: string }[];
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** A credential file within the first levels of `dir`, if any. */
async function credentialIn(dir: string): Promise<string | undefined> {
  let seen = 0;
  const walk = async (d: string, depth: number): Promise<string | undefined> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return undefined;
    }
    for (const name of names) {
      if (++seen > SCAN_ENTRIES) return undefined;
      const full = path.join(d, name);
      const st = await lstat(full).catch(() => undefined);
      if (!st) continue;
      if (st.isFile() && CREDENTIAL_FILE.test(name)) return full;
      if (st.isDirectory() && depth < SCAN_DEPTH) {
        const found = await walk(full, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(dir, 1);
}

/**
 * What the room is shown of the runner's HOME, or undefined when no toolchain lives there.
 * `closed` are folders never opened (the workspace, RUNNER_TEMP).
 */
export async function planToolchainView(
  env: NodeJS.ProcessEnv,
  runnerHome: string,
  closed: readonly string[],
): Promise<ToolchainView | undefined> {
  if (!runnerHome || !path.isAbsolute(runnerHome) || runnerHome === "/") return undefined;
  const home = path.resolve(runnerHome);
  const never = closed.filter((c) => c && path.isAbsolute(c)).map((c) => path.resolve(c));
  const candidates = [...(env.PATH ?? "").split(":"), ...TOOLCHAIN_VARS.map((name) => env[name] ?? "")]
    .filter((p) => p && path.isAbsolute(p))
    .map((p) => path.resolve(p))
    .filter((p) => p !== home && inside(p, home) && !never.some((c) => inside(p, c) || inside(c, p)));
  const leftOut: ToolchainView["leftOut"] = [];
  const accepted: { source: string; target: string }[] = [];
  for (const target of [...new Set(candidates)].sort((a, b) => a.length - b.length)) {
    if (accepted.some((a) => inside(target, a.target))) continue;
    const source = await realpath(target).catch(() => undefined);
    if (
      !source ||
      !(await stat(source).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      continue;
    if (never.some((c) => inside(source, c))) continue;
    const credential = await credentialIn(source);
    if (credential) {
      leftOut.push({ path: target, why: `it holds ${path.relative(source, credential)}, a credential file` });
      continue;
    }
    accepted.push({ source, target });
  }
  if (!accepted.length) return leftOut.length ? { cover: home, binds: [], leftOut } : undefined;
  return { cover: await coverFor(home), binds: accepted, leftOut };
}

/** The highest folder from `/` down to `home` that other users cannot enter (else `home`). */
async function coverFor(home: string): Promise<string> {
  const parts = home.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const dir = `/${parts.slice(0, i).join("/")}`;
    const st = await stat(dir).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) return dir;
  }
  return home;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Shell commands (run as root in the room's new mount namespace, before it drops to the room's
 * user) that lay the view: each toolchain folder is first bound at `stage` (an empty folder of the
 * room's own), then the cover goes over the HOME, and each folder is bound back at its path, read-only.
 */
export function viewCommands(view: ToolchainView, stage: string): string[] {
  if (!view.binds.length) return [];
  const out = [`/usr/bin/mount -t tmpfs -o size=64k,mode=755 aegis-toolchain ${q(stage)}`];
  view.binds.forEach((b, i) => {
    out.push(
      `/usr/bin/mkdir ${q(`${stage}/${i}`)}`,
      `/usr/bin/mount --bind ${q(b.source)} ${q(`${stage}/${i}`)}`,
    );
  });
  out.push(`/usr/bin/mount -t tmpfs -o size=1m,mode=755 aegis-home ${q(view.cover)}`);
  view.binds.forEach((b, i) => {
    out.push(
      `/usr/bin/mkdir -p ${q(b.target)}`,
      `/usr/bin/mount --bind ${q(`${stage}/${i}`)} ${q(b.target)}`,
      `/usr/bin/mount -o remount,bind,ro ${q(b.target)}`,
    );
  });
  return out;
}
