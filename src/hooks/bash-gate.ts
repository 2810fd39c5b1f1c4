// The decision of the PreToolUse Bash hook, apart from process plumbing.
import os from "node:os";
import { analyzeCommand } from "./shell/analyze.js";
import { pathPolicy } from "./paths.js";
import { resolveReal } from "./resolve.js";
import type { HookInput } from "./runtime.js";

export interface BashGateDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly gitAliases: (dir: string | null) => ReadonlyMap<string, string>;
}

/** The block reason for a Bash tool call, or null to allow it. */
export function bashGateDecision(input: HookInput, deps: BashGateDeps): string | null {
  const command = input.tool_input.command;
  if (typeof command !== "string") throw new Error("tool_input.command is missing");
  const workspace = resolveReal(deps.env.AEGIS_WORKSPACE || input.cwd, input.cwd);
  const home = deps.env.HOME || os.homedir();
  const tempDirs = [
    ...new Set(["/tmp", "/var/tmp", os.tmpdir(), deps.env.RUNNER_TEMP].filter((d): d is string => !!d)),
  ];
  const verdict = analyzeCommand(command, {
    cwd: resolveReal(input.cwd, "/"),
    home,
    tempDirs,
    policy: pathPolicy(workspace, deps.env),
    gitAliases: deps.gitAliases,
  });
  return verdict.allowed ? null : verdict.reason;
}
