/**
 * A loopback fake of the GitHub Actions cache service, protocol v1 (`ACTIONS_CACHE_URL`), so the
 * real `@actions/cache` saves and restores archives in tests.
 *
 * `@actions/cache` 6.3 picks v1 unless `ACTIONS_CACHE_SERVICE_V2` is non-empty and
 * `GITHUB_SERVER_URL` is github.com, `*.ghe.com` or `*.localhost` (internal/config.js
 * `getCacheServiceVersion`); `env` sets it to "" so v1 is used whatever the server URL says.
 *
 * Modelled rules: every API call needs `Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>`; an entry is
 * immutable per (key, version) and a reservation already holds the pair (409 for a second
 * reserve); uploads are `PATCH` chunks with `Content-Range: bytes a-b/*`, in any order, and the
 * commit checks that they cover exactly `size` bytes; lookup walks the keys in order, each matched
 * exactly and then as a prefix, newest entry first, among committed entries of the same version.
 * The archive is served from this server at an unguessable URL, as the real service hands out a
 * signed blob URL that needs no token.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeCacheEntry {
  id: number;
  key: string;
  version: string;
  /** Bytes committed; 0 while only reserved. */
  size: number;
  committed: boolean;
  createdAt: string;
}

export interface FakeCache {
  /** Service root, with the trailing slash the library expects. */
  url: string;
  /** Environment that points `@actions/cache` at this server (v1 protocol). */
  env: Record<string, string>;
  /** Every reservation, committed or not, oldest first. */
  entries(): FakeCacheEntry[];
  /** The committed archive bytes of an entry. */
  archive(id: number): Buffer | undefined;
  /** Requests answered, as `METHOD path` (no query), for assertions on the protocol used. */
  calls: string[];
  close(): Promise<void>;
}

interface Stored extends FakeCacheEntry {
  chunks: Map<number, Buffer>;
  data?: Buffer;
  downloadToken: string;
  /** Monotonic creation order: two entries in the same millisecond still sort newest first. */
  seq: number;
}

const API = "/_apis/artifactcache/";

