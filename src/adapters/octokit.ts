// The Octokit aegis uses: retry and throttling plugins tuned for a job that makes a handful of
// writes, every request counted (logical calls by route, HTTP requests, retries), and known
// failures turned into advice that names the fix.
import * as core from "@actions/core";
import { getOctokit } from "@actions/github";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import Bottleneck from "bottleneck";

export type Octokit = ReturnType<typeof getOctokit>;

export interface CallStats {
  /** Logical calls by route template, e.g. `GET /repos/{owner}/{repo}/issues/{issue_number}`. */
  byRoute: Map<string, number>;
  /** HTTP requests actually sent, retries included: what the rate limit sees. */
  http: number;
  retries: number;
}

export interface ClientOptions {
  token: string;
  apiUrl: string;
  /** Retries of 5xx and rate-limited requests; tests lower the waits, not the logic. */
  maxRetries?: number;
}

export function createOctokit(options: ClientOptions, stats: CallStats): Octokit {
  const maxRetries = options.maxRetries ?? 4;
  const countingFetch: typeof fetch = (input, init) => {
    stats.http += 1;
    return fetch(input, init);
  };
  const waitNotice =
    (kind: string) =>
    (retryAfter: number, opts: { method: string; url: string }, _o: unknown, count: number) => {
      core.warning(
        `GitHub ${kind} on ${opts.method} ${opts.url}; waiting ${retryAfter}s (retry ${count + 1}).`,
      );
      stats.retries += 1;
      return count < maxRetries;
    };
  const octokit = getOctokit(
    options.token,
    {
      baseUrl: options.apiUrl.replace(/\/+$/, ""),
      request: { fetch: countingFetch },
      // 409 joins the defaults: it is the ledger's compare-and-swap saying "re-read", not a fault.
      retry: { doNotRetry: [400, 401, 403, 404, 409, 410, 422, 451], retries: maxRetries },
      throttle: {
        // Octokit spaces writes a second apart (comments and PRs three) by default, which suits
        // bulk clients. A job here makes a handful of writes; serialising them is enough, and a
        // secondary rate limit, should one come, is honoured through retry-after.
        write: new Bottleneck.Group({ id: "aegis-write", maxConcurrent: 1, minTime: 0 }),
        notifications: new Bottleneck.Group({ id: "aegis-notifications", maxConcurrent: 1, minTime: 0 }),
        onRateLimit: waitNotice("rate limit hit"),
        onSecondaryRateLimit: waitNotice("secondary rate limit"),
      },
    },
    retry,
    throttling,
  );
  octokit.hook.before("request", (opts) => {
    const route = `${opts.method} ${opts.url}`;
    stats.byRoute.set(route, (stats.byRoute.get(route) ?? 0) + 1);
  });
  // Registered after the plugins, so it sees each request's final error, retries spent.
  octokit.hook.error("request", (error, opts) => {
    throw adviseOnError(gaveUp(error, opts));
  });
  return octokit;
}

/**
 * GitHub could not be reached or kept failing (a 5xx, a lost connection, a rate limit) after the
 * client's retries: the operation it was, so the step's failure names it (see main.ts, which says
 * what the next run repairs).
 */
export class GitHubUnavailable extends Error {
  readonly status: number;
  constructor(
    readonly operation: string,
    status: number,
    attempts: number,
    cause: unknown,
  ) {
    const what = status ? `answered ${status}` : "could not be reached";
    super(
      `GitHub ${what} to ${operation}${attempts > 1 ? ` after ${attempts} attempts` : ""}: ${(cause as Error | null)?.message ?? String(cause)}`,
      { cause },
    );
    this.status = status;
  }
}

function gaveUp(error: unknown, opts: { method?: string; url?: string; request?: unknown }): unknown {
  const status = statusOf(error);
  const message = (error as Error | null)?.message ?? "";
  const unavailable =
    status === 0 || status >= 500 || status === 429 || (status === 403 && /rate limit/i.test(message));
  if (!unavailable) return error;
  const path = (opts.url ?? "?").replace(/^https?:\/\/[^/]+/, "").split("?")[0];
  // plugin-retry counts each failed attempt on the request options, the last one included.
  return new GitHubUnavailable(
    `${(opts.method ?? "GET").toUpperCase()} ${path}`,
    status,
    (opts.request as { retryCount?: number } | undefined)?.retryCount ?? 0,
    error,
  );
}

export function statusOf(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : 0;
}

/** Turns the failures users hit into a message that says what to change. */
export function adviseOnError(error: unknown): unknown {
  const status = statusOf(error);
  const message = (error as Error | null)?.message ?? String(error);
  let advice = "";
  if (status === 401) {
    advice =
      "The GitHub token was refused (401): check the `github-token` input and that the secret it names exists.";
  } else if (status === 403 && /not accessible by integration|permission/i.test(message)) {
    advice =
      "The workflow token lacks a permission (403). Give the job `permissions:` with `issues: write`, `pull-requests: write` and `contents: write` (see examples/aegis.yml).";
  }
  if (!advice || !(error instanceof Error)) return error;
  const wrapped = new Error(`${advice} GitHub said: ${message}`, { cause: error });
  (wrapped as Error & { status?: number }).status = status;
  return wrapped;
}
