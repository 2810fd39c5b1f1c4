import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { classify, dependenciesOf, priorityOf, skipReason } from "../src/core/classify.js";
import { approve, intake, type IssueView, type Sender } from "../src/core/governance.js";
import { admitAndClaim, budgetState } from "../src/core/queue.js";
import { emptyLedger, type Ledger, LedgerError, type Task } from "../src/core/ledger.js";
import { appendToArchive, groupByArchiveFile } from "../src/core/archive.js";
import { compactLedger, countIn, dueForArchive, PENDING_STATES, transition } from "../src/core/lifecycle.js";

const config = parseConfig("");
const NOW = "2026-11-24T10:00:00Z";
const maintainer: Sender = { login: "maya", permission: "maintain", isBot: false };
const reader: Sender = { login: "rick", permission: "read", isBot: false };
const body = "Please update the installation guide in docs/install.md to mention Node 20.";
const issue = (number: number, labels: string[], extra: Partial<IssueView> = {}): IssueView => ({
  number,
  title: `Issue ${number}`,
  body,
  labels: ["aegis", ...labels],
  assignees: [],
  ...extra,
});
const ctx = { config, now: NOW, runId: "100" };
const queueCtx = { config, now: NOW, runId: "100", runAttempt: 1, issueClosed: () => undefined };

describe("classify", () => {
  it("maps labels with the most restrictive authority and the map's category precedence", () => {
    expect(classify(["documentation"], config)).toMatchObject({
      kind: "task",
      category: "docs",
      authority: "auto_safe",
    });
    expect(classify(["documentation", "bug"], config)).toMatchObject({
      category: "bugfix",
      authority: "proposed",
    });
    expect(classify(["bug", "enhancement"], config)).toMatchObject({
      category: "bugfix",
      authority: "proposed",
    });
    expect(classify(["enhancement", "bug"], config)).toMatchObject({ category: "bugfix" });
    expect(classify(["Documentation"], config)).toMatchObject({ category: "docs" });
    expect(classify(["question"], config)).toEqual({
      kind: "unmapped",
      understood: Object.keys(config.labels),
    });
  });

  it("orders priority labels with unlabeled between high and low", () => {
    expect(priorityOf(["priority:critical"], config)).toBe(0);
    expect(priorityOf(["priority:high"], config)).toBe(1);
    expect(priorityOf([], config)).toBe(2);
    expect(priorityOf(["priority:low"], config)).toBe(3);
  });

  it("explains skips", () => {
    expect(skipReason({ labels: ["wishlist"], body, assignees: [] }, config)).toContain("`wishlist`");
    expect(skipReason({ labels: [], body, assignees: ["ann"] }, config)).toContain("@ann");
    expect(skipReason({ labels: [], body: "fix it", assignees: [] }, config)).toContain("6 characters");
    expect(skipReason({ labels: [], body, assignees: [] }, config)).toBeUndefined();
  });

  it("reads dependencies from the body", () => {
    expect(dependenciesOf("Depends on #12 and #14. Blocked by: #3, #4\nmentions #99", 5)).toEqual([
      3, 4, 12, 14,
    ]);
    expect(dependenciesOf("depends on #5", 5)).toEqual([]);
  });
});

