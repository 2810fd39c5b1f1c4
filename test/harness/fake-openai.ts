/**
 * A scripted, loopback fake of the OpenAI Responses API, good enough for the real `codex` CLI
 * (verified with @openai/codex 0.169.0).
 *
 * What codex sends (recorded from real requests):
 * - Only `POST {base_url}/responses`, `stream: true`, `Authorization: Bearer <env_key value>`.
 *   No `instructions` field: codex 0.169 sends everything in `input` ("responses-lite"): an
 *   `additional_tools` item (role developer) carrying the tool namespaces, developer messages
 *   (permissions, skills, collaboration mode), a user `<environment_context>` message, then the
 *   user prompt. `tools` is absent. Commands run through a *custom* tool named `exec` whose input
 *   is JavaScript (`text(JSON.stringify(await tools.exec_command({cmd: "git diff"})))`), so a
 *   scripted command is a `custom_tool_call`, and its result comes back as a
 *   `custom_tool_call_output` item in the next request.
 * - `codex exec --output-schema FILE` puts the schema in `text.format`
 *   (`{type:"json_schema", strict:true, name:"codex_output_schema", schema}`) and the final answer
 *   is the raw JSON text; usage from `response.completed` is reported in `turn.completed`.
 * - `codex exec review --base B` sends no `text.format`; its developer message "# Review
 *   guidelines" asks for this JSON (verbatim shape):
 *     { "findings": [ { "title": "<≤ 80 chars, imperative>", "body": "<markdown>",
 *         "confidence_score": <float 0-1>, "priority": <int 0-3, optional>,
 *         "code_location": { "absolute_file_path": "<path>", "line_range": {"start": n, "end": n} } } ],
 *       "overall_correctness": "patch is correct" | "patch is incorrect",
 *       "overall_explanation": "<1-3 sentences>", "overall_confidence_score": <float 0-1> }
 *   with "[P0]".."[P3]" at the start of each title. Codex parses that JSON itself and emits only a
 *   rendering as the agent message: "<overall_explanation>\n\nFull review comments:\n\n- [P1] Title —
 *   /abs/path:1-2\n  body" ("Review comment:" when there is one finding; just the explanation when
 *   there are none). The numeric `priority` is dropped from that text, and `turn.completed` reports
 *   zero usage for the review sub-agent.
 * - `request_max_retries=0` in the provider makes an HTTP error fail the turn at once.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface FunctionCallSpec {
  name: string;
  /** JSON text or an object (serialised for you). */
  arguments: string | Record<string, unknown>;
}

export interface CustomToolCallSpec {
  /** Codex 0.169 runs shell commands through the custom tool `exec` (JavaScript input). */
  name: string;
  input: string;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
}

export interface Turn {
  text?: string;
  functionCalls?: FunctionCallSpec[];
  customToolCalls?: CustomToolCallSpec[];
  /** Answer with this HTTP status and an OpenAI-shaped error body instead of a stream. */
  error?: { status: number; message: string };
  /** Send `response.created`, then stall this long before continuing (or forever when Infinity). */
  hangMs?: number;
  usage?: Usage;
}

export interface TurnContext {
  /** Model turns already in the conversation: 0 for the first request of a session. */
  index: number;
  /** Requests served so far by this server (0-based), across sessions. */
  requestNumber: number;
  body: ResponsesRequest;
  /** Outputs of the tool calls the previous model turn made, in order. */
  toolOutputs: string[];
}

export type Script = Turn[] | ((ctx: TurnContext) => Turn);

/** The parts of a Responses API request body the tests look at; the rest is kept as sent. */
export interface ResponsesRequest {
  model?: string;
  instructions?: string;
  input?: InputItem[];
  text?: { format?: { type?: string; schema?: unknown; name?: string; strict?: boolean } };
  [key: string]: unknown;
}

export interface InputItem {
  type?: string;
  role?: string;
  content?: unknown;
  output?: unknown;
  [key: string]: unknown;
}

