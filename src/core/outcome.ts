/**
 * What a session's end means for the task. Pure: it reads the session report and the branch's
 * progress (commits ahead of the base, files changed) and names one outcome with a reason.
 */
import { BLOCKED_MARKER, COMPLETE_MARKER } from "./brief.js";
import { inert } from "./inert.js";
import { oneLine } from "./sanitize.js";
import type { SessionResult } from "./session-result.js";

export type Outcome =
  | "complete"
  | "blocked"
  | "implicit-complete"
  | "max-turns"
  | "timeout"
  | "api-error"
  | "budget-exceeded"
  | "no-changes";

/**
 * For the circuit breaker: an auth failure stops everything, a rate limit backs off. `crash` is a
 * session that failed while the provider answered every call (a CLI killed from inside the room,
 * a call the proxy refused): the task's failure, which the breaker does not count.
 */
export type FailureKind = "auth" | "rate-limit" | "api" | "crash";

export interface OutcomeResult {
  outcome: Outcome;
  /** One line a person can read: the TASK_BLOCKED reason, the API error text, … */
  reason?: string;
  failureKind?: FailureKind;
}

export interface OutcomeInput {
  session: SessionResult;
  commitsAhead: number;
  changedFiles: number;
  /**
   * What the model proxy saw: only a failure the provider itself answered (or no answer at all)
   * is an infrastructure failure. Without it (unit tests of old records) the CLI's word stands.
   */
  proxy?: { upstreamFailures: number; refusedBudget: number };
}

const REASON_MAX = 300;

/**
 * A reason read from the session (the agent's TASK_BLOCKED text, the CLI's error and stderr):
 * it reaches the status comment, the PR and the digest under aegis's name, so it is made inert
 * here, once, where it enters (no live mention, link, image or reference: core/inert.ts).
 */
function line(text: string): string {
  return inert(oneLine(text, REASON_MAX), REASON_MAX);
}

/** The last completion marker in the final text, tolerating markdown emphasis around it. */
export function findMarker(
  text: string | undefined,
): { kind: "complete" } | { kind: "blocked"; reason: string } | undefined {
  if (!text) return undefined;
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = (lines[i] ?? "").trim().replace(/^[*_`>\s]+|[*_`\s]+$/g, "");
    if (l === COMPLETE_MARKER) return { kind: "complete" };
    const blocked = new RegExp(`^${BLOCKED_MARKER}\\s*:\\s*(.*)$`).exec(l);
    if (blocked) return { kind: "blocked", reason: line(blocked[1] ?? "") || "no reason given" };
  }
  return undefined;
}

export function failureKindOf(status: number | null | undefined, text: string): FailureKind {
  if (status === 401 || status === 403 || /\b401\b|authenticat|invalid x-api-key|api key/i.test(text))
    return "auth";
  if (status === 429 || status === 529 || /\b429\b|\b529\b|rate.?limit|overloaded/i.test(text))
    return "rate-limit";
  return "api";
}

export function classifyOutcome(input: OutcomeInput): OutcomeResult {
  const result = classifySession(input);
  const { proxy } = input;
  if (!proxy || result.outcome !== "api-error") return result;
  // The proxy refused a call because the budget was spent: that is how the session ended.
  if (proxy.refusedBudget > 0 && proxy.upstreamFailures === 0)
    return {
      outcome: "budget-exceeded",
      reason: "the model proxy refused further calls: the budget is spent",
    };
  // The provider answered every call: whatever ended the session happened in the room.
  if (proxy.upstreamFailures === 0 && result.failureKind !== "rate-limit")
    return { ...result, failureKind: "crash" };
  return result;
}

function classifySession(input: OutcomeInput): OutcomeResult {
  const { session, commitsAhead, changedFiles } = input;
  const r = session.result;
  const progress = commitsAhead > 0 || changedFiles > 0;

  // Limits first: the CLI flags these with is_error too, but they are not API failures.
  if (r?.subtype === "error_max_turns" || r?.terminal_reason === "max_turns") {
    return {
      outcome: "max-turns",
      reason: line(r.errors?.[0] ?? `max turns reached after ${r.num_turns} turns`),
    };
  }
  if (r?.subtype === "error_max_budget_usd" || r?.terminal_reason === "budget_exhausted") {
    return { outcome: "budget-exceeded", reason: line(r.errors?.[0] ?? "the session budget was spent") };
  }
  if (r?.is_error) {
    const text =
      [r.result, ...(r.errors ?? [])].filter(Boolean).join(" ") ||
      `Claude Code reported an error (${r.subtype})`;
    return {
      outcome: "api-error",
      reason: line(text),
      failureKind: failureKindOf(r.api_error_status, `${r.api_error_type ?? ""} ${text}`),
    };
  }
  if (session.timedOut) {
    return {
      outcome: "timeout",
      reason: `stopped by the wall-clock timeout after ${Math.round(session.durationMs / 1000)} s`,
    };
  }
  if (!r) {
    // Died without a result: a crash, a kill, or a CLI that could not start its session.
    const tail = line(
      session.stderrTail
        .split("\n")
        .filter((l) => l.trim())
        .slice(-3)
        .join(" "),
    );
    return {
      outcome: "api-error",
      reason: `Claude Code exited with code ${session.exitCode ?? "none"} without a result${tail ? `: ${tail}` : ""}`,
      failureKind: failureKindOf(undefined, tail),
    };
  }

  const marker = findMarker(r.result);
  if (marker?.kind === "blocked") return { outcome: "blocked", reason: marker.reason };
  if (marker?.kind === "complete") {
    // Uncommitted changes count: the action commits what the agent left before its checks.
    return progress
      ? { outcome: "complete" }
      : { outcome: "no-changes", reason: "reported complete but changed nothing" };
  }
  if (progress)
    return {
      outcome: "implicit-complete",
      reason: `no ${COMPLETE_MARKER} marker, but the branch has changes`,
    };
  return { outcome: "no-changes", reason: "the session ended without changes or a completion marker" };
}

/**
 * Whether the task goes back to the queue for another attempt (the caller also checks
 * run.maxAttempts): API errors and rate limits always; running out of turns or time only when
 * the branch has progress worth continuing.
 */
export function isRetryable(result: OutcomeResult | Outcome, progress: boolean): boolean {
  const outcome = typeof result === "string" ? result : result.outcome;
  if (outcome === "api-error") return true;
  if (outcome === "max-turns" || outcome === "timeout") return progress;
  return false;
}