describe("intake", () => {
  it("queues auto_safe work from a maintainer", () => {
    const ledger = emptyLedger(NOW);
    const decision = intake(ledger, issue(1, ["documentation"]), maintainer, ctx);
    expect(decision.kind).toBe("created");
    expect(ledger.tasks[0]).toMatchObject({
      id: "1-1",
      state: "queued",
      category: "docs",
      needsApproval: false,
      predictedFiles: ["docs/install.md"],
    });
  });

  it("holds proposed work, and auto_safe work from someone who cannot approve", () => {
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["bug"]), maintainer, ctx);
    intake(ledger, issue(2, ["documentation"]), reader, ctx);
    expect(ledger.tasks.map((t) => t.state)).toEqual(["awaiting-approval", "awaiting-approval"]);
    expect(ledger.tasks[1]!.history[0]!.reason).toContain("@rick (read) cannot start work alone");
  });

  it("honours an approval that came before the trigger", () => {
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["bug"]), reader, { ...ctx, approvedBy: { login: "maya", at: NOW } });
    expect(ledger.tasks[0]).toMatchObject({ state: "queued", approvedBy: { login: "maya" } });
  });

  it("refuses bots unless allowed, unmapped labels, and skipped issues, with reasons", () => {
    const ledger = emptyLedger(NOW);
    const bot: Sender = { login: "renovate[bot]", permission: "write", isBot: true };
    expect(intake(ledger, issue(1, ["documentation"]), bot, ctx)).toMatchObject({ kind: "reject" });
    const allowed = parseConfig("allowedBots: ['renovate[bot]']");
    expect(intake(ledger, issue(1, ["documentation"]), bot, { ...ctx, config: allowed })).toMatchObject({
      kind: "created",
    });
    const unmapped = intake(ledger, issue(2, ["question"]), maintainer, ctx);
    expect(unmapped).toMatchObject({ kind: "reject" });
    expect((unmapped as { reason: string }).reason).toContain("`documentation`");
    expect(intake(ledger, issue(3, ["documentation", "epic"]), maintainer, ctx)).toMatchObject({
      kind: "reject",
    });
  });

  it("is idempotent for an issue that already has an open task", () => {
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["documentation"]), maintainer, ctx);
    expect(intake(ledger, issue(1, ["documentation"]), maintainer, ctx)).toMatchObject({ kind: "exists" });
    expect(ledger.tasks).toHaveLength(1);
    expect(ledger.seq).toBe(1);
  });

  it("refuses identical normalised titles among open tasks", () => {
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["documentation"], { title: "Fix the README!" }), maintainer, ctx);
    const decision = intake(
      ledger,
      issue(2, ["documentation"], { title: "fix  the readme" }),
      maintainer,
      ctx,
    );
    expect(decision).toMatchObject({ kind: "duplicate", original: { issue: 1 } });
  });

  it("defers over the pending cap and admits oldest first when room frees", () => {
    const ledger = emptyLedger(NOW);
    for (let n = 1; n <= 6; n++) intake(ledger, issue(n, ["bug"]), maintainer, ctx);
    expect(ledger.tasks.map((t) => t.state)).toEqual([...Array(5).fill("awaiting-approval"), "deferred"]);
    expect(ledger.tasks[5]!.deferredReason).toContain("pending cap");
    admitAndClaim(ledger, queueCtx);
    expect(ledger.tasks[5]!.state).toBe("deferred");
    transition(ledger.tasks[0]!, { to: "cancelled", actor: "x", reason: "closed", now: NOW });
    admitAndClaim(ledger, queueCtx);
    expect(ledger.tasks[5]!.state).toBe("awaiting-approval");
  });
});

describe("approval", () => {
  it("a maintainer moves awaiting-approval to queued; a reader is refused", () => {
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["bug"]), maintainer, ctx);
    expect(approve(ledger, 1, reader, ctx)).toMatchObject({ kind: "refused" });
    expect(ledger.tasks[0]!.state).toBe("awaiting-approval");
    expect(approve(ledger, 1, maintainer, ctx)).toMatchObject({ kind: "approved" });
    expect(ledger.tasks[0]).toMatchObject({ state: "queued", approvedBy: { login: "maya", at: NOW } });
    expect(approve(ledger, 2, maintainer, ctx)).toEqual({ kind: "no-task" });
  });
});

