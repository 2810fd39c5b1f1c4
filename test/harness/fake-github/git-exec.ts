// Async git child processes. A synchronous git call would block the event loop that serves
// git's own HTTP requests and deadlock (TESTING.md), so everything here is async.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import os from "node:os";

export const ZERO_SHA = "0000000000000000000000000000000000000000";

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface GitOptions {
  input?: Buffer | string;
  env?: Record<string, string>;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFail?: boolean;
}

/** A clean environment: no user or system git config, no prompts, fixed identity. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: os.tmpdir(),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: "Fake GitHub",
    GIT_AUTHOR_EMAIL: "noreply@github.com",
    GIT_COMMITTER_NAME: "GitHub",
    GIT_COMMITTER_EMAIL: "noreply@github.com",
    LC_ALL: "C",
    ...extra,
  };
}

export function runGit(cwd: string, args: string[], opts: GitOptions = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env: gitEnv(opts.env), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => reject(new Error(`git ${args[0] ?? ""} could not start`, { cause: e })));
    child.on("close", (code) => {
      const res = {
        code: code ?? -1,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (res.code !== 0 && !opts.allowFail) {
        reject(new Error(`git ${args.join(" ")} failed (${res.code}): ${res.stderr.trim()}`));
      } else resolve(res);
    });
    child.stdin.on("error", () => undefined); // git may exit before reading all input
    child.stdin.end(opts.input ?? "");
  });
}

export interface ObjectHit {
  sha: string;
  type: string;
  data: Buffer;
}

/**
 * One long-lived `git cat-file --batch` answering object reads in order: object ids are
 * immutable, so this is safe to share, and it saves a process spawn per read. Refs are always
 * resolved with a fresh `rev-parse` by callers, never through this reader.
 */
export class ObjectReader {
  private child: ChildProcessWithoutNullStreams | undefined;
  private buf = Buffer.alloc(0);
  private waiting: { resolve: (hit: ObjectHit | null) => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly dir: string) {}

  read(name: string): Promise<ObjectHit | null> {
    if (/[\r\n]/.test(name)) return Promise.resolve(null);
    const child = this.start();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin.write(`${name}\n`);
    });
  }

  close(): void {
    this.child?.stdin.end();
    this.child?.kill();
    this.child = undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn("git", ["cat-file", "--batch"], {
      cwd: this.dir,
      env: gitEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
    const fail = (e: Error) => {
      for (const w of this.waiting.splice(0))
        w.reject(new Error("git cat-file --batch failed", { cause: e }));
      if (this.child === child) this.child = undefined;
    };
    child.on("error", fail);
    child.on("close", () => fail(new Error("exited")));
    child.stdin.on("error", () => undefined);
    child.stderr.resume();
    this.child = child;
    return child;
  }

  private drain(): void {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0 || this.waiting.length === 0) return;
      const header = this.buf.subarray(0, nl).toString("utf8");
      const m = /^([0-9a-f]{40,64}) (\w+) (\d+)$/.exec(header);
      if (!m) {
        // `<name> missing` or `<name> ambiguous`
        this.buf = this.buf.subarray(nl + 1);
        this.waiting.shift()?.resolve(null);
        continue;
      }
      const size = Number(m[3]);
      if (this.buf.length < nl + 1 + size + 1) return;
      const data = Buffer.from(this.buf.subarray(nl + 1, nl + 1 + size));
      this.buf = this.buf.subarray(nl + 1 + size + 1);
      this.waiting.shift()?.resolve({ sha: m[1] ?? "", type: m[2] ?? "", data });
    }
  }
}

/** Serializes async work per key (a ref name) so the fake's own read-modify-write is atomic. */
export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
