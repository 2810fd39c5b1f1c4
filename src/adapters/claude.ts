/**
 * Runs one headless Claude Code session and reports what it did.
 *
 * The CLI runs detached in its own process group with stdin at /dev/null, a tagged environment
 * (see room/reaper.ts) and a wall-clock timeout; its stream-json output is read line by line so
 * the workflow log shows progress as it happens. Everything the session started is killed when it
 * ends, normally or not: a background process left running could otherwise change the workspace
 * after the pre-push checks.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import * as core from "@actions/core";
import { ClaudeStream, oneLine, type StreamNote } from "../core/claude-stream.js";
import type { SessionResult } from "../core/session-result.js";
import { killSessionTree, SESSION_TAG_VAR } from "../room/reaper.js";
import type { Launcher } from "../room/launcher.js";

export type { ResultEvent, SessionResult, PermissionDenial } from "../core/session-result.js";

export interface ClaudeSessionOptions {
  executable: string;
  /** Arguments ahead of the CLI's own (a script run by a staged node). */
  executableArgs?: string[];
  /** Runs the CLI inside the agent's room (as its user); default: as the action. */
  launch?: Launcher;
  /**
   * Kills everything the session started (the room's reaper); default: the CLI's process group
   * and every process carrying the session's tag.
   */
  stop?: () => Promise<number>;
  cwd: string;
  prompt: string;
  appendSystemPrompt?: string;
  maxTurns: number;
  model?: string;
  maxBudgetUsd?: number;
  resumeSessionId?: string;
  /** Claude Code settings file holding the hooks (hooks/settings.json). */
  settingsPath: string;
  /** Exported to the session as AEGIS_HOOKS_DIR, where the hook commands find their scripts. */
  hooksDir: string;
  /** The complete environment of the agent, already scrubbed by the caller (sanitizeAgentEnv). */
  env: Record<string, string>;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL when the session is stopped. Default 5 s. */
  killGraceMs?: number;
  /** Every raw stdout line, as it arrives. */
  onEvent?: (line: string) => void;
}

/**
 * Tools the agent may use without a prompt. `-p` mode has no one to answer a prompt, so anything
 * not listed here (and not covered by acceptEdits) is refused.
 */
export const ALLOWED_TOOLS = [
  "Bash",
  "Read",
  "Edit",
  "Write",
  "MultiEdit",
  "NotebookEdit",
  "Glob",
  "Grep",
  "LS",
  "TodoWrite",
];

/**
 * Refused outright. `git push` is also blocked by the Bash hook; the permission rule is a second,
 * independent layer (Claude Code applies deny rules to each part of a chained command). Bare tool
 * names remove the tool from the model's context: nobody can answer a question, web access is an
 * exfiltration path for injected instructions, and worktrees or schedules would leave the workspace
 * or outlive the session.
 */
export const DISALLOWED_TOOLS = [
  "Bash(git push:*)",
  "AskUserQuestion",
  "WebFetch",
  "WebSearch",
  "EnterWorktree",
  "CronCreate",
  "ScheduleWakeup",
];

/** Defaults that keep the CLI quiet and pinned; the caller's env wins where it sets them. */
const QUIET_ENV: Record<string, string> = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
  DISABLE_ERROR_REPORTING: "1",
};

/** Linux refuses a single argv string over 128 KiB; the brief caps the issue text well below. */
const MAX_PROMPT_BYTES = 120 * 1024;
const STDERR_TAIL_BYTES = 4096;

export function buildClaudeArgs(opts: ClaudeSessionOptions): string[] {
  if (!Number.isInteger(opts.maxTurns) || opts.maxTurns < 1) {
    throw new Error(`maxTurns must be a positive integer, got ${opts.maxTurns}`);
  }
  if (Buffer.byteLength(opts.prompt) > MAX_PROMPT_BYTES) {
    throw new Error(
      `the brief is ${Buffer.byteLength(opts.prompt)} bytes; at most ${MAX_PROMPT_BYTES} fit on a command line`,
    );
  }
  const args = [
    "-p",
    opts.prompt,
    "--output-format",
    "stream-json",
    "--verbose",
    "--max-turns",
    String(opts.maxTurns),
    "--settings",
    opts.settingsPath,
    "--permission-mode",
    "acceptEdits",
    // `--opt=value` keeps these variadic options from swallowing the next argument.
    `--allowedTools=${ALLOWED_TOOLS.join(",")}`,
    `--disallowedTools=${DISALLOWED_TOOLS.join(",")}`,
    // MCP servers from the repository would start with the agent's environment: none are needed.
    "--strict-mcp-config",
    // No settings file but aegis's own (--settings): the branch's .claude/settings.json and
    // settings.local.json, and a ~/.claude/settings.json the agent wrote in its HOME, could
    // otherwise move the CLI off the model proxy (`env`), add hooks that run before ours
    // (SessionStart) or widen permissions — in this session or the next attempt's.
    "--setting-sources",
    "",
  ];
  if (opts.model) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:@/[\]-]*$/.test(opts.model)) {
      throw new Error(`model name has an unexpected form: ${oneLine(opts.model, 80)}`);
    }
    args.push("--model", opts.model);
  }
  if (opts.maxBudgetUsd !== undefined && opts.maxBudgetUsd > 0)
    args.push("--max-budget-usd", String(opts.maxBudgetUsd));
  if (opts.resumeSessionId) {
    if (!/^[0-9a-f-]{8,64}$/i.test(opts.resumeSessionId)) {
      throw new Error(`resume session id has an unexpected form: ${oneLine(opts.resumeSessionId, 80)}`);
    }
    args.push("--resume", opts.resumeSessionId);
  }
  if (opts.appendSystemPrompt) args.push("--append-system-prompt", opts.appendSystemPrompt);
  assertNoBare(args);
  return args;
}

