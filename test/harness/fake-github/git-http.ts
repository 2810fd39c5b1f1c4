// git smart-HTTP through the real `git http-backend` CGI, spawned per request (async).
// Clone and fetch are open (a public repository); push needs the token, sent the way
// actions/checkout sends it: `AUTHORIZATION: basic base64("x-access-token:TOKEN")`.
import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { gitEnv } from "./git.js";

export interface GitHttpOptions {
  /** Directory holding `<repo>.git`. */
  projectRoot: string;
  /** Returns the login when the Authorization header carries a token allowed to push, else null. */
  pushIdentity(authorization: string | undefined): string | null;
}

/** True when the request asks for the receive-pack (push) service. */
function isPush(pathInfo: string, query: string): boolean {
  return pathInfo.endsWith("/git-receive-pack") || /(^|&)service=git-receive-pack(&|$)/.test(query);
}

export function handleGitHttp(
  req: IncomingMessage,
  res: ServerResponse,
  pathInfo: string,
  query: string,
  opts: GitHttpOptions,
): Promise<number> {
  const push = isPush(pathInfo, query);
  const user = opts.pushIdentity(req.headers.authorization);
  if (push && !user) {
    res.writeHead(401, { "WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain" });
    res.end("Invalid username or token. Password authentication is not supported for Git operations.\n");
    req.resume();
    return Promise.resolve(401);
  }
  const env = gitEnv({
    GIT_PROJECT_ROOT: opts.projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    REQUEST_METHOD: req.method ?? "GET",
    CONTENT_TYPE: req.headers["content-type"] ?? "",
    REMOTE_ADDR: "127.0.0.1",
    ...(req.headers["content-length"] ? { CONTENT_LENGTH: req.headers["content-length"] } : {}),
    ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
    ...(typeof req.headers["git-protocol"] === "string" ? { GIT_PROTOCOL: req.headers["git-protocol"] } : {}),
    ...(user ? { REMOTE_USER: user } : {}),
  });
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["http-backend"], {
      cwd: path.resolve(opts.projectRoot),
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let head = Buffer.alloc(0);
    let headersSent = false;
    let status = 200;
    const stderr: Buffer[] = [];
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf("\r\n\r\n");
      const lf = head.indexOf("\n\n");
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
      if (end < 0) return;
      const sep = end === crlf ? 4 : 2;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number(v.split(" ")[0]) || 200;
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      headersSent = true;
      const rest = head.subarray(end + sep);
      if (rest.length > 0) res.write(rest);
    });
    child.on("error", (e) => reject(new Error("git http-backend could not start", { cause: e })));
    child.on("close", (code) => {
      if (!headersSent) {
        status = 500;
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.write(Buffer.concat(stderr));
      }
      res.end();
      if (code !== 0 && status < 400) status = 500;
      resolve(status);
    });
    child.stdin.on("error", () => undefined);
    req.pipe(child.stdin);
  });
}