export interface FakeOpenAI {
  /** Base URL ending in /v1, as a Codex provider's `base_url` takes it. */
  url: string;
  requests: ResponsesRequest[];
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

const MODEL_ITEM_TYPES = new Set(["function_call", "custom_tool_call", "reasoning"]);

function isModelItem(item: InputItem): boolean {
  return (item.type === "message" && item.role === "assistant") || MODEL_ITEM_TYPES.has(item.type ?? "");
}

/**
 * Counts model turns as runs of consecutive model-produced items, so a turn that answered with text
 * and two tool calls still counts once. Keeps the server stateless: parallel sessions can share it.
 */
export function modelTurnsIn(input: InputItem[]): number {
  let turns = 0;
  let inRun = false;
  for (const item of input) {
    const model = isModelItem(item);
    if (model && !inRun) turns++;
    inRun = model;
  }
  return turns;
}

function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output
      .map((p: { text?: unknown }) => (typeof p?.text === "string" ? p.text : JSON.stringify(p)))
      .join("");
  }
  return JSON.stringify(output);
}

function trailingToolOutputs(input: InputItem[]): string[] {
  const outputs: string[] = [];
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i]!;
    if (item.type === "function_call_output" || item.type === "custom_tool_call_output") {
      outputs.unshift(outputText(item.output));
    } else if (isModelItem(item)) break;
  }
  return outputs;
}

/** Every piece of text the model would see in one request: instructions, messages, tool outputs. */
export function requestText(body: ResponsesRequest): string {
  const parts: string[] = [];
  if (typeof body.instructions === "string") parts.push(body.instructions);
  for (const item of body.input ?? []) {
    if (Array.isArray(item.content)) {
      for (const c of item.content as { text?: unknown }[])
        if (typeof c?.text === "string") parts.push(c.text);
    } else if (typeof item.content === "string") parts.push(item.content);
    if (item.output !== undefined) parts.push(outputText(item.output));
    if (typeof item.arguments === "string") parts.push(item.arguments);
    if (typeof item.input === "string") parts.push(item.input);
  }
  return parts.join("\n");
}

/** The last user prompt of a request (what `codex exec -- PROMPT` sent). */
export function lastUserPrompt(body: ResponsesRequest): string {
  const users = (body.input ?? []).filter((i) => i.type === "message" && i.role === "user");
  const last = users.at(-1);
  if (!last || !Array.isArray(last.content)) return "";
  return (last.content as { text?: unknown }[])
    .map((c) => (typeof c.text === "string" ? c.text : ""))
    .join("");
}

function sse(res: http.ServerResponse, event: Record<string, unknown> & { type: string }): void {
  res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (!Number.isFinite(ms)) {
      signal.addEventListener("abort", () => resolve(), { once: true });
      return;
    }
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
}

async function streamTurn(
  res: http.ServerResponse,
  turn: Turn,
  model: string,
  n: number,
  signal: AbortSignal,
) {
  const id = `resp_${n}`;
  const base = { id, object: "response", created_at: Math.floor(Date.now() / 1000), model, output: [] };
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  sse(res, { type: "response.created", sequence_number: 0, response: { ...base, status: "in_progress" } });
  if (turn.hangMs) {
    await sleep(turn.hangMs, signal);
    if (signal.aborted || res.destroyed) return;
  }
  const output: Record<string, unknown>[] = [];
  let seq = 1;
  const emit = (e: Record<string, unknown> & { type: string }) => sse(res, { ...e, sequence_number: seq++ });

  if (turn.text !== undefined) {
    const itemId = `msg_${n}_${output.length}`;
    const index = output.length;
    const done = {
      type: "message",
      id: itemId,
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: turn.text, annotations: [] }],
    };
    emit({
      type: "response.output_item.added",
      output_index: index,
      item: { ...done, status: "in_progress", content: [] },
    });
    emit({
      type: "response.output_text.delta",
      output_index: index,
      content_index: 0,
      item_id: itemId,
      delta: turn.text,
    });
    emit({ type: "response.output_item.done", output_index: index, item: done });
    output.push(done);
  }
  for (const call of turn.functionCalls ?? []) {
    const index = output.length;
    const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments);
    const done = {
      type: "function_call",
      id: `fc_${n}_${index}`,
      call_id: `call_${n}_${index}`,
      name: call.name,
      arguments: args,
      status: "completed",
    };
    emit({
      type: "response.output_item.added",
      output_index: index,
      item: { ...done, arguments: "", status: "in_progress" },
    });
    emit({ type: "response.output_item.done", output_index: index, item: done });
    output.push(done);
  }
  for (const call of turn.customToolCalls ?? []) {
    const index = output.length;
    const done = {
      type: "custom_tool_call",
      id: `ctc_${n}_${index}`,
      call_id: `call_${n}_${index}`,
      name: call.name,
      input: call.input,
      status: "completed",
    };
    emit({
      type: "response.output_item.added",
      output_index: index,
      item: { ...done, input: "", status: "in_progress" },
    });
    emit({ type: "response.output_item.done", output_index: index, item: done });
    output.push(done);
  }
  const u = turn.usage ?? { input_tokens: 100, output_tokens: 20 };
  const usage = {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_tokens ?? 0 },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
    total_tokens: u.input_tokens + u.output_tokens,
  };
  emit({ type: "response.completed", response: { ...base, status: "completed", output, usage } });
  res.end();
}

