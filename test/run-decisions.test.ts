import { describe, expect, it } from "vitest";
import { emptyLedger, type Ledger, type Task } from "../src/core/ledger.js";
import { addTask, transition } from "../src/core/lifecycle.js";
import type { OutcomeResult } from "../src/core/outcome.js";
import {
  applyGates,
  checkStart,
  chooseModel,
  closeAttempt,
  continuationSha,
  earlierAttempts,
  isRegression,
  isSecretLikePath,
  nextBreaker,
  planAfterSession,
  taskBranch,
  testsLabel,
  type Plan,
  type TestRun,
} from "../src/core/run-decisions.js";
import { agentSummary, failureComment, prBody, renderRunSummary } from "../src/core/run-report.js";

const NOW = "2026-03-01T12:00:00Z";

function ledgerWithRunningTask(): { ledger: Ledger; task: Task } {
  const ledger = emptyLedger(NOW);
  const task = addTask(
    ledger,
    {
      issue: 7,
      title: "Fix it",
      category: "bugfix",
      authority: "proposed",
      priority: 1,
      requestedBy: "maya",
      needsApproval: false,
      dependsOn: [],
      predictedFiles: [],
    },
    "queued",
    { actor: "maya", reason: "approved", now: NOW },
  );
  transition(task, { to: "running", actor: "aegis", reason: "claimed", now: NOW });
  task.attempts.push({ number: 1, runId: "9/1", startedAt: NOW });
  return { ledger, task };
}

const run = (passed: boolean): TestRun => ({
  passed,
  timedOut: false,
  exitCode: passed ? 0 : 1,
  tail: "",
  durationMs: 5,
});
const after = (
  outcome: OutcomeResult,
  commitsAhead = 0,
  newCommits = commitsAhead,
  attempt = 1,
  maxAttempts = 2,
) => planAfterSession({ outcome, commitsAhead, newCommits, attempt, maxAttempts });

describe("checkStart", () => {
  it("an unknown task is fatal; a task that is not running is a benign skip", () => {
    const { ledger, task } = ledgerWithRunningTask();
    expect(checkStart(ledger, "99-9")).toMatchObject({ ok: false, fatal: true });
    expect(checkStart(ledger, task.id)).toMatchObject({ ok: true });
    task.attempts[0]!.endedAt = NOW;
    expect(checkStart(ledger, task.id)).toMatchObject({ ok: false, fatal: false });
    task.state = "pr-open";
    expect(checkStart(ledger, task.id)).toMatchObject({ ok: false, fatal: false, state: "pr-open" });
  });
});

describe("small decisions", () => {
  it("names the branch and routes the model by input, category, then default", () => {
    expect(taskBranch({ category: "docs", id: "4-2" })).toBe("auto/docs/4-2");
    expect(chooseModel("opus", { docs: "haiku", default: "sonnet" }, "docs")).toBe("opus");
    expect(chooseModel("", { docs: "haiku", default: "sonnet" }, "docs")).toBe("haiku");
    expect(chooseModel("", { default: "sonnet" }, "bugfix")).toBe("sonnet");
    expect(chooseModel("", {}, "bugfix")).toBeUndefined();
  });

  it("recognises files that usually hold credentials", () => {
    for (const p of [
      ".env",
      "app/.env.local",
      "key.pem",
      "id_rsa",
      "id_rsa.pub",
      ".git-credentials",
      ".npmrc",
    ])
      expect(isSecretLikePath(p), p).toBe(true);
    for (const p of [".env.example", "src/env.ts", "README.md", "pem.txt"])
      expect(isSecretLikePath(p), p).toBe(false);
  });

  it("remembers earlier attempts and continues only from the attempt just before", () => {
    const { task } = ledgerWithRunningTask();
    task.attempts[0] = { ...task.attempts[0]!, endedAt: NOW, outcome: "max-turns", reason: "25 turns" };
    (task.attempts[0] as Record<string, unknown>).branchSha = "a".repeat(40);
    task.attempts.push({ number: 2, runId: "10/1", startedAt: NOW });
    expect(earlierAttempts(task, 2)).toEqual([{ attempt: 1, outcome: "max-turns", reason: "25 turns" }]);
    expect(continuationSha(task, 2)).toBe("a".repeat(40));
    expect(continuationSha(task, 3)).toBeUndefined();
  });

  it("labels tests and spots only a pass → fail regression", () => {
    expect(testsLabel()).toBeUndefined();
    expect(testsLabel(run(true), run(false))).toBe("pass → fail");
    expect(testsLabel(run(false))).toBe("fail → not run");
    expect(isRegression(run(true), run(false))).toBe(true);
    expect(isRegression(run(false), run(false))).toBe(false);
    expect(isRegression(run(true), run(true))).toBe(false);
  });
});

