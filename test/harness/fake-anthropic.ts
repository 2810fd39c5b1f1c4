/**
 * A scripted, loopback fake of the Anthropic Messages API, good enough for the real `claude` CLI.
 *
 * The server is stateless: the step to play is the number of assistant turns already present in
 * the request's history, so a retried or resumed request replays the same step. Only requests that
 * list a tool named `Bash` are the main agent; other ("side") requests — titles, summaries, quota
 * probes — get a short plain text answer and are not recorded in `requests`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface ToolUse {
  name: string;
  input: Record<string, unknown>;
}

export interface Turn {
  /** Assistant text; with no toolUses the turn ends the session (`end_turn`). */
  text?: string;
  toolUses?: ToolUse[];
  /** Answer with this HTTP error instead of a message. */
  error?: { status: number; type?: string; message?: string };
  /** Wait this long before answering (a hanging model). */
  hangMs?: number;
  usage?: { input_tokens: number; output_tokens: number };
}

export interface ToolResult {
  toolUseId: string;
  isError: boolean;
  text: string;
}

export interface TurnContext {
  /** Number of assistant turns already in the request (0 for the first call). */
  step: number;
  request: RecordedRequest;
  /** tool_result blocks of the last user message of this request. */
  toolResults: ToolResult[];
}

export type Script = Turn[] | ((ctx: TurnContext) => Turn);

export interface RecordedRequest {
  model?: string;
  system?: unknown;
  tools?: { name: string }[];
  messages: { role: string; content: unknown }[];
  stream?: boolean;
  [key: string]: unknown;
}

export interface FakeAnthropic {
  /** API root as ANTHROPIC_BASE_URL takes it (no `/v1`). */
  url: string;
  /** Parsed bodies of main-agent requests, in arrival order. */
  requests: RecordedRequest[];
  /** Number of side requests (no Bash tool) answered. */
  sideRequests: number;
  /** The `x-api-key` of every request that reached the fake, in arrival order. */
  apiKeys: string[];
  /** The tool_result blocks the model received, in order, once each. */
  toolResults(): ToolResult[];
  close(): Promise<void>;
}

const DEFAULT_USAGE = { input_tokens: 120, output_tokens: 30 };

/** Turn once the script has no step left: a harmless text answer that ends the session. */
const EXHAUSTED: Turn = { text: "SCRIPT_EXHAUSTED" };

export interface FakeAnthropicOptions {
  /** How a side request (no Bash tool) is answered; default a short "OK". */
  side?: (body: RecordedRequest) => Turn | undefined;
}

export async function startFakeAnthropic(
  script: Script,
  options: FakeAnthropicOptions = {},
): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const apiKeys: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let sideRequests = 0;
  let counter = 0;

  const server = http.createServer((req, res) => {
    apiKeys.push(String(req.headers["x-api-key"] ?? ""));
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (req.method === "HEAD" || req.method === "GET") {
        res.writeHead(200).end();
        return;
      }
      if (req.method === "POST" && url.pathname === "/v1/messages/count_tokens") {
        json(res, 200, { input_tokens: 100 });
        return;
      }
      if (req.method !== "POST" || url.pathname !== "/v1/messages") {
        json(res, 404, errorBody("not_found_error", `no route ${req.method} ${url.pathname}`));
        return;
      }
      let body: RecordedRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as RecordedRequest;
      } catch {
        json(res, 400, errorBody("invalid_request_error", "body is not JSON"));
        return;
      }
      const isMain = Array.isArray(body.tools) && body.tools.some((t) => t?.name === "Bash");
      if (!isMain) {
        sideRequests++;
        const side = options.side?.(body) ?? { text: "OK" };
        const answer = () => respondTurn(res, body, side, `side_${++counter}`);
        if (side.hangMs) timers.add(setTimeout(answer, side.hangMs));
        else answer();
        return;
      }
      requests.push(body);
      const step = body.messages.filter((m) => m.role === "assistant").length;
      const ctx: TurnContext = { step, request: body, toolResults: lastUserToolResults(body) };
      let turn: Turn;
      try {
        turn = typeof script === "function" ? script(ctx) : (script[step] ?? EXHAUSTED);
      } catch (err) {
        json(res, 500, errorBody("api_error", `fake script threw: ${String(err)}`));
        return;
      }
      const send = (): void => {
        if (turn.error) {
          const { status, type, message } = turn.error;
          json(res, status, errorBody(type ?? defaultErrorType(status), message ?? `fake error ${status}`));
        } else {
          respondTurn(res, body, turn, `s${step}_${++counter}`);
        }
      };
      if (turn.hangMs && turn.hangMs > 0) {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) send();
        }, turn.hangMs);
        timers.add(t);
      } else {
        send();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    apiKeys,
    get sideRequests() {
      return sideRequests;
    },
    toolResults() {
      // Each request repeats the whole history; collect across all of them, once per tool_use_id.
      const seen = new Set<string>();
      const out: ToolResult[] = [];
      for (const r of requests) {
        for (const m of r.messages) {
          if (m.role !== "user") continue;
          for (const tr of toolResultsOf(m.content)) {
            if (seen.has(tr.toolUseId)) continue;
            seen.add(tr.toolUseId);
            out.push(tr);
          }
        }
      }
      return out;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Tool results of the last *user* message: with `--max-budget-usd` Claude Code appends a
 * `system`-ish message after the tool results, so "the last message" is not the right one.
 */
function lastUserToolResults(body: RecordedRequest): ToolResult[] {
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const m = body.messages[i];
    if (m?.role === "user") return toolResultsOf(m.content);
  }
  return [];
}

function toolResultsOf(content: unknown): ToolResult[] {
  if (!Array.isArray(content)) return [];
  const out: ToolResult[] = [];
  for (const block of content as Record<string, unknown>[]) {
    if (block?.type !== "tool_result") continue;
    out.push({
      toolUseId: String(block.tool_use_id ?? ""),
      isError: block.is_error === true,
      text: blockText(block.content),
    });
  }
  return out;
}

function blockText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return (content as Record<string, unknown>[])
    .filter((b) => b?.type === "text" && typeof b.text === "string")
    .map((b) => b.text as string)
    .join("\n");
}

function defaultErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

function errorBody(type: string, message: string): unknown {
  return { type: "error", error: { type, message } };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

function blocksOf(turn: Turn, idBase: string): Block[] {
  const blocks: Block[] = [];
  if (turn.text !== undefined) blocks.push({ type: "text", text: turn.text });
  (turn.toolUses ?? []).forEach((t, i) => {
    blocks.push({ type: "tool_use", id: `toolu_${idBase}_${i}`, name: t.name, input: t.input });
  });
  if (blocks.length === 0) blocks.push({ type: "text", text: "" });
  return blocks;
}

function respondTurn(res: http.ServerResponse, body: RecordedRequest, turn: Turn, idBase: string): void {
  const usage = turn.usage ?? DEFAULT_USAGE;
  const blocks = blocksOf(turn, idBase);
  const stopReason = blocks.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn";
  const model = typeof body.model === "string" ? body.model : "claude-fake";
  const id = `msg_${idBase}`;

  if (body.stream === false) {
    json(res, 200, {
      id,
      type: "message",
      role: "assistant",
      model,
      content: blocks,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    });
    return;
  }

  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const ev = (event: string, data: unknown): void => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  ev("message_start", {
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.input_tokens, output_tokens: 1 },
    },
  });
  ev("ping", { type: "ping" });
  blocks.forEach((b, index) => {
    if (b.type === "text") {
      ev("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "text", text: "" },
      });
      // Two deltas, so the client's concatenation is exercised.
      for (const piece of halves(b.text)) {
        ev("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: piece },
        });
      }
    } else {
      ev("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: b.id, name: b.name, input: {} },
      });
      for (const piece of halves(JSON.stringify(b.input))) {
        ev("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: piece },
        });
      }
    }
    ev("content_block_stop", { type: "content_block_stop", index });
  });
  ev("message_delta", {
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  ev("message_stop", { type: "message_stop" });
  res.end();
}

function halves(s: string): string[] {
  if (s.length < 2) return [s];
  // Split on a code-point boundary so no surrogate pair is cut in two.
  const cps = Array.from(s);
  const mid = Math.floor(cps.length / 2);
  return [cps.slice(0, mid).join(""), cps.slice(mid).join("")];
}

/** Environment for running the real `claude` CLI against a fake server, isolated from the host. */
export function claudeEnv(opts: {
  baseUrl: string;
  home: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: opts.home,
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_API_KEY: "sk-ant-fake-key-for-tests",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    // Without this a refused connection is retried for minutes.
    CLAUDE_CODE_MAX_RETRIES: "0",
    ...opts.extra,
  };
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Absolute path of the pinned `claude` bin installed in the project's node_modules. */
export function claudeBin(): string {
  return path.join(REPO_ROOT, "node_modules", ".bin", "claude");
}