export async function startFakeOpenAI(script: Script): Promise<FakeOpenAI> {
  const requests: ResponsesRequest[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const closing = new AbortController();

  const pick = (ctx: TurnContext): Turn => {
    if (typeof script === "function") return script(ctx);
    // Past the end of the script, repeat the last turn rather than crash the CLI mid-test.
    return script[Math.min(ctx.index, script.length - 1)] ?? { text: "" };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const fail = (status: number, message: string) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ error: { message, type: "invalid_request_error", code: null, param: null } }),
        );
      };
      if (req.method !== "POST" || !/\/v1\/responses\/?$/.test((req.url ?? "").split("?")[0]!)) {
        return fail(404, `fake-openai: no route for ${req.method} ${req.url}`);
      }
      let body: ResponsesRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ResponsesRequest;
      } catch {
        return fail(400, "fake-openai: body is not JSON");
      }
      const n = requests.length;
      requests.push(body);
      headers.push(req.headers);
      const input = Array.isArray(body.input) ? body.input : [];
      let turn: Turn;
      try {
        turn = pick({
          index: modelTurnsIn(input),
          requestNumber: n,
          body,
          toolOutputs: trailingToolOutputs(input),
        });
      } catch (err) {
        return fail(500, `fake-openai: script threw: ${String(err)}`);
      }
      if (turn.error) {
        res.writeHead(turn.error.status, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: { message: turn.error.message, type: "server_error", code: null, param: null },
          }),
        );
        return;
      }
      streamTurn(res, turn, body.model ?? "fake-model", n, closing.signal).catch(() => res.destroy());
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Absolute path of the pinned codex CLI installed in this checkout. */
export function codexBin(): string {
  return path.resolve(here, "../../node_modules/.bin/codex");
}

/**
 * A minimal environment for running codex by hand in tests: a private HOME and CODEX_HOME (created),
 * the key under the env var the test provider names, and nothing from the parent but PATH.
 */
export function codexEnv(opts: { home: string; apiKey?: string; keyVar?: string }): NodeJS.ProcessEnv {
  const codexHome = path.join(opts.home, ".codex");
  mkdirSync(codexHome, { recursive: true });
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: opts.home,
    LANG: "C.UTF-8",
    CODEX_HOME: codexHome,
    [opts.keyVar ?? "AEGIS_OPENAI_KEY"]: opts.apiKey ?? "sk-fake-test-key",
  };
}

/** `-c` arguments that point codex at a fake server through a custom provider with no retries. */
export function fakeProviderArgs(url: string, keyVar = "AEGIS_OPENAI_KEY"): string[] {
  return [
    "-c",
    "model_provider=aegis",
    "-c",
    `model_providers.aegis={name="aegis",base_url="${url}",env_key="${keyVar}",wire_api="responses",request_max_retries=0,stream_max_retries=0}`,
  ];
}

export interface ScriptedFinding {
  /** Without a [Pn] tag one is added from `priority`, as Codex's review prompt asks. */
  title: string;
  priority: 0 | 1 | 2 | 3;
  /** Absolute, as a real model answers with the sandbox's cwd; the parser relativises it. */
  file: string;
  line: number;
  body?: string;
}

/** A model answer in the structured review format (see REVIEW_OUTPUT_SCHEMA in src/core/findings.ts). */
export function structuredReviewAnswer(findings: ScriptedFinding[], explanation?: string): string {
  const incorrect = findings.some((f) => f.priority <= 1);
  return JSON.stringify({
    findings: findings.map((f) => ({
      title: /^\[P[0-3]\]/.test(f.title) ? f.title : `[P${f.priority}] ${f.title}`,
      body: f.body ?? "Explained in one paragraph.",
      confidence_score: 0.8,
      priority: f.priority,
      code_location: { absolute_file_path: f.file, line_range: { start: f.line, end: f.line } },
    })),
    overall_correctness: incorrect ? "patch is incorrect" : "patch is correct",
    overall_explanation: explanation ?? (findings.length ? "See the findings." : "No issues found."),
    overall_confidence_score: 0.7,
  });
}
