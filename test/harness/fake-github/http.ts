// Shared types for route handlers.
import type { BareRepo } from "./git.js";
import type { Site } from "./render.js";
import type { Store } from "./state.js";

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw bytes sent as-is (media types other than JSON); not schema-validated. */
  raw?: Buffer;
}

export interface Ctx {
  method: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  /** Login of the token's identity. */
  actor: string;
  /** Full request URL, for Link headers. */
  url: URL;
  site: Site;
  store: Store;
  repo: BareRepo;
  defaultBranch: string;
}

export type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

export interface FieldError {
  resource: string;
  field: string;
  code: string;
  message?: string;
}

/** A GitHub-shaped error response: `{ message, documentation_url, errors? }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: (FieldError | string)[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  toReply(): Reply {
    return { status: this.status, body: this.toBody(), ...(this.headers ? { headers: this.headers } : {}) };
  }

  toBody(): Record<string, unknown> {
    return {
      message: this.message,
      documentation_url: "https://docs.github.com/rest",
      status: String(this.status),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const notFound = (): HttpError => new HttpError(404, "Not Found");

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, body, ...(headers ? { headers } : {}) };
}

export function bodyObj(ctx: Ctx): Record<string, unknown> {
  const b = ctx.body;
  return b !== null && typeof b === "object" && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}

/** Slices a list per `page`/`per_page` (max 100, like GitHub) and builds the `Link` header. */
export function paginate<T>(ctx: Ctx, items: T[]): { page: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.per_page ?? 30) || 30));
  const page = Math.max(1, Number(ctx.query.page ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (p: number, rel: string): string => {
    const u = new URL(ctx.url.toString());
    u.searchParams.set("per_page", String(perPage));
    u.searchParams.set("page", String(p));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  const rels: string[] = [];
  if (page > 1) rels.push(link(page - 1, "prev"));
  if (page < last) rels.push(link(page + 1, "next"), link(last, "last"));
  if (page > 1) rels.push(link(1, "first"));
  return {
    page: items.slice((page - 1) * perPage, page * perPage),
    headers: rels.length ? { link: rels.join(", ") } : {},
  };
}
