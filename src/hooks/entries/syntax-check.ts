// PostToolUse: report syntax problems of the edited file to the agent without blocking.
import { readFileSync } from "node:fs";
import { readHookInput } from "../runtime.js";
import { resolveReal } from "../resolve.js";
import { realCheckDeps, syntaxProblem } from "../syntax-check.js";

// Advisory only: whatever goes wrong here, the agent's edit stands (exit 0).
setTimeout(() => process.exit(0), 8_000).unref();
try {
  const input = readHookInput(readFileSync(0, "utf8"));
  const file = input.tool_input.file_path;
  if (typeof file === "string" && file !== "") {
    const workspace = resolveReal(process.env.AEGIS_WORKSPACE || input.cwd, input.cwd);
    const problem = syntaxProblem(resolveReal(file, input.cwd), workspace, realCheckDeps);
    if (problem) {
      const additionalContext = `aegis syntax check: ${problem}. Fix it before you commit.`;
      process.stdout.write(
        `${JSON.stringify({ hookSpecificOutput: { hookEventName: "PostToolUse", additionalContext } })}\n`,
      );
    }
  }
} catch {
  // An advisory check never stands in the agent's way.
}
process.exit(0);