describe("claiming", () => {
  const queued =
    (n: number, labels: string[] = ["documentation"], extra: Partial<IssueView> = {}) =>
    (ledger: Ledger) =>
      intake(ledger, issue(n, labels, extra), maintainer, ctx);

  it("claims by priority then age, up to the running cap, and records the attempt", () => {
    const ledger = emptyLedger(NOW);
    const plain = { body: "Improve the wording of the introduction section." };
    queued(1, ["documentation"], plain)(ledger);
    queued(2, ["documentation", "priority:low"], { ...plain, title: "two" })(ledger);
    queued(3, ["documentation", "priority:high"], { ...plain, title: "three" })(ledger);
    const result = admitAndClaim(ledger, queueCtx);
    expect(result.claimed.map((t) => t.issue)).toEqual([3, 1]);
    expect(result.held.map((h) => h.task.issue)).toEqual([2]);
    expect(ledger.tasks.find((t) => t.issue === 3)!.attempts).toEqual([
      { number: 1, runId: "100/1", startedAt: NOW },
    ]);
    // A second plan finds nothing more to claim: the cap holds.
    expect(admitAndClaim(ledger, queueCtx).claimed).toEqual([]);
  });

  it("holds tasks whose dependencies are open or whose files overlap a running task", () => {
    const ledger = emptyLedger(NOW);
    queued(1, ["documentation"], { body: "Rewrite docs/install.md for clarity please." })(ledger);
    queued(2, ["documentation"], { body: "Also docs/install.md needs a section on proxies." })(ledger);
    queued(3, ["documentation"], { body: "Depends on #1. Then tidy up docs/other.md too." })(ledger);
    const result = admitAndClaim(ledger, { ...queueCtx, config: parseConfig("caps: { running: 5 }") });
    expect(result.claimed.map((t) => t.issue)).toEqual([1]);
    expect(result.held.map((h) => h.reason)).toEqual([
      expect.stringContaining("docs/install.md"),
      "waiting for #1",
    ]);
  });

  it("defers queued work while the daily budget is spent, and resumes the next day", () => {
    const budgeted = parseConfig("budgets: { dailyUsd: 1 }");
    const ledger = emptyLedger(NOW);
    queued(1)(ledger);
    admitAndClaim(ledger, { ...queueCtx, config: budgeted });
    const task = ledger.tasks[0]!;
    task.attempts[0]!.costUsd = 1.5;
    task.attempts[0]!.endedAt = NOW;
    transition(task, { to: "queued", actor: "aegis", reason: "retry", now: NOW });
    expect(budgetState(ledger, budgeted, NOW)).toMatchObject({
      spentToday: 1.5,
      exhausted: expect.stringContaining("daily budget"),
    });
    expect(admitAndClaim(ledger, { ...queueCtx, config: budgeted }).claimed).toEqual([]);
    expect(task.state).toBe("deferred");
    const tomorrow = "2026-11-25T00:05:00Z";
    const result = admitAndClaim(ledger, { ...queueCtx, config: budgeted, now: tomorrow });
    expect(result.claimed.map((t) => t.id)).toEqual([task.id]);
  });

  it("work the budget held comes back within the pending cap (found by the property tests)", () => {
    const config = parseConfig("caps: { pendingPerRepo: 1, running: 1 }\nbudgets: { dailyUsd: 1 }");
    const at = (minutes: number) => new Date(Date.parse(NOW) + minutes * 60_000).toISOString();
    const plan = (minutes: number) => admitAndClaim(ledger, { ...queueCtx, config, now: at(minutes) });
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["documentation"]), maintainer, { ...ctx, config });
    plan(1);
    const first = ledger.tasks[0]!;
    Object.assign(first.attempts[0]!, { costUsd: 1, endedAt: at(2) });
    transition(first, { to: "queued", actor: "aegis", reason: "retry", now: at(2) });
    // #2 arrives while the cap is full, then the spent budget moves #1 aside and #2 takes its slot.
    intake(ledger, issue(2, ["documentation"], { title: "two" }), reader, { ...ctx, config, now: at(3) });
    plan(4);
    plan(5);
    expect(ledger.tasks.map((t) => t.state)).toEqual(["deferred", "awaiting-approval"]);
    // Next day: the budget is back, but the slot is taken, so #1 waits for room instead of overfilling.
    plan(24 * 60);
    expect(countIn(ledger, PENDING_STATES)).toBe(1);
    expect(first.state).toBe("deferred");
  });

  it("claims nothing while the circuit breaker is open", () => {
    const ledger = emptyLedger(NOW);
    queued(1)(ledger);
    ledger.breaker = { consecutiveInfraFailures: 3, open: true, reason: "3 auth failures" };
    const result = admitAndClaim(ledger, queueCtx);
    expect(result.claimed).toEqual([]);
    expect(result.held[0]!.reason).toContain("circuit breaker");
  });
});

