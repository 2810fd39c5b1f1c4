// Writes src/adapters/tool-integrity.json: the tree digest (src/adapters/tool-digest.ts) of a
// clean `npm install` of each CLI version aegis pins, for this machine's platform. Run it when a
// pinned version changes (`node scripts/tool-integrity.mjs`), on each platform aegis ships a
// digest for, and commit the result: a cached copy that does not match is never run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { tsImport } from "tsx/esm/api";

const { treeDigest } = await tsImport("../src/adapters/tool-digest.ts", import.meta.url);
const action = readFileSync("action.yml", "utf8");
const pinned = (input) => new RegExp(`${input}:[\\s\\S]*?default:\\s*"?([0-9][^"\\s]*)"?`).exec(action)?.[1];
const tools = [
  ["@anthropic-ai/claude-code", pinned("claude-version")],
  ["@openai/codex", pinned("codex-version")],
];
const file = "src/adapters/tool-integrity.json";
const table = JSON.parse(readFileSync(file, "utf8"));
const platform = `${process.platform}-${process.arch}`;
for (const [name, version] of tools) {
  if (!version) throw new Error(`no pinned version for ${name} in action.yml`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "aegis-integrity-"));
  try {
    writeFileSync(path.join(dir, "package.json"), '{ "private": true }\n');
    // The same command as src/adapters/tool-install.ts.
    execFileSync(
      "npm",
      [
        "install",
        "--no-save",
        "--prefix",
        dir,
        "--include=optional",
        "--ignore-scripts=false",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `${name}@${version}`,
      ],
      { stdio: "inherit" },
    );
    const digest = await treeDigest(dir);
    table[`${name}@${version}`] = { ...table[`${name}@${version}`], [platform]: digest };
    console.log(`${name}@${version} ${platform}: ${digest}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
writeFileSync(file, `${JSON.stringify(table, null, 2)}\n`);
