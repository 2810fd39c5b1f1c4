import { describe, expect, it } from "vitest";
import { classifyOutcome, failureKindOf, findMarker, isRetryable } from "../src/core/outcome.js";
import type { ResultEvent, SessionResult } from "../src/core/session-result.js";

function session(result?: Partial<ResultEvent>, over: Partial<SessionResult> = {}): SessionResult {
  return {
    exitCode: result?.is_error ? 1 : 0,
    timedOut: false,
    ...(result
      ? { result: { subtype: "success", is_error: false, num_turns: 3, permission_denials: [], ...result } }
      : {}),
    toolCalls: 2,
    permissionDenials: [],
    costUsd: 0.1,
    stderrTail: "",
    durationMs: 1000,
    ...over,
  };
}

const none = { commitsAhead: 0, changedFiles: 0 };
const some = { commitsAhead: 2, changedFiles: 3 };

describe("classifyOutcome", () => {
  it("complete: marker and commits", () => {
    expect(classifyOutcome({ session: session({ result: "Done.\nTASK_COMPLETE" }), ...some })).toEqual({
      outcome: "complete",
    });
  });

  it("complete: marker with uncommitted changes the action will commit", () => {
    expect(
      classifyOutcome({ session: session({ result: "**TASK_COMPLETE**" }), commitsAhead: 0, changedFiles: 1 })
        .outcome,
    ).toBe("complete");
  });

  it("no-changes: marker without any change", () => {
    expect(classifyOutcome({ session: session({ result: "TASK_COMPLETE" }), ...none }).outcome).toBe(
      "no-changes",
    );
  });

  it("blocked: takes the reason, even with commits", () => {
    expect(
      classifyOutcome({
        session: session({ result: "I tried.\nTASK_BLOCKED: needs a DB password\n" }),
        ...some,
      }),
    ).toEqual({
      outcome: "blocked",
      reason: "needs a DB password",
    });
  });

  it("the last marker wins", () => {
    expect(
      classifyOutcome({
        session: session({ result: "TASK_BLOCKED: x\nfixed it after all\nTASK_COMPLETE" }),
        ...some,
      }).outcome,
    ).toBe("complete");
    expect(findMarker("mentions TASK_COMPLETE inline only")).toBeUndefined();
  });

  it("implicit-complete: commits but no marker; no-changes: nothing at all", () => {
    expect(classifyOutcome({ session: session({ result: "Done." }), ...some }).outcome).toBe(
      "implicit-complete",
    );
    expect(classifyOutcome({ session: session({ result: "Done." }), ...none }).outcome).toBe("no-changes");
  });

  it("api-error when is_error even with subtype success, with a failure kind", () => {
    const s = session({
      is_error: true,
      result: "API Error: 500 boom",
      api_error_status: 500,
      api_error_type: "api_error",
    });
    expect(classifyOutcome({ session: s, ...some })).toEqual({
      outcome: "api-error",
      reason: "API Error: 500 boom",
      failureKind: "api",
    });
    const auth = session({
      is_error: true,
      result: "Invalid API key · Fix external API key",
      api_error_status: 401,
    });
    expect(classifyOutcome({ session: auth, ...none }).failureKind).toBe("auth");
    const limited = session({ is_error: true, result: "API Error: Request rejected (429) · slow down" });
    expect(classifyOutcome({ session: limited, ...none }).failureKind).toBe("rate-limit");
  });

  it("max-turns although the CLI also sets is_error", () => {
    const s = session({
      subtype: "error_max_turns",
      is_error: true,
      errors: ["Reached maximum number of turns (25)"],
    });
    expect(classifyOutcome({ session: s, ...some })).toEqual({
      outcome: "max-turns",
      reason: "Reached maximum number of turns (25)",
    });
  });

  it("budget-exceeded for the per-task budget stop", () => {
    const s = session({
      subtype: "error_max_budget_usd",
      is_error: true,
      errors: ["Reached maximum budget ($5)"],
    });
    expect(classifyOutcome({ session: s, ...some }).outcome).toBe("budget-exceeded");
  });

  it("timeout when killed without a result", () => {
    expect(
      classifyOutcome({
        session: session(undefined, { timedOut: true, durationMs: 1_800_000, exitCode: null }),
        ...some,
      }),
    ).toEqual({
      outcome: "timeout",
      reason: "stopped by the wall-clock timeout after 1800 s",
    });
  });

  it("api-error when the CLI died without a result, quoting its stderr", () => {
    const r = classifyOutcome({
      session: session(undefined, {
        exitCode: 1,
        stderrTail: "warming up\nError: 401 authentication failed\n",
      }),
      ...none,
    });
    expect(r.outcome).toBe("api-error");
    expect(r.reason).toContain(
      "exited with code 1 without a result: warming up Error: 401 authentication failed",
    );
    expect(r.failureKind).toBe("auth");
  });
});

describe("failureKindOf and isRetryable", () => {
  it("maps statuses and texts", () => {
    expect(failureKindOf(403, "")).toBe("auth");
    expect(failureKindOf(529, "")).toBe("rate-limit");
    expect(failureKindOf(undefined, "Overloaded")).toBe("rate-limit");
    expect(failureKindOf(500, "internal")).toBe("api");
  });

  it("retries API errors always, limits only with progress, nothing else", () => {
    expect(isRetryable("api-error", false)).toBe(true);
    expect(isRetryable({ outcome: "api-error", failureKind: "rate-limit" }, false)).toBe(true);
    expect(isRetryable("max-turns", true)).toBe(true);
    expect(isRetryable("max-turns", false)).toBe(false);
    expect(isRetryable("timeout", true)).toBe(true);
    expect(isRetryable("timeout", false)).toBe(false);
    for (const o of ["complete", "blocked", "implicit-complete", "no-changes", "budget-exceeded"] as const) {
      expect(isRetryable(o, true)).toBe(false);
    }
  });
});
