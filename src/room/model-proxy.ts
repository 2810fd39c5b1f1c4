/**
 * The model key stays with the action: a loopback HTTP proxy that the room's CLI (Claude Code,
 * Codex) calls with a placeholder key, and that forwards each request to the real endpoint with
 * the real key, streaming the reply (SSE) through as it arrives.
 *
 * The placeholder is a random value per proxy, so the proxy serves only the room it was made
 * for (another local user who finds the port gets 401). It is not a credential of anyone's: it
 * opens nothing but this proxy, which lives only as long as the step.
 *
 * The real key opens much more than a model: the provider's files, batches, fine-tunes, vector
 * stores — an organisation's data. The proxy forwards only the calls a CLI session makes (the
 * model call, token counting, the model list), matched on the exact path as sent; anything else
 * is refused without reaching upstream. A call's body is read whole and checked before it goes
 * (core/model-request.ts): nothing in it may make the provider fetch a URL, reach an MCP server
 * or read the organisation's stored data for the room. The organisation and project headers are
 * dropped, so the key's own defaults apply.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { refusedRequest, withoutOpenPageSearch } from "../core/model-request.js";
import { costOf, NO_USAGE, priceOf, ReplyUsage, type Usage, worstCaseUsd } from "../core/model-usage.js";

export interface ModelProxyOptions {
  /** The upstream API root: `anthropic-base-url` (no /v1) or `openai-base-url` (ends in /v1). */
  upstream: string;
  /** The real key. */
  apiKey: string;
  /** How the CLI presents its key, and how the upstream wants it. */
  scheme: "anthropic" | "openai";
  /**
   * A path prefix the CLI adds that the upstream root already holds: Codex is given
   * `http://127.0.0.1:P/v1` as its base_url, so `/v1/responses` maps to `<openai-base-url>/responses`.
   */
  stripPrefix?: string;
  /**
   * The spend this proxy may forward (anthropic's model calls): the proxy counts each reply's
   * usage itself, refuses a call once `limitUsd` is spent (0 = no limit), and refuses a model
   * dearer than `model` (the task's; unset: the first model the CLI asks for, before any tool of
   * the agent's has run).
   */
  meter?: { limitUsd: number; model?: string };
}

/** What the proxy counted: the action's own figures, whatever the CLI reports. */
export interface ProxySpend {
  costUsd: number;
  calls: number;
  byModel: Record<string, Usage>;
  /** Model calls refused because the budget was spent (or a call in flight could spend it). */
  refusedBudget: number;
  /** Model calls refused for asking a dearer model than the task's. */
  refusedModel: number;
  /** Upstream answers that say the provider failed (401, 403, 429, 5xx) or could not be reached. */
  upstreamFailures: number;
  /** Models priced at the dearest rate because aegis does not know them. */
  unpriced: string[];
}

export interface ModelProxy {
  /** The root the CLI is given (`http://127.0.0.1:PORT`, plus the stripped prefix if any). */
  url: string;
  /** The key the CLI is given. */
  placeholderKey: string;
  /** Requests forwarded, and refused (a wrong key, or a call outside the CLI's routes). */
  stats(): { forwarded: number; refused: number; failed: number };
  spend(): ProxySpend;
  close(): Promise<void>;
}

/** Request headers that describe one hop, or carry the room's key: never forwarded. */
const DROP = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "x-api-key",
  "authorization",
  // Set again from the checked body.
  "content-length",
  // Another organisation or project the key may also open.
  "openai-organization",
  "openai-project",
  "anthropic-organization",
]);

/** A model call's body larger than this is refused (a long session's context is a few MB). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The calls the room's CLIs make, per scheme (for openai: after the stripped prefix). */
const ROUTES: Record<ModelProxyOptions["scheme"], readonly string[]> = {
  anthropic: ["POST /v1/messages", "POST /v1/messages/count_tokens", "GET /v1/models"],
  openai: ["POST /responses", "GET /models"],
};
/** A query string of plain parameters (`?beta=true`, `?client_version=0.58.0`). */
const PLAIN_QUERY = /^(\?[A-Za-z0-9_.~=&%-]*)?$/;

