/**
 * The Codex runner: one read-only `codex exec` session that reviews a PR checkout.
 *
 * Why `codex exec --output-schema` with our own prompt, not `codex exec review --base`
 * (both tried against the fake with @openai/codex 0.169.0):
 * - `exec review` asks the model for JSON (findings with priority, confidence_score, code_location)
 *   but then renders it to text itself: the numeric priority is dropped unless the model also put a
 *   "[Pn]" tag in the title, a clean review collapses to the bare overall explanation (the verdict
 *   is lost), and `turn.completed` reports zero token usage, so cost cannot be tracked.
 * - `exec --output-schema` sends the schema as `text.format` (strict structured outputs, so a real
 *   model cannot drift from it), the last message is that JSON verbatim, and usage is reported.
 *   We reuse the field names `exec review` trains the model on (see REVIEW_OUTPUT_SCHEMA).
 * - We compute the diff ourselves and put it in the prompt (capped), so the review works even where
 *   the sandbox cannot run commands; the model may still run `git diff` read-only for context.
 *
 * Provider: always a custom provider named `aegis` with `wire_api="responses"` and the key in
 * AEGIS_OPENAI_KEY. Without `openai-base-url` it points at https://api.openai.com/v1, so one code
 * path serves the real API, a proxy and the test fake, and the key never needs OPENAI_API_KEY or
 * an auth.json in CODEX_HOME.
 *
 * Credentials: codex gets an environment built from an allow list (never GITHUB_TOKEN, INPUT_*,
 * ACTIONS_*), and `shell_environment_policy` keeps even the model key out of the commands the model
 * runs (verified: without it, `env` run by the model prints every variable codex has).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { REVIEW_OUTPUT_SCHEMA, type TokenUsage } from "../core/findings.js";
import { renderInstructions, selectInstructions } from "../core/instructions.js";
import { buildCodexArgs, buildCodexEnv, buildReviewPrompt, capDiff } from "../core/review-prompt.js";
import { runGit } from "./git.js";
import { readInstructions } from "./repo-instructions.js";
import type { Launcher } from "../room/launcher.js";
import { readRoomFile } from "../room/room-file.js";

export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";
const KILL_GRACE_MS = 2_000;

export interface CodexEvent {
  type: string;
  [key: string]: unknown;
}

export interface CodexReviewOptions {
  /** Path of the codex CLI. */
  executable: string;
  /** A checkout of the PR head with the base branch fetched. */
  cwd: string;
  /** Base branch name (`main`), or any ref; `origin/<baseRef>` is tried when the name alone fails. */
  baseRef: string;
  /** Head to review; defaults to HEAD. */
  headRef?: string;
  model?: string;
  /** The `openai-base-url` input, ending in /v1. Defaults to the public OpenAI API. */
  baseUrl?: string;
  apiKey: string;
  timeoutMs: number;
  codexHome: string;
  /** Extra review guidance appended to the built-in instructions. */
  prompt?: string;
  /** Request/stream retries inside codex (0 = fail at the first HTTP error). */
  maxRetries?: number;
  /** Every JSONL event as it arrives, for live progress. */
  onEvent?: (event: CodexEvent) => void;
  /** Arguments ahead of codex's own (its npm script, run by a staged node). */
  executableArgs?: string[];
  /**
   * Runs codex inside the agent's room: the diff is still computed here, in `cwd`, but codex runs
   * as the room's user in the room's copy of the checkout.
   */
  room?: CodexRoom;
}

export interface CodexRoom {
  launch: Launcher;
  /** Kills every process of the room. */
  stop: () => Promise<number>;
  /** The room's copy of the checkout, where codex runs. */
  cwd: string;
  /** A folder the room reads and cannot write (the output schema goes there, before codex runs). */
  readOnlyDir: string;
  /** A folder the room writes (codex's last message), and how the action takes it back. */
  outDir: string;
  takeBack: () => Promise<void>;
}

