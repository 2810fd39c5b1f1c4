// Fault injection: canned responses served instead of (before) or in place of the answer to
// (after) a handled request. "after" is the hard case: the write happened, the client saw a 5xx.

export interface FaultSpec {
  /** HTTP method, case-insensitive; any when omitted. */
  method?: string;
  /**
   * The operation's path template (`/repos/{owner}/{repo}/contents/{path}`), a suffix of it
   * (`/contents/{path}`), `METHOD template`, an operationId (`repos/create-or-update-file-contents`),
   * or a RegExp tested against `METHOD template`. Any route when omitted.
   */
  route?: string | RegExp;
  /** Tested against the request's concrete path (`/repos/o/r/contents/state.json`), when given. */
  path?: RegExp;
  /** The HTTP status to answer with; 0 drops the connection without an answer (a reset). */
  status: number;
  /** How many matching requests to hit; default 1. `Infinity` for all. */
  times?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** "before": the handler does not run. "after": it runs, then the client gets the fault. */
  when?: "before" | "after";
}

export interface ActiveFault extends FaultSpec {
  remaining: number;
  hits: number;
}

export class Faults {
  readonly rules: ActiveFault[] = [];
  latencyMs = 0;

  add(spec: FaultSpec): ActiveFault {
    const rule: ActiveFault = { ...spec, remaining: spec.times ?? 1, hits: 0 };
    this.rules.push(rule);
    return rule;
  }

  clear(): void {
    this.rules.length = 0;
    this.latencyMs = 0;
  }

  /** Consumes and returns the first rule matching this request at this stage. */
  take(
    stage: "before" | "after",
    method: string,
    template: string,
    operationId: string,
    path = "",
  ): ActiveFault | undefined {
    const full = `${method.toUpperCase()} ${template}`;
    const rule = this.rules.find((r) => {
      if (r.remaining <= 0 || (r.when ?? "before") !== stage) return false;
      if (r.method && r.method.toUpperCase() !== method.toUpperCase()) return false;
      if (r.path && !r.path.test(path)) return false;
      if (r.route === undefined) return true;
      if (r.route instanceof RegExp) return r.route.test(full);
      return (
        r.route === full || r.route === operationId || template.endsWith(r.route) || full.endsWith(r.route)
      );
    });
    if (rule) {
      rule.remaining -= 1;
      rule.hits += 1;
    }
    return rule;
  }
}

export function faultBody(rule: FaultSpec): unknown {
  if (rule.body !== undefined) return rule.body;
  const messages: Record<number, string> = {
    403: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    429: "API rate limit exceeded",
    500: "Internal Server Error",
    502: "Server Error",
    503: "Service Unavailable",
  };
  return {
    message: messages[rule.status] ?? "Injected fault",
    documentation_url: "https://docs.github.com/rest",
  };
}
