// Advisory syntax check after the agent edits a file: problems are reported, never blocked.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseAllDocuments } from "yaml";

/** Files that are JSON with comments by convention: JSON.parse would flag valid files. */
const JSONC =
  /(^|\/)(tsconfig(\..*)?|jsconfig|\.eslintrc|devcontainer|settings|launch|tasks|extensions)\.json$/;

export interface CheckDeps {
  /** Runs `node --check`; returns its stderr on a syntax error, null when fine. */
  readonly nodeCheck: (file: string) => string | null;
  /** The TypeScript compiler as installed in the workspace, or null. */
  readonly typescript: (workspace: string) => TypeScriptLike | null;
}

export interface TypeScriptLike {
  transpileModule(
    src: string,
    opts: { fileName: string; reportDiagnostics: boolean; compilerOptions?: Record<string, unknown> },
  ): {
    diagnostics?: readonly { messageText: string | { messageText: string }; start?: number }[];
  };
}

/** Describes the first syntax problems of `file`, or null when it parses (or is not checked). */
export function syntaxProblem(file: string, workspace: string, deps: CheckDeps): string | null {
  if (!existsSync(file)) return null;
  const ext = path.extname(file).toLowerCase();
  const rel = path.relative(workspace, file) || file;
  const src = (): string => readFileSync(file, "utf8");
  if (ext === ".json" && !JSONC.test(file)) {
    try {
      JSON.parse(src());
      return null;
    } catch (err) {
      return `${rel} is not valid JSON: ${(err as Error).message}`;
    }
  }
  if (ext === ".yml" || ext === ".yaml") {
    const errors = parseAllDocuments(src()).flatMap((d) => ("errors" in d ? d.errors : []));
    return errors.length
      ? `${rel} is not valid YAML: ${errors
          .slice(0, 3)
          .map((e) => e.message.split("\n")[0])
          .join("; ")}`
      : null;
  }
  const isJsProject =
    existsSync(path.join(workspace, "package.json")) || existsSync(path.join(workspace, "tsconfig.json"));
  if (!isJsProject) return null;
  if ([".js", ".mjs", ".cjs"].includes(ext)) {
    const err = deps.nodeCheck(file);
    return err ? `${rel} has a JavaScript syntax error: ${firstLines(err)}` : null;
  }
  if ([".ts", ".tsx", ".mts", ".cts"].includes(ext)) {
    const ts = deps.typescript(workspace);
    if (!ts) return null;
    const out = ts.transpileModule(src(), {
      fileName: file,
      reportDiagnostics: true,
      compilerOptions: { jsx: "preserve" },
    });
    const diags = (out.diagnostics ?? [])
      .slice(0, 3)
      .map((d) => (typeof d.messageText === "string" ? d.messageText : d.messageText.messageText));
    return diags.length ? `${rel} has TypeScript syntax errors: ${diags.join("; ")}` : null;
  }
  return null;
}

function firstLines(s: string): string {
  return s
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("    at ") && !l.startsWith("Node.js"))
    .slice(0, 4)
    .join(" | ");
}

export const realCheckDeps: CheckDeps = {
  nodeCheck(file) {
    try {
      execFileSync(process.execPath, ["--check", file], {
        stdio: ["ignore", "ignore", "pipe"],
        timeout: 5_000,
        encoding: "utf8",
      });
      return null;
    } catch (err) {
      const e = err as { stderr?: string; status?: number | null };
      return e.status === 1 && e.stderr ? e.stderr : null;
    }
  },
  typescript(workspace) {
    try {
      return createRequire(path.join(workspace, "package.json"))("typescript") as TypeScriptLike;
    } catch {
      return null;
    }
  },
};
