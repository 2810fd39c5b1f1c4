/**
 * A loopback fake of the Actions results service's artifact API, so the real `@actions/artifact`
 * 6.2 uploads in tests as `actions/upload-artifact` does on github.com.
 *
 * Modelled on what the library sends and expects:
 * - `ACTIONS_RUNTIME_TOKEN` is a JWT whose `scp` claim holds
 *   `Actions.Results:<run backend id>:<job backend id>`; the library reads the ids from it (it does
 *   not check the signature) and every call carries it as `Authorization: Bearer`. Only the origin
 *   of `ACTIONS_RESULTS_URL` is used.
 * - The library refuses to run unless `GITHUB_SERVER_URL` is github.com, `*.ghe.com` or
 *   `*.localhost`: {@link FakeArtifacts.envFor} points it at the fake GitHub as
 *   `github.localhost` (git, through curl, resolves `*.localhost` to the loopback itself).
 * - Twirp JSON: `POST /twirp/github.actions.results.api.v1.ArtifactService/<Method>`, snake_case
 *   fields, int64 as strings. CreateArtifact answers `{ok, signed_upload_url}` and 409
 *   `already_exists` for a name the job's run already has; the blob is sent with Azure's block
 *   protocol (`PUT <url>&comp=block&blockid=…`, then `PUT <url>&comp=blocklist` with the XML list;
 *   both answer 201); FinalizeArtifact checks the size and the `sha256:` hash and answers
 *   `{ok, artifact_id}` (a second finalize of the same bytes answers the same id); ListArtifacts
 *   lists finalized artifacts only, optionally by name.
 * - `failNext(method, "before" | "after")` answers one call with a 500, before or after it takes
 *   effect, for the exactly-once tests (the library retries 5xx by itself).
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeArtifact {
  id: number;
  name: string;
  runBackendId: string;
  jobBackendId: string;
  finalized: boolean;
  content?: Buffer;
  mimeType?: string;
  expiresAt?: string;
}

export interface FakeArtifacts {
  url: string;
  token: string;
  runBackendId: string;
  jobBackendId: string;
  /** Environment for a run of the action against `githubUrl` (the fake GitHub's). */
  envFor(githubUrl: string): Record<string, string>;
  artifacts(): FakeArtifact[];
  /** Requests answered, as `METHOD path` (no query). */
  calls: string[];
  failNext(method: string, when: "before" | "after"): void;
  close(): Promise<void>;
}

