// Runs a hook exactly as Claude Code does: the command string from hooks/settings.json, through a
// shell, with the event JSON on stdin.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const HOOKS_DIR = path.join(REPO, "hooks");

interface HookEntry {
  matcher: string;
  hooks: { type: string; command: string; timeout?: number }[];
}
type Settings = { hooks: Record<string, HookEntry[]> };

export function settings(): Settings {
  return JSON.parse(readFileSync(path.join(HOOKS_DIR, "settings.json"), "utf8")) as Settings;
}

/** The command registered for `event` whose matcher matches `tool` (as Claude Code matches: a regex over the tool name). */
export function hookCommand(event: string, tool: string): string {
  const entry = settings().hooks[event]?.find((e) => new RegExp(`^(?:${e.matcher})$`).test(tool));
  const cmd = entry?.hooks[0]?.command;
  if (!cmd) throw new Error(`no ${event} hook for ${tool}`);
  return cmd;
}

export interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runHook(
  command: string,
  stdin: string,
  env: Record<string, string | undefined> = {},
): Promise<HookRun> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn("sh", ["-c", command], {
      env: { ...process.env, AEGIS_HOOKS_DIR: HOOKS_DIR, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - start }));
    child.stdin.end(stdin);
  });
}

export function toolEvent(cwd: string, event: string, tool: string, input: Record<string, unknown>): string {
  return JSON.stringify({
    session_id: "test-session",
    transcript_path: "/dev/null",
    cwd,
    permission_mode: "acceptEdits",
    hook_event_name: event,
    tool_name: tool,
    tool_input: input,
    tool_use_id: "toolu_test",
  });
}

/** Runs `fn` over `items` with at most `limit` in flight (the machine has two cores). */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
