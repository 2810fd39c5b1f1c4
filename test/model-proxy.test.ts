// The model proxy: the room's CLI holds a placeholder; the proxy checks it, swaps in the real key,
// forwards, and streams the reply through chunk by chunk.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { allowedCall, startModelProxy, type ModelProxy } from "../src/room/model-proxy.js";
import { refusedRequest, withoutOpenPageSearch } from "../src/core/model-request.js";

let upstream: http.Server | undefined;
let proxy: ModelProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
  upstream = undefined;
  proxy = undefined;
});

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An upstream that records requests and answers with three SSE events, 150 ms apart. */
async function startUpstream(seen: Seen[]): Promise<string> {
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { "content-type": "text/event-stream" });
      let i = 0;
      const tick = () => {
        res.write(`event: e${i}\ndata: {"i":${i}}\n\n`);
        if (++i < 3) setTimeout(tick, 150);
        else res.end();
      };
      tick();
    });
  });
  await new Promise<void>((r) => upstream!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
}

function post(url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; chunks: { at: number; text: string }[] }>((resolve, reject) => {
    const started = Date.now();
    const req = http.request(url, { method: "POST", headers }, (res) => {
      const chunks: { at: number; text: string }[] = [];
      res.on("data", (c: Buffer) => chunks.push({ at: Date.now() - started, text: c.toString() }));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, chunks }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("model proxy", () => {
  it("anthropic: swaps the placeholder for the real key, keeps the path, streams each event as it comes", async () => {
    const seen: Seen[] = [];
    const root = await startUpstream(seen);
    proxy = await startModelProxy({ upstream: `${root}/gateway`, apiKey: "sk-real", scheme: "anthropic" });
    expect(proxy.placeholderKey).not.toContain("sk-real");
    const res = await post(
      `${proxy.url}/v1/messages?beta=true`,
      { "x-api-key": proxy.placeholderKey, "content-type": "application/json" },
      '{"stream":true}',
    );
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe("/gateway/v1/messages?beta=true");
    expect(seen[0]!.headers["x-api-key"]).toBe("sk-real");
    expect(seen[0]!.body).toBe('{"stream":true}');
    // Three events arrive apart, not in one buffered piece at the end.
    const text = res.chunks.map((c) => c.text).join("");
    expect(text).toContain("event: e2");
    expect(res.chunks.length).toBeGreaterThanOrEqual(3);
    expect(res.chunks.at(-1)!.at - res.chunks[0]!.at).toBeGreaterThanOrEqual(200);
    expect(proxy.stats()).toMatchObject({ forwarded: 1, refused: 0 });
  });

  it("openai: a Bearer placeholder, the /v1 the CLI adds mapped onto the base URL's own /v1", async () => {
    const seen: Seen[] = [];
    const root = await startUpstream(seen);
    proxy = await startModelProxy({
      upstream: `${root}/v1`,
      apiKey: "sk-openai",
      scheme: "openai",
      stripPrefix: "/v1",
    });
    expect(proxy.url).toMatch(/\/v1$/);
    const res = await post(
      `${proxy.url}/responses`,
      { authorization: `Bearer ${proxy.placeholderKey}` },
      "{}",
    );
    expect(res.status).toBe(200);
    expect(seen[0]!.url).toBe("/v1/responses");
    expect(seen[0]!.headers.authorization).toBe("Bearer sk-openai");
  });

  it("refuses a wrong or missing key without calling upstream", async () => {
    const seen: Seen[] = [];
    const root = await startUpstream(seen);
    proxy = await startModelProxy({ upstream: root, apiKey: "sk-real", scheme: "anthropic" });
    expect((await post(`${proxy.url}/v1/messages`, { "x-api-key": "sk-real" }, "{}")).status).toBe(401);
    expect((await post(`${proxy.url}/v1/messages`, {}, "{}")).status).toBe(401);
    expect(seen).toHaveLength(0);
    expect(proxy.stats().refused).toBe(2);
  });

  it("an unreachable upstream is a 502 with a reason, not a hang", async () => {
    proxy = await startModelProxy({ upstream: "http://127.0.0.1:9", apiKey: "k", scheme: "anthropic" });
    const res = await post(`${proxy.url}/v1/messages`, { "x-api-key": proxy.placeholderKey }, "{}");
    expect(res.status).toBe(502);
    expect(res.chunks.map((c) => c.text).join("")).toContain("aegis proxy");
  });

  it("forwards only the calls a CLI session makes: the real key never reaches files, batches or admin routes", async () => {
    const seen: Seen[] = [];
    const root = await startUpstream(seen);
    proxy = await startModelProxy({ upstream: root, apiKey: "sk-real", scheme: "anthropic" });
    const key = { "x-api-key": proxy.placeholderKey };
    for (const p of [
      "/v1/files",
      "/v1/messages/batches",
      "/v1/messages/../files",
      "/v1/messages/%2e%2e/files",
      "//v1/messages",
      "/v1/messages/",
      "/v1/organizations/users",
      "/v1/messages?model=a%0a:b b",
    ])
      expect((await post(`${proxy.url}${p}`, key, "{}")).status, p).toBe(403);
    expect(seen).toHaveLength(0);
    expect(proxy.stats().refused).toBe(8);
  });

  it("a call's body may not make the provider fetch, connect or read stored data for the room", async () => {
    const seen: Seen[] = [];
    const root = await startUpstream(seen);
    proxy = await startModelProxy({ upstream: root, apiKey: "sk-real", scheme: "anthropic" });
    const key = { "x-api-key": proxy.placeholderKey, "content-type": "application/json" };
    const msg = (extra: object) =>
      JSON.stringify({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...extra });
    const refused = [
      msg({ mcp_servers: [{ type: "url", url: "https://evil.example/mcp", name: "x" }] }),
      msg({ tools: [{ type: "web_fetch_20250910", name: "web_fetch" }] }),
      msg({ tools: [{ type: "code_execution_20250825", name: "code_execution" }] }),
      msg({ container: "container_1" }),
      msg({
        messages: [
          {
            role: "user",
            content: [
              {
                type: "tool_result",
                tool_use_id: "t",
                content: [{ type: "image", source: { type: "url", url: "https://evil.example/?d=src" } }],
              },
            ],
          },
        ],
      }),
      msg({
        messages: [
          { role: "user", content: [{ type: "document", source: { type: "file", file_id: "file_1" } }] },
        ],
      }),
      "not json",
    ];
    for (const body of refused)
      expect((await post(`${proxy.url}/v1/messages`, key, body)).status, body).not.toBe(200);
    // Compressed bodies cannot be checked; the organisation header never goes up.
    expect(
      (await post(`${proxy.url}/v1/messages`, { ...key, "content-encoding": "gzip" }, msg({}))).status,
    ).toBe(415);
    expect(seen).toHaveLength(0);
    const ok = msg({
      tools: [
        { name: "Bash", description: "run", input_schema: { type: "object" } },
        { type: "web_search_20250305", name: "web_search" },
      ],
      messages: [
        {
          role: "user",
          content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } }],
        },
      ],
    });
    // A duplicate key is read once, here: what goes up is the body as checked.
    const twice = msg({}).replace('"model":"m"', '"model":"m","model":"m2"');
    expect((await post(`${proxy.url}/v1/messages`, key, twice)).status).toBe(200);
    expect(JSON.parse(seen.at(-1)!.body).model).toBe("m2");
    expect(seen.at(-1)!.body.match(/"model"/g)).toHaveLength(1);
    seen.length = 0;
    const passed = await post(`${proxy.url}/v1/messages`, { ...key, "anthropic-organization": "other" }, ok);
    expect(passed.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toBe(ok);
    expect(seen[0]!.headers["content-length"]).toBe(String(Buffer.byteLength(ok)));
    expect(seen[0]!.headers["anthropic-organization"]).toBeUndefined();
  });

  it("OpenAI bodies: MCP, file search, URLs and stored items are refused; Codex's own tools pass", () => {
    const base = {
      model: "m",
      input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }],
    };
    for (const body of [
      { ...base, tools: [{ type: "mcp", server_label: "x", server_url: "https://evil.example" }] },
      { ...base, tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] },
      { ...base, tools: [{ type: "code_interpreter", container: { type: "auto" } }] },
      { ...base, previous_response_id: "resp_1" },
      {
        ...base,
        input: [
          { role: "user", content: [{ type: "input_image", image_url: "https://evil.example/x.png" }] },
        ],
      },
      { ...base, input: [{ role: "user", content: [{ type: "input_file", file_id: "file_1" }] }] },
      { ...base, input: [{ type: "item_reference", id: "msg_1" }] },
      { ...base, input: [{ id: "msg_1" }] },
      { ...base, tools: [{ type: "web_search" }] },
      {
        ...base,
        input: [
          { type: "additional_tools", tools: [{ type: "shell", environment: { type: "container_auto" } }] },
        ],
      },
      {
        ...base,
        input: [
          {
            type: "additional_tools",
            tools: [{ type: "function", name: "x", environment: { type: "container_auto" } }],
          },
        ],
      },
      {
        ...base,
        input: [
          {
            role: "user",
            content: [{ type: "input_image", image_url: { url: "https://evil.example/x.png" } }],
          },
        ],
      },
      {
        ...base,
        input: [{ role: "user", content: [{ type: "input_file", file_data: "https://evil.example/x.pdf" }] }],
      },
      {
        ...base,
        tools: [
          { type: "namespace", name: "n", tools: [{ type: "mcp", server_url: "https://evil.example" }] },
        ],
      },
      {
        ...base,
        input: [{ type: "additional_tools", tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }],
      },
    ])
      expect(refusedRequest("openai", body), JSON.stringify(body)).toBeDefined();
    expect(
      refusedRequest("openai", {
        ...base,
        tools: [
          { type: "function", name: "shell", parameters: {} },
          { type: "custom", name: "apply_patch" },
          { type: "local_shell" },
          {
            type: "namespace",
            name: "codex",
            tools: [{ type: "function", name: "exec_command", parameters: {} }],
          },
        ],
        input: [
          { role: "user", content: [{ type: "input_image", image_url: "data:image/png;base64,AA==" }] },
        ],
      }),
    ).toBeUndefined();
  });

  it("OpenAI's web search (it can open a page the model picks) is taken out of every tool list", () => {
    const body = {
      model: "m",
      tools: [{ type: "web_search" }, { type: "function", name: "f", parameters: {} }],
      input: [
        {
          type: "additional_tools",
          tools: [{ type: "web_search_preview" }, { type: "custom", name: "exec" }],
        },
      ],
    };
    const cleaned = withoutOpenPageSearch("openai", body);
    expect(JSON.stringify(cleaned)).not.toContain("web_search");
    expect(refusedRequest("openai", cleaned)).toBeUndefined();
    expect(refusedRequest("openai", body)).toBeDefined();
    // Anthropic's web search only searches: it stays.
    const anthropic = { tools: [{ type: "web_search_20250305", name: "web_search" }] };
    expect(withoutOpenPageSearch("anthropic", anthropic)).toEqual(anthropic);
  });

  it("the route list, per scheme", () => {
    expect(allowedCall("anthropic", "POST", "/v1/messages?beta=true")).toBe("/v1/messages?beta=true");
    expect(allowedCall("anthropic", "POST", "/v1/messages/count_tokens?beta=true")).toBeDefined();
    expect(allowedCall("anthropic", "GET", "/v1/messages")).toBeUndefined();
    expect(allowedCall("anthropic", "DELETE", "/v1/files/f1")).toBeUndefined();
    expect(allowedCall("openai", "POST", "/v1/responses", "/v1")).toBe("/responses");
    expect(allowedCall("openai", "GET", "/v1/models?client_version=0.58.0", "/v1")).toBe(
      "/models?client_version=0.58.0",
    );
    expect(allowedCall("openai", "POST", "/v1/files", "/v1")).toBeUndefined();
    expect(allowedCall("openai", "POST", "/v1/vector_stores", "/v1")).toBeUndefined();
    expect(allowedCall("openai", "GET", "/v1/responses/resp_1", "/v1")).toBeUndefined();
  });
});