describe("planAfterSession", () => {
  it("complete or implicit-complete with commits opens a PR", () => {
    expect(after({ outcome: "complete" }, 2)).toMatchObject({ push: "pr", state: "pr-open" });
    expect(after({ outcome: "implicit-complete" }, 1).reason).toContain("implicit complete");
  });

  it("blocked stops with the agent's reason", () => {
    expect(after({ outcome: "blocked", reason: "needs a decision" })).toEqual({
      push: "none",
      state: "blocked",
      reason: "blocked: needs a decision",
    });
  });

  it("retries API errors and rate limits while attempts remain, never auth", () => {
    expect(after({ outcome: "api-error", failureKind: "api", reason: "500" })).toMatchObject({
      state: "queued",
      push: "none",
    });
    expect(after({ outcome: "api-error", failureKind: "rate-limit" })).toMatchObject({ state: "queued" });
    expect(after({ outcome: "api-error", failureKind: "auth", reason: "401" })).toMatchObject({
      state: "failed",
    });
    expect(after({ outcome: "api-error", failureKind: "api" }, 0, 0, 2, 2).reason).toContain(
      "no attempts left",
    );
  });

  it("retries max turns and timeouts only with progress, keeping the work on the branch", () => {
    expect(after({ outcome: "max-turns" }, 1, 1)).toMatchObject({ state: "queued", push: "wip" });
    expect(after({ outcome: "timeout" }, 0, 0)).toMatchObject({ state: "failed" });
    expect(after({ outcome: "max-turns" }, 3, 0).reason).toContain("no progress");
    expect(after({ outcome: "max-turns" }, 1, 1, 2, 2)).toMatchObject({ state: "failed", push: "none" });
  });

  it("no changes and a spent budget fail", () => {
    expect(after({ outcome: "no-changes" }).state).toBe("failed");
    expect(after({ outcome: "budget-exceeded" }, 2, 2).state).toBe("failed");
  });
});

describe("applyGates", () => {
  const pr: Plan = { push: "pr", state: "pr-open", reason: "done" };
  it("a failed check or a regression turns a push into a failure; otherwise the plan stands", () => {
    const v = { check: "protected-path" as const, path: ".github/workflows/x.yml", detail: "protected" };
    expect(applyGates(pr, { violations: [v] })).toMatchObject({ push: "none", state: "failed" });
    expect(applyGates(pr, { violations: [v] }).reason).toContain("protected-path");
    expect(applyGates(pr, { violations: [], base: run(true), branch: run(false) }).reason).toContain(
      "regression",
    );
    expect(applyGates(pr, { violations: [], base: run(false), branch: run(false) })).toBe(pr);
    const wip: Plan = { push: "wip", state: "queued", reason: "max turns" };
    expect(applyGates(wip, { violations: [], base: run(true), branch: run(false) })).toBe(wip);
  });
});

describe("nextBreaker", () => {
  it("counts infrastructure failures, opens at the threshold, ignores rate limits and closes on any working session", () => {
    let b: Ledger["breaker"] = { consecutiveInfraFailures: 0, open: false };
    b = nextBreaker(b, { outcome: "api-error", failureKind: "auth", reason: "401" }, 2, NOW);
    expect(b).toEqual({ consecutiveInfraFailures: 1, open: false });
    expect(nextBreaker(b, { outcome: "api-error", failureKind: "rate-limit" }, 2, NOW)).toBe(b);
    b = nextBreaker(b, { outcome: "api-error", failureKind: "api", reason: "500" }, 2, NOW);
    expect(b).toMatchObject({ consecutiveInfraFailures: 2, open: true, since: NOW });
    expect(b.reason).toContain("500");
    expect(nextBreaker(b, { outcome: "blocked" }, 2, NOW)).toEqual({
      consecutiveInfraFailures: 0,
      open: false,
    });
  });
});