export async function startFakeCache(opts: { token?: string } = {}): Promise<FakeCache> {
  const token = opts.token ?? `fake-runtime-${randomBytes(8).toString("hex")}`;
  const stored: Stored[] = [];
  const calls: string[] = [];
  let nextId = 1;
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
        json(res, 500, { message: `fake cache failed: ${String(err)}` });
      }
    });
  });

  function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: Buffer): void {
    const archive = /^\/_archives\/(\d+)$/.exec(url.pathname);
    if (archive) {
      // Like a signed blob URL: the token in the query is the only credential.
      const entry = stored.find((e) => e.id === Number(archive[1]));
      if (req.method !== "GET" || !entry?.data || url.searchParams.get("sig") !== entry.downloadToken) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": entry.data.length,
      });
      res.end(entry.data);
      return;
    }
    if (!url.pathname.startsWith(API)) {
      json(res, 404, { message: `no route ${req.method} ${url.pathname}` });
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      json(res, 401, { message: "Bad credentials: missing or wrong runtime token" });
      return;
    }
    const resource = url.pathname.slice(API.length);

    if (req.method === "GET" && resource === "cache") {
      lookup(res, url);
      return;
    }
    if (req.method === "GET" && resource === "caches") {
      // Only used by the library for debug diagnostics after a miss.
      const key = url.searchParams.get("key") ?? "";
      const list = stored.filter((e) => e.committed && e.key === key);
      json(res, 200, {
        totalCount: list.length,
        artifactCaches: list.map((e) => ({
          cacheKey: e.key,
          cacheVersion: e.version,
          scope: "refs/heads/main",
          creationTime: e.createdAt,
        })),
      });
      return;
    }
    if (req.method === "POST" && resource === "caches") {
      reserve(res, body);
      return;
    }
    const one = /^caches\/(\d+)$/.exec(resource);
    const entry = one ? stored.find((e) => e.id === Number(one[1])) : undefined;
    if (one && !entry) {
      json(res, 404, { message: `no cache ${one[1]}` });
      return;
    }
    if (entry && req.method === "PATCH") {
      upload(req, res, entry, body);
      return;
    }
    if (entry && req.method === "POST") {
      commit(res, entry, body);
      return;
    }
    json(res, 404, { message: `no route ${req.method} ${url.pathname}` });
  }

  function lookup(res: http.ServerResponse, url: URL): void {
    const keys = (url.searchParams.get("keys") ?? "").split(",").filter((k) => k !== "");
    const version = url.searchParams.get("version") ?? "";
    if (keys.length === 0 || !version) {
      json(res, 400, { message: "keys and version are required" });
      return;
    }
    const usable = stored.filter((e) => e.committed && e.version === version).sort((a, b) => b.seq - a.seq);
    for (const key of keys) {
      const hit = usable.find((e) => e.key === key) ?? usable.find((e) => e.key.startsWith(key));
      if (hit) {
        json(res, 200, {
          cacheKey: hit.key,
          scope: "refs/heads/main",
          cacheVersion: hit.version,
          creationTime: hit.createdAt,
          archiveLocation: `${origin}/_archives/${hit.id}?sig=${hit.downloadToken}`,
        });
        return;
      }
    }
    res.writeHead(204).end();
  }

  function reserve(res: http.ServerResponse, body: Buffer): void {
    let req: { key?: unknown; version?: unknown; cacheSize?: unknown };
    try {
      req = JSON.parse(body.toString("utf8")) as typeof req;
    } catch {
      json(res, 400, { message: "body is not JSON" });
      return;
    }
    if (typeof req.key !== "string" || !req.key || typeof req.version !== "string" || !req.version) {
      json(res, 400, { message: "key and version are required" });
      return;
    }
    const { key, version } = req;
    if (stored.some((e) => e.key === key && e.version === version)) {
      json(res, 409, {
        message: `Cache already exists. Scope: refs/heads/main, Key: ${key}, Version: ${version}`,
      });
      return;
    }
    const id = nextId++;
    stored.push({
      id,
      key,
      version,
      size: 0,
      committed: false,
      createdAt: new Date().toISOString(),
      chunks: new Map(),
      downloadToken: randomBytes(12).toString("hex"),
      seq: id,
    });
    json(res, 201, { cacheId: id });
  }

  function upload(req: http.IncomingMessage, res: http.ServerResponse, entry: Stored, body: Buffer): void {
    if (entry.committed) {
      json(res, 409, { message: `cache ${entry.id} is already committed` });
      return;
    }
    const range = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(String(req.headers["content-range"] ?? ""));
    if (!range) {
      json(res, 400, { message: "Content-Range must read bytes START-END/*" });
      return;
    }
    const start = Number(range[1]);
    const end = Number(range[2]);
    if (end < start || end - start + 1 !== body.length) {
      json(res, 400, { message: `Content-Range ${start}-${end} does not match ${body.length} bytes` });
      return;
    }
    entry.chunks.set(start, body);
    res.writeHead(204).end();
  }

  function commit(res: http.ServerResponse, entry: Stored, body: Buffer): void {
    let size: unknown;
    try {
      size = (JSON.parse(body.toString("utf8")) as { size?: unknown }).size;
    } catch {
      size = undefined;
    }
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      json(res, 400, { message: "size is required" });
      return;
    }
    if (entry.committed) {
      json(res, 409, { message: `cache ${entry.id} is already committed` });
      return;
    }
    // The chunks must tile [0, size) exactly: a lost or overlapping chunk is a corrupt archive.
    const starts = [...entry.chunks.keys()].sort((a, b) => a - b);
    let offset = 0;
    const parts: Buffer[] = [];
    for (const s of starts) {
      const chunk = entry.chunks.get(s) as Buffer;
      if (s !== offset) break;
      parts.push(chunk);
      offset += chunk.length;
    }
    if (offset !== size || parts.length !== starts.length) {
      json(res, 400, { message: `uploaded chunks cover ${offset} bytes contiguously, commit says ${size}` });
      return;
    }
    entry.data = Buffer.concat(parts);
    entry.chunks.clear();
    entry.size = size;
    entry.committed = true;
    res.writeHead(204).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/`;

  return {
    url,
    env: {
      ACTIONS_CACHE_URL: url,
      ACTIONS_RUNTIME_TOKEN: token,
      // Empty, not unset: a runner's value would otherwise select the v2 (twirp) protocol.
      ACTIONS_CACHE_SERVICE_V2: "",
    },
    entries: () =>
      stored.map(({ id, key, version, size, committed, createdAt }) => ({
        id,
        key,
        version,
        size,
        committed,
        createdAt,
      })),
    archive: (id) => stored.find((e) => e.id === id)?.data,
    calls,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}
