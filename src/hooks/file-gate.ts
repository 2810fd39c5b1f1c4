// The decision of the PreToolUse hook for file-writing tools.
import { pathPolicy, writeRefusal } from "./paths.js";
import { resolveReal } from "./resolve.js";
import type { HookInput } from "./runtime.js";

/** The block reason for a Write/Edit/MultiEdit/NotebookEdit call, or null to allow it. */
export function fileGateDecision(
  input: HookInput,
  env: Readonly<Record<string, string | undefined>>,
): string | null {
  const target = input.tool_input.file_path ?? input.tool_input.notebook_path;
  if (typeof target !== "string" || target === "") throw new Error("tool_input has no file_path");
  const workspace = resolveReal(env.AEGIS_WORKSPACE || input.cwd, input.cwd);
  const abs = resolveReal(target, input.cwd);
  const why = writeRefusal(abs, pathPolicy(workspace, env));
  return why ? `Blocked: ${input.tool_name ?? "writing"} ${target}: ${why}.` : null;
}