describe("closeAttempt", () => {
  const record = {
    outcome: "complete",
    turns: 4,
    costUsd: 0.5,
    durationMs: 1000,
    resumed: false,
    commits: 1,
    files: ["a"],
  };
  const plan: Plan = { push: "pr", state: "pr-open", reason: "the agent finished" };
  const meta = {
    now: NOW,
    runId: "9",
    breakerThreshold: 3,
    branch: "auto/bugfix/1-1",
    outcome: { outcome: "complete" } as OutcomeResult,
  };

  it("closes the attempt, sums the task, moves it, and is a no-op when re-applied", () => {
    const { ledger, task } = ledgerWithRunningTask();
    ledger.breaker = { consecutiveInfraFailures: 2, open: false };
    const pr = { number: 12, url: "https://x/pull/12" };
    const first = closeAttempt(ledger, task.id, 1, { ...record, branchSha: "b".repeat(40) }, plan, {
      ...meta,
      pr,
    });
    expect(first.kind).toBe("recorded");
    expect(task).toMatchObject({ state: "pr-open", costUsd: 0.5, turns: 4, pr, branch: "auto/bugfix/1-1" });
    expect(task.attempts[0]).toMatchObject({ outcome: "complete", endedAt: NOW, branchSha: "b".repeat(40) });
    expect(ledger.breaker.consecutiveInfraFailures).toBe(0);
    const again = closeAttempt(ledger, task.id, 1, record, plan, meta);
    expect(again).toEqual({ kind: "moved-on", state: "pr-open" });
    expect(task.history.filter((h) => h.to === "pr-open")).toHaveLength(1);
  });

  it("leaves a task that moved on (cancelled meanwhile) or left the ledger alone", () => {
    const { ledger, task } = ledgerWithRunningTask();
    transition(task, { to: "cancelled", actor: "maya", reason: "closed", now: NOW });
    expect(closeAttempt(ledger, task.id, 1, record, plan, meta)).toEqual({
      kind: "moved-on",
      state: "cancelled",
    });
    expect(task.attempts[0]!.endedAt).toBeUndefined();
    expect(closeAttempt(ledger, "5-5", 1, record, plan, meta)).toEqual({ kind: "gone" });
  });

  it("without a session outcome (an action error) leaves the breaker as it was", () => {
    const { ledger, task } = ledgerWithRunningTask();
    ledger.breaker = { consecutiveInfraFailures: 2, open: false };
    const { outcome: _o, ...noOutcome } = meta;
    closeAttempt(
      ledger,
      task.id,
      1,
      record,
      { push: "none", state: "queued", reason: "action error" },
      noOutcome,
    );
    expect(ledger.breaker.consecutiveInfraFailures).toBe(2);
    expect(task.state).toBe("queued");
  });
});

describe("run report", () => {
  const secret = "ghs_secretValue0123456789";
  it("the PR body says Fixes #N, fences the agent's words and redacts secrets", () => {
    const summary = agentSummary(`Done. Token was ${secret}\n![x](https://evil/?q)\nTASK_COMPLETE`, [secret]);
    expect(summary).not.toContain("TASK_COMPLETE");
    expect(summary).not.toContain(secret);
    const body = prBody({
      issue: 7,
      taskId: "7-1",
      category: "bugfix",
      attempt: 1,
      maxAttempts: 2,
      outcome: "complete",
      summary,
      turns: 5,
      costUsd: 0.12,
      durationMs: 65_000,
      tests: "pass → pass",
      commits: 2,
      files: 3,
      leftOut: [".env"],
    });
    expect(body.startsWith("Fixes #7")).toBe(true);
    expect(body).toContain("```text\nDone.");
    expect(body).toContain("pass → pass");
    expect(body).toContain("1m 05s");
    expect(body).toContain("`.env`");
  });

  it("the failure comment names the check and the path, and shows the test tail", () => {
    const text = failureComment({
      taskId: "7-1",
      reason: "pre-push check failed (known-secret): nothing was pushed",
      violations: [
        {
          check: "known-secret",
          path: "leak.txt",
          detail: "a secret value the run holds (#1) appears on added line 1",
        },
      ],
      testCommand: "npm test",
      branchTests: { passed: false, timedOut: false, exitCode: 1, tail: "FAIL something", durationMs: 3 },
    });
    expect(text).toContain("**known-secret** `leak.txt`");
    expect(text).toContain("FAIL something");
    expect(text).toContain("exited 1");
  });

  it("the step summary shows the overhead around the session", () => {
    const md = renderRunSummary({
      taskId: "7-1",
      outcome: "complete",
      wallMs: 10_000,
      sessionMs: 7_000,
      apiCalls: 8,
      violations: [],
    });
    expect(md).toContain("3s (wall 10s minus the session)");
    expect(md).toContain("| Checks | passed |");
  });
});