const PREFIX = "/twirp/github.actions.results.api.v1.ArtifactService/";

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export async function startFakeArtifacts(): Promise<FakeArtifacts> {
  const runBackendId = crypto.randomUUID();
  const jobBackendId = crypto.randomUUID();
  const token = [
    b64url({ alg: "HS256", typ: "JWT" }),
    b64url({ scp: `Actions.GenericRead:${runBackendId} Actions.Results:${runBackendId}:${jobBackendId}` }),
    randomBytes(16).toString("base64url"),
  ].join(".");
  const stored: (FakeArtifact & { sig: string; blocks: Map<string, Buffer> })[] = [];
  const calls: string[] = [];
  const faults: { method: string; when: "before" | "after" }[] = [];
  let origin = "";

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      calls.push(`${req.method} ${url.pathname}`);
      try {
        route(req, res, url, Buffer.concat(chunks));
      } catch (err) {
        twirpError(res, 500, "internal", `fake artifacts failed: ${String(err)}`);
      }
    });
  });

  function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: Buffer): void {
    const blob = /^\/blob\/(\d+)\/([^/]+)$/.exec(url.pathname);
    if (blob && req.method === "PUT") return putBlob(res, url, Number(blob[1]), body);
    if (!url.pathname.startsWith(PREFIX) || req.method !== "POST")
      return twirpError(res, 404, "bad_route", `no route ${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `Bearer ${token}`)
      return twirpError(res, 401, "unauthenticated", "bad runtime token");
    const method = url.pathname.slice(PREFIX.length);
    const msg = JSON.parse(body.toString("utf8") || "{}") as Record<string, unknown>;
    if (msg.workflow_run_backend_id !== runBackendId || msg.workflow_job_run_backend_id !== jobBackendId)
      return twirpError(res, 400, "invalid_argument", "backend ids do not match the token");
    const fault = faults.findIndex((f) => f.method === method);
    const when = fault >= 0 ? faults.splice(fault, 1)[0]!.when : undefined;
    if (when === "before") return twirpError(res, 500, "internal", "injected fault before the write");
    const answer = handle(method, msg);
    if (when === "after") return twirpError(res, 500, "internal", "injected fault after the write");
    if ("error" in answer) return twirpError(res, answer.status, answer.code, answer.error);
    send(res, 200, answer.body);
  }

  type Answer = { body: unknown } | { status: number; code: string; error: string };

  function handle(method: string, msg: Record<string, unknown>): Answer {
    const name = String(msg.name ?? "");
    const mine = stored.filter((a) => a.runBackendId === runBackendId);
    if (method === "CreateArtifact") {
      if (!name || /["/:<>|*?\\\r\n]/.test(name))
        return { status: 400, code: "invalid_argument", error: "bad name" };
      if (Number(msg.version) !== 7)
        return { status: 400, code: "invalid_argument", error: "version 7 expected" };
      if (mine.some((a) => a.name === name))
        return {
          status: 409,
          code: "already_exists",
          error: `an artifact with this name already exists on the workflow run`,
        };
      const id = stored.length + 1;
      const sig = randomBytes(12).toString("hex");
      stored.push({
        id,
        name,
        runBackendId,
        jobBackendId,
        finalized: false,
        sig,
        blocks: new Map(),
        ...(typeof msg.mime_type === "string" ? { mimeType: msg.mime_type } : {}),
        ...(typeof msg.expires_at === "string" ? { expiresAt: msg.expires_at } : {}),
      });
      return {
        body: { ok: true, signed_upload_url: `${origin}/blob/${id}/${encodeURIComponent(name)}?sig=${sig}` },
      };
    }
    if (method === "FinalizeArtifact") {
      const a = mine.find((x) => x.name === name);
      if (!a?.content) return { status: 404, code: "not_found", error: "no uploaded artifact of this name" };
      const hash = typeof msg.hash === "string" ? msg.hash : "";
      if (String(a.content.length) !== String(msg.size))
        return {
          status: 400,
          code: "invalid_argument",
          error: `size ${String(msg.size)} is not ${a.content.length}`,
        };
      if (hash && hash !== `sha256:${createHash("sha256").update(a.content).digest("hex")}`)
        return { status: 400, code: "invalid_argument", error: "hash mismatch" };
      a.finalized = true;
      return { body: { ok: true, artifact_id: String(a.id) } };
    }
    if (method === "ListArtifacts") {
      const filter = typeof msg.name_filter === "string" ? msg.name_filter : undefined;
      const list = mine.filter((a) => a.finalized && (!filter || a.name === filter));
      return {
        body: {
          artifacts: list.map((a) => ({
            workflow_run_backend_id: a.runBackendId,
            workflow_job_run_backend_id: a.jobBackendId,
            database_id: String(a.id),
            name: a.name,
            size: String(a.content?.length ?? 0),
          })),
        },
      };
    }
    return { status: 404, code: "bad_route", error: `no method ${method}` };
  }

  function putBlob(res: http.ServerResponse, url: URL, id: number, body: Buffer): void {
    const a = stored.find((x) => x.id === id);
    if (!a || url.searchParams.get("sig") !== a.sig) return blobError(res, 403, "AuthenticationFailed");
    const comp = url.searchParams.get("comp");
    if (comp === "block") {
      const blockId = url.searchParams.get("blockid");
      if (!blockId) return blobError(res, 400, "InvalidQueryParameterValue");
      a.blocks.set(blockId, body);
    } else if (comp === "blocklist") {
      const ids = [...body.toString("utf8").matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(
        (m) => m[1]!,
      );
      const parts = ids.map((b) => a.blocks.get(b));
      if (parts.some((p) => !p)) return blobError(res, 400, "InvalidBlockList");
      a.content = Buffer.concat(parts as Buffer[]);
    } else if (!comp) {
      a.content = body; // Put Blob in one request
    } else return blobError(res, 400, "InvalidQueryParameterValue");
    res.writeHead(201, { "x-ms-request-id": randomBytes(8).toString("hex"), "x-ms-version": "2025-01-05" });
    res.end();
  }

  function send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }
  function twirpError(res: http.ServerResponse, status: number, code: string, msg: string): void {
    send(res, status, { code, msg });
  }
  function blobError(res: http.ServerResponse, status: number, code: string): void {
    res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code });
    res.end(
      `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
    );
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    token,
    runBackendId,
    jobBackendId,
    envFor: (githubUrl: string) => ({
      ACTIONS_RUNTIME_TOKEN: token,
      ACTIONS_RESULTS_URL: `${origin}/`,
      GITHUB_SERVER_URL: githubUrl.replace("//127.0.0.1:", "//github.localhost:"),
    }),
    artifacts: () => stored.map(({ sig: _s, blocks: _b, ...a }) => ({ ...a })),
    calls,
    failNext: (method, when) => faults.push({ method, when }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
