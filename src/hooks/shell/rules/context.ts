// What every rule may know about where the command runs.
import { DYN, type Arg } from "../words.js";

export interface Where {
  /** The shell's directory at this point of the command, or null after `cd` to an unknown place. */
  readonly cwd: string | null;
  readonly workspace: string;
  readonly home: string;
  /** Scratch directories whose subdirectories may be deleted freely (e.g. /tmp). */
  readonly tempDirs: readonly string[];
}

/** What the command reads on standard input, when that is known before running. */
export type Stdin =
  | { readonly kind: "none" }
  /** Redirected from a file (`< x.sh`); `file` is that word when there is one. */
  | { readonly kind: "file"; readonly file?: Arg }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "unknown"; readonly from: string };

/** Shows an argument in a message: run-time parts as `…`. */
export function show(a: Arg | string): string {
  const v = typeof a === "string" ? a : a.value;
  const s = v.split(DYN).join("…");
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Splits `-rf`, `--force`, `--` and operands the way most GNU tools do. */
export function splitOptions(args: readonly Arg[]): { flags: string[]; operands: Arg[]; dynamic: boolean } {
  const flags: string[] = [];
  const operands: Arg[] = [];
  let dynamic = false;
  let ended = false;
  for (const a of args) {
    if (!a.literal) dynamic = true;
    if (!ended && a.value === "--") {
      ended = true;
      continue;
    }
    if (!ended && a.literal && a.value.startsWith("-") && a.value.length > 1) {
      if (a.value.startsWith("--")) flags.push(a.value.split("=")[0] as string);
      else for (const c of a.value.slice(1)) flags.push(`-${c}`);
    } else operands.push(a);
  }
  return { flags, operands, dynamic };
}
