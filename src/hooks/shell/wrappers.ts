// Commands that run another command given in their arguments (sudo, env, timeout, xargs, …).
// Each unwrapper returns the inner argv, or null when there is no inner command.
import { DYN, plainArg, type Arg } from "./words.js";

export type Unwrapped =
  | { readonly kind: "argv"; readonly argv: readonly Arg[]; readonly assigns?: readonly string[] }
  | { readonly kind: "source"; readonly source: string; readonly label: string }
  | { readonly kind: "none" };

/** Options that take a separate value, per wrapper (short forms may also be glued: `-uroot`). */
const OPTS_WITH_VALUE: Record<string, readonly string[]> = {
  sudo: [
    "-u",
    "-g",
    "-h",
    "-p",
    "-C",
    "-D",
    "-r",
    "-t",
    "-U",
    "-T",
    "--user",
    "--group",
    "--host",
    "--prompt",
    "--chdir",
    "--role",
    "--type",
    "--other-user",
    "--command-timeout",
  ],
  doas: ["-u", "-C"],
  env: ["-u", "-C", "-S", "--unset", "--chdir", "--split-string"],
  timeout: ["-s", "-k", "--signal", "--kill-after"],
  nice: ["-n", "--adjustment"],
  ionice: ["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"],
  stdbuf: ["-i", "-o", "-e", "--input", "--output", "--error"],
  exec: ["-a"],
  xargs: [
    "-I",
    "-L",
    "-n",
    "-P",
    "-d",
    "-E",
    "-s",
    "-a",
    "--delimiter",
    "--max-args",
    "--max-procs",
    "--arg-file",
    "--max-lines",
    "--replace",
    "--eof",
    "--max-chars",
  ],
  flock: ["-w", "-E", "--timeout", "--conflict-exit-code"],
  chrt: ["-p"],
  taskset: [],
  setsid: [],
  nohup: [],
  time: ["-f", "-o", "--format", "--output"],
  command: [],
  builtin: [],
  unbuffer: [],
  caffeinate: [],
  chroot: ["--userspec", "--groups"],
  runuser: ["-u", "-g", "-G", "--user", "--group"],
  watch: ["-n", "-d", "--interval"],
  strace: ["-o", "-e", "-p", "-s"],
};

export const WRAPPERS = new Set(Object.keys(OPTS_WITH_VALUE));

export function unwrap(name: string, args: readonly Arg[]): Unwrapped {
  const withValue = OPTS_WITH_VALUE[name] ?? [];
  const assigns: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as Arg;
    const v = a.value;
    if (v === "--") {
      i++;
      break;
    }
    if (name === "env" && /^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) {
      assigns.push(v);
      continue;
    }
    if (name === "env") {
      // `env -S 'rm -rf /'` splits its argument into a command line.
      let inline: string | null = null;
      let restAt = i + 1;
      if (v === "-S" || v === "--split-string") {
        inline = args[i + 1]?.value ?? "";
        restAt = i + 2;
      } else if (v.startsWith("--split-string=")) inline = v.slice("--split-string=".length);
      else if (/^-S./.test(v)) inline = v.slice(2);
      if (inline !== null) {
        const rest = args.slice(restAt).map((r) => quote(r.value));
        return { kind: "source", source: [inline, ...rest].join(" "), label: "env -S string" };
      }
    }
    if (!v.startsWith("-") || v === "-") break;
    if (withValue.includes(v)) i++;
    // `command -v`/`-V` only looks a name up; `sudo -l`, `sudo -v` run nothing.
    if ((name === "command" && /^-[vV]$/.test(v)) || (name === "sudo" && /^-[lvkK]$/.test(v)))
      return { kind: "none" };
  }
  let rest = args.slice(i);
  if (name === "timeout" && rest.length > 0) rest = rest.slice(1); // the duration
  if (name === "chroot" && rest.length > 0) rest = rest.slice(1); // the new root
  if (name === "flock" && rest.length > 0) {
    // `flock FILE -c 'cmd'` runs a shell string; `flock FILE cmd …` runs argv.
    rest = rest.slice(1);
    if (rest[0]?.value === "-c" || rest[0]?.value === "--command")
      return { kind: "source", source: rest[1]?.value ?? "", label: "flock -c string" };
  }
  if (name === "watch")
    return { kind: "source", source: rest.map((r) => r.value).join(" "), label: "watch command" };
  if (name === "xargs") {
    // xargs appends words read from stdin: unknown to us, so they count as run-time text.
    const cmd = rest.length > 0 ? rest : [plainArg("echo")];
    return { kind: "argv", argv: [...cmd, plainArg(DYN)] };
  }
  if (rest.length === 0) return { kind: "none" };
  return { kind: "argv", argv: rest, assigns };
}

/** Quotes a literal for re-parsing; run-time parts become an unquoted variable so they stay unknown. */
export function quote(s: string): string {
  return s
    .split(DYN)
    .map((piece) => `'${piece.replace(/'/g, `'\\''`)}'`)
    .join("$__aegis_unknown");
}