/** `--bare` skips hooks, which are part of the safety contract: refuse to ever pass it. */
export function assertNoBare(args: readonly string[]): void {
  if (args.some((a) => a === "--bare" || a.startsWith("--bare="))) {
    throw new Error("refusing to start Claude Code with --bare: it skips the safety hooks");
  }
}

function logNote(note: StreamNote): void {
  switch (note.kind) {
    case "init":
      core.info(
        `Claude Code session ${oneLine(note.init.session_id ?? "?", 80)} (model ${oneLine(note.init.model ?? "?", 80)}, ${note.init.tools.length} tools)`,
      );
      break;
    case "tool":
      core.info(`→ ${oneLine(note.name, 80)}${note.summary ? `: ${note.summary}` : ""}`);
      break;
    case "denied":
      core.info(`✗ denied ${oneLine(note.tool, 80)}: ${note.message}`);
      break;
    case "text":
      core.debug(`assistant: ${oneLine(note.text, 300)}`);
      break;
    case "result":
      core.info(
        `Session ended: ${oneLine(note.result.subtype, 80)}${note.result.is_error ? " (error)" : ""}, ${note.result.num_turns} turns, $${(note.result.total_cost_usd ?? 0).toFixed(4)}`,
      );
      break;
    case "garbage":
      core.debug(`unparsed output: ${note.line}`);
      break;
    default:
      break;
  }
}

export async function runClaudeSession(opts: ClaudeSessionOptions): Promise<SessionResult> {
  const args = buildClaudeArgs(opts);
  const tag = randomUUID();
  const graceMs = opts.killGraceMs ?? 5000;
  const env: Record<string, string> = {
    ...QUIET_ENV,
    ...opts.env,
    AEGIS_HOOKS_DIR: opts.hooksDir,
    AEGIS_WORKSPACE: opts.env.AEGIS_WORKSPACE ?? opts.cwd,
    [SESSION_TAG_VAR]: tag,
  };
  const started = Date.now();
  const stream = new ClaudeStream();
  let stderrTail = "";
  let timedOut = false;

  const plain = { file: opts.executable, args: [...(opts.executableArgs ?? []), ...args], env };
  const cmd = opts.launch ? opts.launch(plain.file, plain.args, plain.env) : plain;
  const child = spawn(cmd.file, cmd.args, {
    cwd: opts.cwd,
    env: cmd.env,
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group (setsid): the timeout can signal the CLI and its plain children at once.
    detached: true,
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (err) =>
      reject(new Error(`could not start Claude Code at ${opts.executable}: ${err.message}`, { cause: err })),
    );
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await spawned;
  const pgid = child.pid as number;
  const stop = opts.stop ?? (() => killSessionTree({ pgid, tag, graceMs }));

  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on("line", (line) => {
    try {
      opts.onEvent?.(line);
    } catch (err) {
      core.debug(`onEvent handler threw: ${String(err)}`);
    }
    for (const note of stream.feed(line)) logNote(note);
  });
  const stdoutDone = new Promise<void>((resolve) => lines.once("close", () => resolve()));
  child.stderr.on("data", (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
  });

  const timer = setTimeout(() => {
    timedOut = true;
    core.warning(`Claude Code session exceeded ${Math.round(opts.timeoutMs / 1000)} s; stopping it`);
    void stop().catch((error: Error) => core.warning(`Stopping the session: ${error.message}`));
  }, opts.timeoutMs);

  const exitCode = await exited;
  clearTimeout(timer);
  // Whatever the session left running (background jobs, daemons) goes now, before any git check.
  const leftovers = await stop();
  if (leftovers > 0) core.info(`Stopped ${leftovers} process(es) the session left running`);
  // Output already written is still in the pipe: give the reader a moment to drain it.
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([stdoutDone, new Promise((r) => (drainTimer = setTimeout(r, 2000)))]);
  // A pending timer would keep the whole action alive for the rest of its two seconds.
  clearTimeout(drainTimer);
  lines.close();
  child.stdout.destroy();
  child.stderr.destroy();

  const result = stream.result;
  if (!result)
    core.warning(
      `Claude Code exited with code ${exitCode} without a result${timedOut ? " (timed out)" : ""}`,
    );
  return {
    exitCode,
    timedOut,
    ...(result ? { result } : {}),
    ...(stream.init ? { init: stream.init } : {}),
    ...(stream.sessionId ? { sessionId: stream.sessionId } : {}),
    toolCalls: stream.toolCalls,
    calls: stream.calls,
    permissionDenials: stream.permissionDenials,
    costUsd: stream.costUsd,
    stderrTail,
    durationMs: Date.now() - started,
  };
}