describe("compaction", () => {
  it("moves long-finished tasks into daily rollups and keeps the rest", () => {
    const ledger = emptyLedger(NOW);
    intake(ledger, issue(1, ["documentation"]), maintainer, { ...ctx, now: "2026-11-01T10:00:00Z" });
    intake(ledger, issue(2, ["documentation"]), maintainer, ctx);
    const old = ledger.tasks[0]!;
    old.costUsd = 0.5;
    transition(old, { to: "cancelled", actor: "x", reason: "closed", now: "2026-11-02T10:00:00Z" });
    expect(compactLedger(ledger, NOW).map((t) => t.issue)).toEqual([1]);
    expect(ledger.tasks.map((t) => t.issue)).toEqual([2]);
    expect(ledger.rollups["2026-11-02"]).toEqual({
      done: 0,
      failed: 0,
      blocked: 0,
      cancelled: 1,
      costUsd: 0.5,
    });
  });

  it("archives in batches: 25 due tasks, or one that ended 15 days ago; failed tasks stay", () => {
    const ledger = emptyLedger(NOW);
    const finish = (issue: number, days: number, state: Task["state"]) =>
      ledger.tasks.push(fakeTask(`${issue}-${issue}`, daysAgo(days), state));
    for (let n = 1; n <= 24; n++) finish(n, 9, n % 2 ? "done" : "cancelled");
    finish(100, 30, "failed");
    finish(101, 3, "done");
    expect(dueForArchive(ledger, NOW)).toEqual([]); // 24 due, the oldest 9 days: the batch waits
    finish(25, 9, "done");
    expect(dueForArchive(ledger, NOW).map((t) => t.id)).toEqual(
      Array.from({ length: 25 }, (_, i) => `${i + 1}-${i + 1}`),
    );
    const small = emptyLedger(NOW);
    small.tasks.push(fakeTask("1-1", daysAgo(9), "done"), fakeTask("2-2", daysAgo(14), "cancelled"));
    expect(dueForArchive(small, NOW)).toEqual([]);
    small.tasks[1]!.updatedAt = daysAgo(16);
    expect(dueForArchive(small, NOW).map((t) => t.id)).toEqual(["1-1", "2-2"]);
  });
});

const daysAgo = (days: number) => new Date(Date.parse(NOW) - days * 86_400_000).toISOString();
/** Only what compaction and the archive read: the id, the state and when it last changed. */
const fakeTask = (id: string, updatedAt: string, state: Task["state"] = "done") =>
  ({ id, updatedAt, state, costUsd: 0 }) as unknown as Task;

describe("archive files", () => {
  const task = (id: string, updatedAt: string) => fakeTask(id, updatedAt);

  it("groups by the month a task ended and appends each task once", () => {
    const a = task("1", "2026-10-31T23:59:00Z");
    const b = task("2", "2026-11-01T00:00:00Z");
    const c = task("3", "2026-11-20T00:00:00Z");
    expect(groupByArchiveFile([c, a, b]).map(([path, ts]) => [path, ts.map((t) => t.id)])).toEqual([
      ["archive/2026-10.jsonl", ["1"]],
      ["archive/2026-11.jsonl", ["3", "2"]],
    ]);
    const first = appendToArchive(undefined, [b], "x");
    expect(first).toEqual({ text: `${JSON.stringify(b)}\n`, added: 1 });
    const again = appendToArchive(first.text, [b, c], "x");
    expect(again.added).toBe(1);
    expect(
      again.text
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(["2", "3"]);
  });

  it("refuses a file with a line that is not a task record", () => {
    expect(() => appendToArchive('{"id":"1"}\nnot json\n', [], "archive/2026-11.jsonl")).toThrow(
      /archive\/2026-11.jsonl, line 2, is not a task record/,
    );
    expect(() => appendToArchive('{"issue":1}\n', [], "f")).toThrow(LedgerError);
  });
});
