/**
 * The model key stays with the action: a loopback HTTP proxy that the room's CLI (Claude Code,
 * Codex) calls with a placeholder key, and that forwards each request to the real endpoint with
 * the real key, streaming the reply (SSE) through as it arrives.
 *
 * The placeholder is a random value per proxy, so the proxy serves only the room it was made
 * for (another local user who finds the port gets 401). It is not a credential of anyone's: it
 * opens nothing but this proxy, which lives only as long as the step.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";

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
}

export interface ModelProxy {
  /** The root the CLI is given (`http://127.0.0.1:PORT`, plus the stripped prefix if any). */
  url: string;
  /** The key the CLI is given. */
  placeholderKey: string;
  /** Requests forwarded, and refused for a wrong key. */
  stats(): { forwarded: number; refused: number; failed: number };
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
]);

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

  const server = http.createServer((req, res) => {
    if (!sameKey(presentedKey(req, opts.scheme), placeholderKey)) {
      counts.refused++;
      res.writeHead(401, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          type: "error",
          error: { type: "authentication_error", message: "aegis proxy: unknown key" },
        }),
      );
      req.resume();
      return;
    }
    let rest = req.url ?? "/";
    if (
      opts.stripPrefix &&
      (rest === opts.stripPrefix ||
        rest.startsWith(`${opts.stripPrefix}/`) ||
        rest.startsWith(`${opts.stripPrefix}?`))
    )
      rest = rest.slice(opts.stripPrefix.length) || "/";
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers))
      if (!DROP.has(name) && value !== undefined) headers[name] = value;
    if (opts.scheme === "anthropic") headers["x-api-key"] = opts.apiKey;
    else headers.authorization = `Bearer ${opts.apiKey}`;
    headers.host = upstream.host;
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
    out.on("error", (error) => {
      counts.failed++;
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
    req.pipe(out);
    res.on("close", () => out.destroy());
  });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