export interface CodexRunResult {
  ok: boolean;
  exitCode: number | null;
  timedOut: boolean;
  /** The final answer (the JSON the schema asks for, when the model complied). */
  lastMessage: string;
  agentMessages: string[];
  usage?: TokenUsage;
  error?: string;
  durationMs: number;
  /** The checkout root, so `parseFindings(result)` can show paths relative to it. */
  root: string;
  /** The commit the diff was taken against. */
  mergeBase?: string;
  diffTruncated?: boolean;
}

/**
 * git on the PR's checkout, which holds the agent's tree: the same hardened git as every other
 * call on agent content (no hooks, no user or system config, a scrubbed environment), and no
 * attributes file of anyone's — the tree's own `.gitattributes` can still name a diff driver, but
 * the diffs below ignore every driver and conversion (`--text --no-textconv --no-ext-diff`), so a
 * committed `* -diff` cannot turn the reviewed change into "Binary files differ".
 */
function git(cwd: string, args: string[]): Promise<string> {
  return runGit(cwd, args, `git ${args[0] ?? ""}`, {
    extra: ["-c", "core.quotepath=off", "-c", "core.attributesFile=/dev/null"],
  });
}

/** What `git diff` must show of the agent's change: its text, whatever its attributes say. */
export const LITERAL_DIFF = ["--text", "--no-textconv", "--no-ext-diff", "--no-color"];

async function resolveCommit(cwd: string, ref: string): Promise<string | undefined> {
  for (const candidate of [ref, `origin/${ref}`, `refs/remotes/origin/${ref}`]) {
    try {
      return (await git(cwd, ["rev-parse", "--verify", "--quiet", `${candidate}^{commit}`])).trim();
    } catch {
      /* try the next spelling */
    }
  }
  return undefined;
}

interface DiffContext {
  base: string;
  mergeBase: string;
  head: string;
  stat: string;
  diff: string;
  truncated: boolean;
  changed: string[];
}

async function diffContext(cwd: string, baseRef: string, headRef: string): Promise<DiffContext | string> {
  const base = await resolveCommit(cwd, baseRef);
  if (!base) return `base branch "${baseRef}" is not in the checkout (fetch it before the review)`;
  const head = await resolveCommit(cwd, headRef);
  if (!head) return `head "${headRef}" is not in the checkout`;
  let mergeBase = base;
  try {
    mergeBase = (await git(cwd, ["merge-base", base, head])).trim();
  } catch {
    // Shallow fetches may lack the merge base: compare the two tips instead.
  }
  const range = [mergeBase, head];
  const stat = await git(cwd, ["diff", ...LITERAL_DIFF, "--stat=120", ...range]);
  const full = await git(cwd, ["diff", ...LITERAL_DIFF, ...range]);
  const { text, truncated } = capDiff(full);
  const changed = (await git(cwd, ["diff", "--name-only", "-z", "--no-renames", ...range]))
    .split("\0")
    .filter(Boolean);
  return { base, mergeBase, head, stat, diff: text, truncated, changed };
}

const STDERR_NOISE = [
  /^Reading additional input from stdin/,
  /^WARNING: proceeding, even though we could not create PATH aliases/,
];

function addUsage(total: TokenUsage | undefined, u: Record<string, unknown>): TokenUsage {
  const n = (k: string) => (typeof u[k] === "number" ? (u[k] as number) : 0);
  const t = total ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 };
  return {
    inputTokens: t.inputTokens + n("input_tokens"),
    cachedInputTokens: t.cachedInputTokens + n("cached_input_tokens"),
    outputTokens: t.outputTokens + n("output_tokens"),
    reasoningOutputTokens: t.reasoningOutputTokens + n("reasoning_output_tokens"),
  };
}

function messageOf(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { message?: unknown }).message === "string")
    return (v as { message: string }).message;
  return undefined;
}

