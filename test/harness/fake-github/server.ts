// The HTTP front: git smart-HTTP, auth, spec matching and validation, faults, call recording.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Faults, faultBody } from "./faults.js";
import type { BareRepo } from "./git.js";
import { handleGitHttp } from "./git-http.js";
import { type Ctx, type Handler, HttpError, type Reply } from "./http.js";
import type { Site } from "./render.js";
import type { SpecValidator } from "./spec.js";
import type { Store } from "./state.js";

export interface Call {
  method: string;
  /** `GET /repos/{owner}/{repo}/issues/{issue_number}`, or `GIT git-upload-pack` / `GIT git-receive-pack`. */
  route: string;
  operationId: string;
  path: string;
  status: number;
  /** Epoch ms when the request arrived. */
  time: number;
  durationMs: number;
  /** Set when an injected fault produced the response. */
  fault?: "before" | "after";
}

export interface ServerDeps {
  site: Site;
  store: Store;
  repo: BareRepo;
  defaultBranch: string;
  validator: SpecValidator;
  faults: Faults;
  handlers: Record<string, Handler>;
  /** token → identity; `write: false` for the read-only token. */
  tokens: Map<string, { login: string; write: boolean }>;
  calls: Call[];
  harnessErrors: string[];
  validationErrors: string[];
  allowAnonymousReads: boolean;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** `token X`, `Bearer X`, or git's `basic base64(x-access-token:X)`. */
export function tokenFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme = "", value = ""] = header.trim().split(/\s+/, 2);
  const s = scheme.toLowerCase();
  if (s === "token" || s === "bearer") return value;
  if (s === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    return decoded.slice(decoded.indexOf(":") + 1);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startServer(deps: ServerDeps): Promise<{ server: Server; port: number }> {
  const { site, validator, faults, calls } = deps;

  async function api(
    req: IncomingMessage,
    url: URL,
    method: string,
  ): Promise<{ reply: Reply; route: string; operationId: string; fault?: "before" | "after" }> {
    const match = validator.match(method, url.pathname);
    if (!match) {
      deps.harnessErrors.push(`${method} ${url.pathname}: no operation in GitHub's spec`);
      return {
        reply: {
          status: 404,
          body: { message: "Not Found", documentation_url: "https://docs.github.com/rest" },
        },
        route: `${method} ${url.pathname}`,
        operationId: "",
      };
    }
    const route = `${method} ${match.template}`;
    const done = (reply: Reply, fault?: "before" | "after") => ({
      reply,
      route,
      operationId: match.operationId,
      ...(fault ? { fault } : {}),
    });
    const raw = await readBody(req);
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);

    const token = tokenFrom(req.headers.authorization);
    const identity = token !== undefined ? deps.tokens.get(token) : undefined;
    if (token !== undefined && !identity) return done(new HttpError(401, "Bad credentials").toReply());
    if (!identity && (method !== "GET" || !deps.allowAnonymousReads))
      return done(new HttpError(401, "Requires authentication").toReply());

    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        deps.harnessErrors.push(`${route}: body is not JSON`);
        return done(new HttpError(400, "Problems parsing JSON").toReply());
      }
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
    );
    if (match.params.owner !== site.owner || match.params.repo?.replace(/\.git$/, "") !== site.repo) {
      if (match.template.startsWith("/repos/{owner}/{repo}"))
        return done(new HttpError(404, "Not Found").toReply());
    }
    const problems = validator.validateRequest(match, { query, headers, body });
    if (problems.length > 0) {
      deps.harnessErrors.push(`${route}: request does not match the spec: ${problems.join("; ")}`);
      const bodyProblem = problems.some((p) => p.startsWith("/requestBody"));
      return done(
        new HttpError(
          bodyProblem ? 422 : 400,
          bodyProblem ? "Invalid request." : "Bad request",
          problems,
        ).toReply(),
      );
    }
    if (identity && !identity.write && method !== "GET")
      return done(new HttpError(403, "Resource not accessible by integration").toReply());

    const before = faults.take("before", method, match.template, match.operationId, url.pathname);
    if (before)
      return done(
        { status: before.status, body: faultBody(before), headers: before.headers ?? {} },
        "before",
      );

    const handler = deps.handlers[match.operationId];
    if (!handler) {
      deps.harnessErrors.push(`${route} (${match.operationId}): not modelled by the fake`);
      return done(new HttpError(501, `fake-github does not model ${match.operationId}`).toReply());
    }
    const ctx: Ctx = {
      method,
      params: match.params,
      query,
      headers,
      body,
      actor: identity?.login ?? "anonymous",
      url,
      site,
      store: deps.store,
      repo: deps.repo,
      defaultBranch: deps.defaultBranch,
    };
    let reply: Reply;
    try {
      reply = await handler(ctx);
    } catch (e) {
      if (e instanceof HttpError) reply = e.toReply();
      else {
        deps.harnessErrors.push(
          `${route}: handler crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        );
        reply = new HttpError(500, "fake-github handler crashed").toReply();
      }
    }
    if (reply.raw === undefined && validator.documents(match, reply.status)) {
      const errs = validator.validateResponse(match, reply.status, reply.body ?? null);
      if (errs.length > 0) {
        // A response that breaks GitHub's schema is a bug in the fake: fail loudly.
        const msg = `${route} → ${reply.status}: response does not match the spec: ${errs.slice(0, 5).join("; ")}`;
        deps.validationErrors.push(msg);
        console.error(`[fake-github] ${msg}`);
        reply = { status: 500, body: { message: msg, documentation_url: "https://docs.github.com/rest" } };
      }
    }
    const after = faults.take("after", method, match.template, match.operationId, url.pathname);
    if (after)
      return done({ status: after.status, body: faultBody(after), headers: after.headers ?? {} }, "after");
    return done(reply);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", site.url);
    const gitMatch = /^\/([^/]+)\/([^/]+?\.git)(\/.*)?$/.exec(url.pathname);
    if (gitMatch && gitMatch[1] === site.owner && gitMatch[2] === `${site.repo}.git`) {
      const status = await handleGitHttp(
        req,
        res,
        `/${gitMatch[2]}${gitMatch[3] ?? ""}`,
        url.search.slice(1),
        {
          projectRoot: deps.repo.dir.replace(/\/[^/]+$/, ""),
          pushIdentity: (h) => {
            const id = deps.tokens.get(tokenFrom(h) ?? "");
            return id?.write ? id.login : null;
          },
        },
      );
      calls.push({
        method,
        // `GIT git-upload-pack` (clone/fetch) or `GIT git-receive-pack` (push), for either leg.
        route: `GIT ${url.searchParams.get("service") ?? url.pathname.split("/").pop() ?? ""}`,
        operationId: "git",
        path: url.pathname + url.search,
        status,
        time,
        durationMs: Date.now() - time,
      });
      return;
    }
    const { reply, route, operationId, fault } = await api(req, url, method);
    if (reply.status === 0) {
      // A "reset" fault: the connection drops with no answer (before or after the write).
      res.socket?.destroy();
      calls.push({
        method,
        route,
        operationId,
        path: url.pathname + url.search,
        status: 0,
        time,
        durationMs: Date.now() - time,
        ...(fault ? { fault } : {}),
      });
      return;
    }
    const headers: Record<string, string> = {
      "x-github-request-id": `FAKE:${calls.length}`,
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": "4999",
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
      "x-ratelimit-resource": "core",
      ...(reply.headers ?? {}),
    };
    if (reply.raw) res.writeHead(reply.status, headers).end(reply.raw);
    else if (reply.status === 204 || reply.body === undefined) res.writeHead(reply.status, headers).end();
    else
      res
        .writeHead(reply.status, { "content-type": "application/json; charset=utf-8", ...headers })
        .end(JSON.stringify(reply.body));
    calls.push({
      method,
      route,
      operationId,
      path: url.pathname + url.search,
      status: reply.status,
      time,
      durationMs: Date.now() - time,
      ...(fault ? { fault } : {}),
    });
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      deps.harnessErrors.push(`server error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.end();
    });
  });
  // Keep-alive sockets would hold close() open; the clients here do not need them.
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}