/** The path and query to forward, or undefined when the call is not one a CLI session makes. */
export function allowedCall(
  scheme: ModelProxyOptions["scheme"],
  method: string | undefined,
  rawUrl: string,
  stripPrefix?: string,
): string | undefined {
  const q = rawUrl.indexOf("?");
  let pathPart = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? "" : rawUrl.slice(q);
  if (stripPrefix && (pathPart === stripPrefix || pathPart.startsWith(`${stripPrefix}/`)))
    pathPart = pathPart.slice(stripPrefix.length) || "/";
  if (!PLAIN_QUERY.test(query)) return undefined;
  // Exact, as sent: no dot segments, doubled slashes or escapes can reach another path upstream.
  return ROUTES[scheme].includes(`${method ?? ""} ${pathPart}`) ? `${pathPart}${query}` : undefined;
}

function presentedKey(req: http.IncomingMessage, scheme: ModelProxyOptions["scheme"]): string {
  const header = scheme === "anthropic" ? req.headers["x-api-key"] : undefined;
  if (typeof header === "string" && header) return header;
  const auth = req.headers.authorization;
  return typeof auth === "string" ? auth.replace(/^Bearer\s+/i, "") : "";
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startModelProxy(opts: ModelProxyOptions): Promise<ModelProxy> {
  const upstream = new URL(opts.upstream);
  if (upstream.protocol !== "https:" && upstream.protocol !== "http:")
    throw new Error(`the model endpoint ${opts.upstream} is not an http(s) URL`);
  const placeholderKey = `aegis-room-${randomBytes(24).toString("hex")}`;
  const basePath = upstream.pathname.replace(/\/+$/, "");
  const counts = { forwarded: 0, refused: 0, failed: 0 };
  const client = upstream.protocol === "https:" ? https : http;
  const meter = opts.scheme === "anthropic" ? opts.meter : undefined;
  const spend: ProxySpend = {
    costUsd: 0,
    calls: 0,
    byModel: {},
    refusedBudget: 0,
    refusedModel: 0,
    upstreamFailures: 0,
    unpriced: [],
  };
  let pinned = meter?.model;
  /** Worst-case cost of the model calls in flight: they may not together pass the limit. */
  let reserved = 0;
  let inFlight = 0;

  /** Why a model call may not go, or undefined; reserves its worst case when it may. */
  const admit = (
    body: Record<string, unknown>,
    bytes: number,
  ): { why?: string; worst: number; model: string } => {
    const model = typeof body.model === "string" ? body.model : "";
    const worst = worstCaseUsd(model, bytes, typeof body.max_tokens === "number" ? body.max_tokens : 128_000);
    if (!meter) return { worst: 0, model };
    pinned ??= model;
    if (priceOf(model).price.outputUsd > priceOf(pinned).price.outputUsd) {
      spend.refusedModel++;
      return {
        why: `the model ${JSON.stringify(model.slice(0, 80))} costs more than the task's (${pinned})`,
        worst,
        model,
      };
    }
    const limit = meter.limitUsd;
    if (limit > 0 && (spend.costUsd >= limit || (inFlight > 0 && spend.costUsd + reserved + worst > limit))) {
      spend.refusedBudget++;
      return {
        why: `the task's budget is spent ($${spend.costUsd.toFixed(4)} of $${limit.toFixed(2)}${inFlight ? `, ${inFlight} call(s) in flight` : ""})`,
        worst,
        model,
      };
    }
    reserved += worst;
    inFlight++;
    return { worst, model };
  };
  const settle = (call: { worst: number; model: string }, reply: { usage: Usage; model?: string }) => {
    reserved = Math.max(0, reserved - call.worst);
    inFlight = Math.max(0, inFlight - 1);
    const model = reply.model ?? call.model;
    if (!priceOf(model).known && !spend.unpriced.includes(model) && spend.unpriced.length < 10)
      spend.unpriced.push(model.slice(0, 80));
    const was = spend.byModel[model] ?? { ...NO_USAGE };
    spend.byModel[model] = {
      input: was.input + reply.usage.input,
      output: was.output + reply.usage.output,
      cacheWrite: was.cacheWrite + reply.usage.cacheWrite,
      cacheRead: was.cacheRead + reply.usage.cacheRead,
    };
    spend.costUsd += costOf(reply.usage, model);
    spend.calls++;
  };

  const refuse = (res: http.ServerResponse, status: number, type: string, message: string) => {
    counts.refused++;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ type: "error", error: { type, message: `aegis proxy: ${message}` } }));
  };

  const server = http.createServer((req, res) => {
    if (!sameKey(presentedKey(req, opts.scheme), placeholderKey)) {
      refuse(res, 401, "authentication_error", "unknown key");
      req.resume();
      return;
    }
    const rest = allowedCall(opts.scheme, req.method, req.url ?? "/", opts.stripPrefix);
    if (rest === undefined) {
      refuse(res, 403, "permission_error", "not a call the agent's CLI makes");
      req.resume();
      return;
    }
    void readBody(req).then(
      (body) => {
        if (body === "too large")
          return refuse(res, 413, "request_too_large", "the request body is too large");
        const encoding = req.headers["content-encoding"];
        if (encoding && encoding !== "identity")
          return refuse(res, 415, "invalid_request_error", `a ${encoding} body cannot be checked`);
        if (req.method === "POST") {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString("utf8"));
          } catch {
            return refuse(res, 400, "invalid_request_error", "the request body is not JSON");
          }
          parsed = withoutOpenPageSearch(opts.scheme, parsed);
          const why = refusedRequest(opts.scheme, parsed);
          if (why) return refuse(res, 403, "permission_error", `${why}, which the agent's room may not`);
          const out = Buffer.from(JSON.stringify(parsed), "utf8");
          const metered = rest.startsWith("/v1/messages?") || rest === "/v1/messages";
          const call = meter && metered ? admit(parsed as Record<string, unknown>, out.length) : undefined;
          if (call?.why) return refuse(res, 403, "permission_error", call.why);
          // What goes up is what was checked: one reading of every key, whatever the provider's parser.
          return forward(req, res, rest, out, call);
        }
        forward(req, res, rest, body);
      },
      () => res.destroy(),
    );
  });

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rest: string,
    body: Buffer,
    call?: { worst: number; model: string },
  ) => {
    let settled = false;
    const finish = (reply: { usage: Usage; model?: string }) => {
      if (call && !settled) settle(call, reply);
      settled = true;
    };
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers))
      if (!DROP.has(name) && value !== undefined) headers[name] = value;
    if (opts.scheme === "anthropic") headers["x-api-key"] = opts.apiKey;
    else headers.authorization = `Bearer ${opts.apiKey}`;
    headers.host = upstream.host;
    if (body.length || req.method === "POST") headers["content-length"] = body.length;
    const out = client.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port || undefined,
        method: req.method,
        path: `${basePath}${rest}`,
        headers,
      },
      (reply) => {
        counts.forwarded++;
        const status = reply.statusCode ?? 502;
        if ([401, 403, 429].includes(status) || status >= 500) spend.upstreamFailures++;
        const reading = new ReplyUsage(reply.headers["content-type"]);
        reply.on("data", (chunk: Buffer) => reading.feed(chunk));
        // Whatever the stream delivered before it ended or broke is what the provider charged.
        reply.on("end", () => finish(reading.done()));
        reply.on("close", () => finish(reading.done()));
        const back: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(reply.headers))
          if (!["connection", "keep-alive", "transfer-encoding"].includes(name) && value !== undefined)
            back[name] = value;
        res.writeHead(reply.statusCode ?? 502, back);
        // Each chunk goes out as it arrives: a streamed (SSE) reply is never held back.
        res.flushHeaders();
        reply.pipe(res);
      },
    );
    out.on("error", (error: Error) => {
      counts.failed++;
      spend.upstreamFailures++;
      finish({ usage: { ...NO_USAGE } });
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            type: "error",
            error: { type: "api_error", message: `aegis proxy: ${error.message}` },
          }),
        );
      } else res.destroy(error);
    });
    out.end(body);
    res.on("close", () => out.destroy());
  };
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${opts.stripPrefix ?? ""}`,
    placeholderKey,
    stats: () => ({ ...counts }),
    spend: () => ({ ...spend, byModel: { ...spend.byModel }, unpriced: [...spend.unpriced] }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The whole body of a request, or "too large" past MAX_BODY_BYTES (the rest is drained). */
function readBody(req: http.IncomingMessage): Promise<Buffer | "too large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? "too large" : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