/** Runs one review. Resolves with ok:false for every Codex, git or network failure; never rejects for them. */
export async function runCodexReview(opts: CodexReviewOptions): Promise<CodexRunResult> {
  if (!opts.executable || !opts.cwd || !opts.codexHome || !(opts.timeoutMs > 0)) {
    throw new Error("runCodexReview: executable, cwd, codexHome and a positive timeoutMs are required");
  }
  const started = Date.now();
  const root = path.resolve(opts.cwd);
  const failed = (error: string, extra: Partial<CodexRunResult> = {}): CodexRunResult => ({
    ok: false,
    exitCode: null,
    timedOut: false,
    lastMessage: "",
    agentMessages: [],
    error,
    durationMs: Date.now() - started,
    root,
    ...extra,
  });

  const baseUrl = opts.baseUrl?.trim() || DEFAULT_OPENAI_BASE_URL;
  if (!/^https?:\/\/[^\s"\\]+$/.test(baseUrl))
    return failed(`openai-base-url is not an http(s) URL: ${baseUrl}`);
  if (!opts.apiKey) return failed("no OpenAI API key (set the openai-api-key input)");

  let ctx: DiffContext | string;
  try {
    ctx = await diffContext(root, opts.baseRef, opts.headRef ?? "HEAD");
  } catch (err) {
    return failed(`could not compute the diff: ${(err as Error).message}`);
  }
  if (typeof ctx === "string") return failed(ctx);
  const diffInfo = { mergeBase: ctx.mergeBase, diffTruncated: ctx.truncated };
  // The base branch's instructions, never the PR head's: the agent must not instruct its reviewer.
  let instructions = "";
  try {
    const chosen = selectInstructions(await readInstructions(root, ctx.base), ctx.changed);
    instructions = renderInstructions(chosen, opts.baseRef, "reviewer");
  } catch {
    // Unreadable: the review runs on its own prompt alone.
  }

  if (!opts.room) await mkdir(opts.codexHome, { recursive: true });
  const work = await mkdtemp(path.join(os.tmpdir(), "aegis-codex-"));
  try {
    const schemaFile = path.join(opts.room?.readOnlyDir ?? work, "schema.json");
    const lastMessageFile = path.join(opts.room?.outDir ?? work, "last-message.txt");
    await writeFile(schemaFile, JSON.stringify(REVIEW_OUTPUT_SCHEMA));
    const prompt = buildReviewPrompt({
      baseRef: opts.baseRef,
      mergeBase: ctx.mergeBase,
      headRef: ctx.head,
      stat: ctx.stat,
      diff: ctx.diff,
      truncated: ctx.truncated,
      ...(opts.prompt ? { extra: opts.prompt } : {}),
      ...(instructions ? { instructions } : {}),
    });
    const args = buildCodexArgs({
      baseUrl,
      ...(opts.model ? { model: opts.model } : {}),
      maxRetries: opts.maxRetries ?? 0,
      schemaFile,
      lastMessageFile,
      prompt,
    });
    const env = buildCodexEnv(process.env, { apiKey: opts.apiKey, codexHome: opts.codexHome });
    if (opts.room) {
      // In the room: its own HOME, and the model reached through the action's loopback proxy.
      env.HOME = path.dirname(opts.codexHome);
      env.TMPDIR = opts.room.outDir;
      for (const name of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]) delete env[name];
    }
    const plain = { file: opts.executable, args: [...(opts.executableArgs ?? []), ...args], env };
    const cmd = opts.room ? opts.room.launch(plain.file, plain.args, plain.env) : plain;
    const run = await spawnCodex(
      cmd.file,
      cmd.args,
      opts.room?.cwd ?? root,
      cmd.env,
      opts.timeoutMs,
      opts.onEvent,
      opts.room?.stop,
    );
    if (opts.room) {
      await opts.room.stop();
      await opts.room.takeBack();
    }
    let lastMessage = "";
    try {
      // Written by codex as the room's user: read only a regular file, never through a link.
      lastMessage = (
        opts.room ? await readRoomFile(lastMessageFile) : await readFile(lastMessageFile, "utf8")
      ).trim();
    } catch {
      // codex writes the file only when the turn produced a final message.
    }
    if (!lastMessage) lastMessage = run.agentMessages.at(-1)?.trim() ?? "";
    const ok = !run.timedOut && run.exitCode === 0 && !run.turnFailed;
    let error: string | undefined;
    if (run.timedOut) error = `codex timed out after ${Math.round(opts.timeoutMs / 1000)} s and was stopped`;
    else if (run.spawnError) error = `could not start codex (${opts.executable}): ${run.spawnError}`;
    else if (!ok) error = run.errors.at(-1) ?? (run.stderr || `codex exited with code ${run.exitCode}`);
    return {
      ok,
      exitCode: run.exitCode,
      timedOut: run.timedOut,
      lastMessage,
      agentMessages: run.agentMessages,
      ...(run.usage ? { usage: run.usage } : {}),
      ...(error ? { error } : {}),
      durationMs: Date.now() - started,
      root,
      ...diffInfo,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface SpawnOutcome {
  exitCode: number | null;
  timedOut: boolean;
  turnFailed: boolean;
  agentMessages: string[];
  errors: string[];
  usage?: TokenUsage;
  stderr: string;
  spawnError?: string;
}

function spawnCodex(
  executable: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
  onEvent?: (e: CodexEvent) => void,
  stop?: () => Promise<number>,
): Promise<SpawnOutcome> {
  return new Promise((resolve, reject) => {
    const out: SpawnOutcome = {
      exitCode: null,
      timedOut: false,
      turnFailed: false,
      agentMessages: [],
      errors: [],
      stderr: "",
    };
    let callbackError: unknown;
    // detached: its own process group, so a timeout can stop codex and every command it started.
    const child = spawn(executable, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        /* already gone */
      }
    };
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      out.timedOut = true;
      void stop?.().catch(() => undefined);
      killGroup("SIGTERM");
      grace = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
    }, timeoutMs);

    createInterface({ input: child.stdout }).on("line", (line) => {
      let event: CodexEvent;
      try {
        event = JSON.parse(line) as CodexEvent;
      } catch {
        return; // not an event line
      }
      if (!event || typeof event.type !== "string") return;
      handleEvent(out, event);
      if (onEvent && callbackError === undefined) {
        try {
          onEvent(event);
        } catch (err) {
          callbackError = err;
        }
      }
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-8192);
    });
    child.on("error", (err) => {
      out.spawnError = err.message;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      // Whatever codex left behind in its group goes too.
      killGroup("SIGKILL");
      out.exitCode = code;
      out.stderr = stderr
        .split("\n")
        .filter((l) => l.trim() && !STDERR_NOISE.some((re) => re.test(l)))
        .join("\n")
        .slice(-1000);
      if (callbackError !== undefined)
        reject(new Error("runCodexReview: the onEvent callback threw", { cause: callbackError }));
      else resolve(out);
    });
  });
}

function handleEvent(out: SpawnOutcome, event: CodexEvent): void {
  switch (event.type) {
    case "item.completed": {
      const item = event.item as { type?: string; text?: unknown; message?: unknown } | undefined;
      if (item?.type === "agent_message" && typeof item.text === "string") out.agentMessages.push(item.text);
      else if (item?.type === "error") {
        const m = messageOf(item.message) ?? messageOf(item);
        if (m) out.errors.push(m);
      }
      break;
    }
    case "turn.completed":
      if (event.usage && typeof event.usage === "object")
        out.usage = addUsage(out.usage, event.usage as Record<string, unknown>);
      break;
    case "turn.failed":
      out.turnFailed = true;
      out.errors.push(messageOf(event.error) ?? "the turn failed");
      break;
    case "error": {
      const m = messageOf(event.message) ?? messageOf(event.error);
      if (m) out.errors.push(m);
      break;
    }
  }
}
