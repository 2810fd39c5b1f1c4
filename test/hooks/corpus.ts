// The command corpus under test/fixtures/commands: destructive commands the gate must block and
// benign ones it must allow. `{{WS}}` stands for the absolute workspace path. Commands run in a
// workspace holding the files of test/fixtures/commands/workspace (the scripts some of them run).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "commands");
/** The files the corpus commands expect in their workspace (read by the gate, never run). */
export const CORPUS_WORKSPACE = path.join(DIR, "workspace");

export interface CorpusEntry {
  readonly family: string;
  readonly command: string;
}

export function loadCorpus(kind: "destructive" | "benign", workspace: string): CorpusEntry[] {
  const data = JSON.parse(readFileSync(path.join(DIR, `${kind}.json`), "utf8")) as Record<string, string[]>;
  return Object.entries(data).flatMap(([family, cmds]) =>
    cmds.map((c) => ({ family, command: c.replaceAll("{{WS}}", workspace) })),
  );
}
