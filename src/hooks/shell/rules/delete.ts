// Deletions: rm, find -delete / -exec rm, mv of precious directories, raw disk writes.
import path from "node:path";
import { globToRegExp, isBelow, isInside } from "../../paths.js";
import { DYN, type Arg } from "../words.js";
import { show, splitOptions, type Where } from "./context.js";

const DELETERS = new Set(["rm", "shred", "unlink", "rmdir", "srm", "trash", "trash-put"]);
/** Names probed against a glob at the workspace root: matching any of them means "everything" or `.git`. */
const ROOT_PROBES = [".git", "x", "zz", "src"];

/** Why deleting `abs` recursively is refused, or null. */
function preciousDir(abs: string, where: Where): string | null {
  if (abs === "/" || abs === path.parse(abs).root) return "the filesystem root";
  if (isInside(where.home, abs))
    return abs === where.home ? "the home directory" : "a directory containing the home directory";
  if (isInside(where.workspace, abs))
    return abs === where.workspace ? "the workspace root" : "a parent of the workspace";
  if (abs.split(path.sep).includes(".git")) return "git's metadata (.git)";
  if (!isInside(abs, where.workspace) && !where.tempDirs.some((t) => isBelow(abs, t)))
    return "a path outside the workspace";
  return null;
}

/** Checks one operand of a recursive delete; `dotAll` is true for find, whose `*` matches dot files. */
export function recursiveTargetRefusal(target: Arg, where: Where, dotAll = false): string | null {
  const v = target.value;
  if (!target.literal) return `its target "${show(target)}" is only known at run time`;
  if (target.brace) return `its target "${show(target)}" uses brace expansion`;
  if (v === "") return null;
  if (where.cwd === null && !path.isAbsolute(v))
    return `it deletes "${v}" after a cd to a directory only known at run time`;
  const cwd = where.cwd ?? "/";
  if (!target.glob) {
    const why = preciousDir(path.resolve(cwd, v), where);
    return why ? `it deletes ${why} ("${v}")` : null;
  }
  const segments = v.split("/");
  const firstGlob = segments.findIndex((s) => /[*?[]/.test(s));
  const base = path.resolve(cwd, segments.slice(0, firstGlob).join("/") || ".");
  const last = segments[segments.length - 1] ?? "";
  const lastRe = globToRegExp(last, { dotAll });
  if (isInside(base, where.workspace) && !base.split(path.sep).includes(".git")) {
    const probes = base === where.workspace && firstGlob === segments.length - 1 ? ROOT_PROBES : [".git"];
    const hit = probes.find((p) => lastRe.test(p));
    return hit === undefined
      ? null
      : `the pattern "${v}" matches ${hit === ".git" ? ".git" : "everything"} in ${base}`;
  }
  const why = preciousDir(base, where);
  return why ? `the pattern "${v}" deletes inside ${why}` : null;
}

export function rmRefusal(name: string, args: readonly Arg[], where: Where): string | null {
  const { flags, operands, dynamic } = splitOptions(args);
  if (flags.includes("--no-preserve-root"))
    return `Blocked: ${name} --no-preserve-root. Delete specific paths inside the workspace instead.`;
  // A run-time word may carry `-r` itself, so any dynamic argument makes the whole call count as recursive.
  const recursive =
    name === "rm" || name === "srm"
      ? flags.some((f) => f === "-r" || f === "-R" || f === "--recursive") || dynamic
      : false;
  for (const t of operands) {
    if (recursive) {
      const why = recursiveTargetRefusal(t, where);
      if (why)
        return `Blocked: recursive delete (${name} ${flags.join(" ")} ${show(t)}): ${why}. Delete specific build outputs inside the workspace by literal relative path (e.g. rm -rf dist).`;
      continue;
    }
    if (!t.literal || where.cwd === null) continue;
    const abs = path.resolve(where.cwd, t.value);
    if (abs.split(path.sep).includes(".git") && !abs.endsWith(".lock")) {
      return `Blocked: ${name} ${show(t)} deletes git's metadata (.git). Use git commands (git rm, git restore) instead.`;
    }
  }
  return null;
}

/** Filters that narrow what find matches; without one, find -delete takes everything under its roots. */
const FIND_FILTERS = new Set([
  "-name",
  "-iname",
  "-path",
  "-ipath",
  "-wholename",
  "-iwholename",
  "-regex",
  "-iregex",
  "-newer",
  "-mtime",
  "-mmin",
  "-atime",
  "-amin",
  "-ctime",
  "-cmin",
  "-size",
  "-empty",
  "-user",
  "-perm",
  "-links",
  "-inum",
  "-samefile",
]);

export interface FindPlan {
  readonly refusal: string | null;
  /** Commands find runs through -exec/-ok that are not plain deleters, with `{}` as run-time text. */
  readonly execs: readonly Arg[][];
}

export function findPlan(args: readonly Arg[], where: Where): FindPlan {
  const roots: Arg[] = [];
  let i = 0;
  // Leading -H/-L/-P/-O/-D options come before the roots.
  while (i < args.length && /^-(H|L|P|O\d*|D)$/.test((args[i] as Arg).value))
    i += (args[i] as Arg).value === "-D" ? 2 : 1;
  for (; i < args.length; i++) {
    const v = (args[i] as Arg).value;
    if (v.startsWith("-") || v === "(" || v === "!" || v === ")") break;
    roots.push(args[i] as Arg);
  }
  if (roots.length === 0)
    roots.push({
      ...(args[0] ?? ({} as Arg)),
      value: ".",
      literal: true,
      glob: false,
      brace: false,
      params: [],
      substs: [],
      procSubst: false,
    });
  const expr = args.slice(i);
  let deletes = false;
  let filtered = false;
  let namesGit = false;
  const execs: Arg[][] = [];
  for (let k = 0; k < expr.length; k++) {
    const v = (expr[k] as Arg).value;
    if (v === "-delete") deletes = true;
    if (FIND_FILTERS.has(v)) {
      filtered = true;
      const pattern = expr[k + 1]?.value ?? "";
      const re = v.includes("regex")
        ? safeRegExp(pattern)
        : globToRegExp(v.includes("path") || v.includes("wholename") ? pattern : pattern, { dotAll: true });
      if (re === null || [".git", "./.git"].some((p) => re.test(p)) || pattern.includes(DYN)) namesGit = true;
    }
    if (["-exec", "-execdir", "-ok", "-okdir"].includes(v)) {
      const end = expr.findIndex((e, j) => j > k && (e.value === ";" || e.value === "+"));
      const cmd = expr.slice(k + 1, end === -1 ? expr.length : end);
      const cmdName = path.basename(cmd[0]?.value ?? "");
      if (DELETERS.has(cmdName)) deletes = true;
      else
        execs.push(
          cmd.map((c) =>
            c.value.includes("{}") ? { ...c, value: c.value.replace(/\{\}/g, DYN), literal: false } : c,
          ),
        );
      k = end === -1 ? expr.length : end;
    }
  }
  if (!deletes) return { refusal: null, execs };
  for (const root of roots) {
    const why = recursiveTargetRefusal(root, where, true);
    if (!why) continue;
    const atWorkspace =
      root.literal && where.cwd !== null && path.resolve(where.cwd, root.value) === where.workspace;
    // `find . -name '*.pyc' -delete` at the root is ordinary cleanup; unfiltered or .git-matching is not.
    if (atWorkspace && filtered && !namesGit) continue;
    return {
      refusal: `Blocked: find with -delete/-exec rm under "${show(root)}": ${why}. Narrow it with -name to files inside the workspace, never .git.`,
      execs,
    };
  }
  return { refusal: null, execs };
}

function safeRegExp(s: string): RegExp | null {
  try {
    return new RegExp(`^${s}$`);
  } catch {
    return null;
  }
}

/** `mv .git elsewhere` or `mv ~ x` destroys as surely as rm. */
export function mvRefusal(args: readonly Arg[], where: Where): string | null {
  const { operands } = splitOptions(args);
  for (const src of operands.slice(0, -1)) {
    if (!src.literal || where.cwd === null) continue;
    const abs = path.resolve(where.cwd, src.value);
    if (
      abs === "/" ||
      isInside(where.home, abs) ||
      isInside(where.workspace, abs) ||
      path.basename(abs) === ".git"
    ) {
      return `Blocked: mv ${show(src)} moves away the home, the workspace or .git. Move individual files inside the workspace instead.`;
    }
  }
  return null;
}

/** Raw disk and filesystem destruction. */
export function diskRefusal(name: string, args: readonly Arg[]): string | null {
  if (/^(mkfs(\..*)?|wipefs|fdisk|sfdisk|parted|mkswap)$/.test(name))
    return `Blocked: ${name} rewrites disks or filesystems; it is never part of a code change.`;
  if (name === "dd" && args.some((a) => /^of=\/dev\/(?!null$)/.test(a.value)))
    return "Blocked: dd writing to a device. Write to a file inside the workspace instead.";
  return null;
}
