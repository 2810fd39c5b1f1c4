// Shared plumbing for hook entry points: read the JSON event, enforce a deadline, exit the way
// Claude Code understands. Blocking hooks fail closed: any error or hang exits 2 (block).
import { readFileSync } from "node:fs";

export interface HookInput {
  readonly cwd: string;
  readonly hook_event_name?: string;
  readonly tool_name?: string;
  readonly tool_input: Readonly<Record<string, unknown>>;
  readonly tool_response?: unknown;
}

/** Well under the `timeout` in hooks/settings.json (30 s): Claude Code treats a timed-out hook as allow. */
export const WATCHDOG_MS = 10_000;

/** Prints one line for the model and exits 2, which blocks a PreToolUse call. */
export function deny(message: string): never {
  process.stderr.write(`${oneLine(message)}\n`);
  process.exit(2);
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** Parses stdin as a hook event; throws with the reason when it is not one. */
export function readHookInput(raw: string): HookInput {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    throw new Error("hook input is not JSON", { cause: err });
  }
  const o = data as Partial<HookInput> | null;
  if (!o || typeof o !== "object") throw new Error("hook input is not a JSON object");
  if (typeof o.cwd !== "string" || o.cwd === "") throw new Error("hook input has no cwd");
  if (!o.tool_input || typeof o.tool_input !== "object") throw new Error("hook input has no tool_input");
  return o as HookInput;
}

/**
 * Runs a blocking hook: a watchdog and every failure path end in exit 2 with a one-line reason.
 * `AEGIS_HOOK_TEST_DELAY_MS` delays the work so tests can prove that a hang blocks.
 */
export function runBlockingHook(name: string, decide: (input: HookInput) => string | null): void {
  const watchdog = setTimeout(
    () =>
      deny(
        `aegis ${name} hook did not decide within ${WATCHDOG_MS / 1000}s; blocked to be safe. Retry with a simpler command.`,
      ),
    WATCHDOG_MS,
  );
  const fail = (err: unknown): never =>
    deny(
      `aegis ${name} hook failed (${err instanceof Error ? err.message : String(err)}); blocked to be safe. Retry or use a simpler form.`,
    );
  process.on("uncaughtException", fail);
  try {
    const input = readHookInput(readFileSync(0, "utf8"));
    const delay = Number(process.env.AEGIS_HOOK_TEST_DELAY_MS ?? 0);
    const finish = (): void => {
      try {
        const reason = decide(input);
        if (reason !== null) deny(reason);
        clearTimeout(watchdog);
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    };
    if (delay > 0) setTimeout(finish, delay);
    else finish();
  } catch (err) {
    fail(err);
  }
}
