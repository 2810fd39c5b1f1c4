import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { ago, duration, renderDigest } from "../src/core/digest.js";
import { costByCategory, tasksOfRun, windowStats } from "../src/core/digest-stats.js";
import {
  type Attempt,
  emptyLedger,
  type Ledger,
  parseLedger,
  type Task,
  type TaskState,
  type Transition,
} from "../src/core/ledger.js";

const NOW = "2026-11-24T12:00:00Z";
const RUN = "500";
const REPO = "https://github.example/acme/app";
const config = parseConfig("budgets: { dailyUsd: 10, perTaskUsd: 5 }\nbreaker: { threshold: 3 }");

/** ISO time `hours` before NOW. */
const before = (hours: number) =>
  new Date(Date.parse(NOW) - hours * 3_600_000).toISOString().replace(".000Z", "Z");

let seq = 0;
function task(
  issue: number,
  state: TaskState,
  extra: Partial<Task> & { steps?: Partial<Transition>[] } = {},
): Task {
  seq += 1;
  const { steps, ...rest } = extra;
  const history: Transition[] = (steps ?? [{ to: state, at: before(48) }]).map((s, i) => ({
    at: before(48),
    from: i === 0 ? null : "queued",
    to: state,
    actor: "aegis",
    reason: `moved to ${s.to ?? state}`,
    ...s,
  }));
  return {
    id: `${issue}-${seq}`,
    issue,
    title: `Issue number ${issue}`,
    category: "docs",
    authority: "auto_safe",
    state,
    priority: 2,
    createdAt: history[0]!.at,
    updatedAt: history[history.length - 1]!.at,
    requestedBy: "maya",
    needsApproval: false,
    attempts: [],
    costUsd: 0,
    turns: 0,
    dependsOn: [],
    predictedFiles: [],
    history,
    ...rest,
  };
}

const attempt = (hoursAgo: number, fields: Partial<Attempt>): Attempt => ({
  number: 1,
  runId: "400/1",
  startedAt: before(hoursAgo + 0.5),
  endedAt: before(hoursAgo),
  ...fields,
});

/** A ledger with something in every section; numbers are chosen so each window differs. */
function busyLedger(): Ledger {
  const ledger = emptyLedger(NOW);
  ledger.tasks = [
    // This run: claimed, completed, PR opened, reviewed clean.
    task(10, "reviewed", {
      category: "docs",
      steps: [
        { to: "queued", at: before(3), runId: "499" },
        { from: "queued", to: "running", at: before(1), runId: RUN, reason: "claimed for attempt 1" },
        { from: "running", to: "pr-open", at: before(0.8), runId: RUN, reason: "pull request opened" },
        { from: "pr-open", to: "reviewed", at: before(0.7), runId: RUN, reason: "codex: clean" },
      ],
      pr: { number: 77, url: "https://api.example/pulls/77" },
      review: { verdict: "clean", at: before(0.7), critical: 0, findings: 1 },
      attempts: [
        attempt(0.8, {
          runId: `${RUN}/1`,
          outcome: "complete",
          turns: 12,
          costUsd: 0.42,
          durationMs: 95_000,
          model: "claude-sonnet",
        }),
      ],
    }),
    // This run: an auth failure.
    task(11, "failed", {
      category: "bugfix",
      authority: "proposed",
      steps: [
        { to: "queued", at: before(5) },
        { from: "queued", to: "running", at: before(1), runId: RUN },
        {
          from: "running",
          to: "failed",
          at: before(0.9),
          runId: RUN,
          reason: "API error: invalid x-api-key",
        },
      ],
      attempts: [
        attempt(0.9, {
          runId: `${RUN}/1`,
          outcome: "api-error",
          failureKind: "auth",
          reason: "invalid x-api-key",
          turns: 1,
          costUsd: 0,
          durationMs: 3_000,
        }),
      ],
    }),
    // Merged three days ago: counts in 7 days, not in 24 hours.
    task(12, "done", {
      category: "docs",
      steps: [
        { to: "queued", at: before(80) },
        { from: "queued", to: "running", at: before(75) },
        { from: "running", to: "pr-open", at: before(74) },
        { from: "pr-open", to: "done", at: before(72), reason: "pull request #70 was merged" },
      ],
      pr: { number: 70, url: "u", merged: true },
      attempts: [
        attempt(74, {
          outcome: "implicit-complete",
          turns: 20,
          costUsd: 1,
          durationMs: 600_000,
          model: "claude-sonnet",
        }),
      ],
    }),
    task(13, "awaiting-approval", {
      category: "feature",
      authority: "proposed",
      needsApproval: true,
      steps: [{ to: "awaiting-approval", at: before(26) }],
    }),
    task(14, "queued", { priority: 1, steps: [{ to: "queued", at: before(2) }] }),
    task(15, "deferred", {
      deferredReason: "the pending cap (5 tasks) is reached",
      steps: [{ to: "deferred", at: before(6) }],
    }),
    task(16, "running", {
      steps: [{ to: "running", at: before(0.2), runId: "499" }],
      attempts: [{ number: 2, runId: "499/1", startedAt: before(0.2), resumed: true }],
    }),
    // Blocked five hours ago, by a session of another run.
    task(17, "blocked", {
      category: "refactor",
      steps: [{ to: "blocked", at: before(5), reason: "TASK_BLOCKED: which module?" }],
      attempts: [
        attempt(5, {
          outcome: "blocked",
          reason: "which module?",
          turns: 4,
          costUsd: 0.2,
          model: "claude-opus",
        }),
      ],
    }),
    // A max-turns failure ten days ago: outside both windows.
    task(18, "failed", {
      steps: [{ to: "failed", at: before(240) }],
      attempts: [attempt(240, { outcome: "max-turns", turns: 25, costUsd: 2 })],
    }),
    // Two max-turns sessions in the week (one retried), one of them today.
    task(19, "cancelled", {
      category: "tests",
      steps: [{ to: "cancelled", at: before(30), reason: "the issue was closed" }],
      attempts: [
        attempt(100, { outcome: "max-turns", turns: 25, costUsd: 0.5, model: "claude-haiku" }),
        attempt(20, { number: 2, outcome: "max-turns", turns: 25, costUsd: 0.25, model: "claude-haiku" }),
      ],
    }),
  ];
  ledger.rollups = {
    [before(48).slice(0, 10)]: { done: 2, failed: 1, blocked: 0, cancelled: 1, costUsd: 3.5 },
    [before(24 * 20).slice(0, 10)]: { done: 5, failed: 0, blocked: 0, cancelled: 0, costUsd: 10 },
  };
  ledger.breaker = { consecutiveInfraFailures: 1, open: false };
  // The hand-built ledger must be one the real schema accepts.
  return parseLedger(JSON.stringify(ledger), "test");
}

const render = (ledger: Ledger, extra: Partial<Parameters<typeof renderDigest>[0]> = {}) =>
  renderDigest({ ledger, config, now: NOW, runId: RUN, repoUrl: REPO, apiCalls: 1, ...extra });

/** The table row whose first cell is `first`, as trimmed cells. */
/** The first table row starting with `first`, after the heading `after` when given. */
function row(markdown: string, first: string, after = ""): string[] {
  const from = after ? markdown.indexOf(after) : 0;
  if (from < 0) throw new Error(`no heading ${after}`);
  const line = markdown
    .slice(from)
    .split("\n")
    .find((l) => l.startsWith(`| ${first} |`));
  if (!line) throw new Error(`no row starting with ${first}`);
  return line.split(" | ").map((c) => c.replace(/^\| ?| ?\|$/g, "").trim());
}

const COSTS = "### Cost by category and model";

describe("windowStats", () => {
  const ledger = busyLedger();
  const day = windowStats(ledger, NOW, 24);
  const week = windowStats(ledger, NOW, 24 * 7);

  it("counts sessions by outcome in each window", () => {
    // 24 h: #10 complete, #11 api-error, #17 blocked, #19's second max-turns.
    expect(day).toMatchObject({ sessions: 4, completed: 1, implicitComplete: 0, blocked: 1, failed: 2 });
    // 7 d adds #12 implicit-complete, #19's first max-turns and the rollup's failed task.
    expect(week).toMatchObject({ sessions: 6, completed: 2, implicitComplete: 1, blocked: 1, failed: 4 });
  });

  it("groups failures by kind, archived ones apart", () => {
    expect(Object.fromEntries(day.failedByKind)).toEqual({ "api-error (auth)": 1, "max-turns": 1 });
    expect(Object.fromEntries(week.failedByKind)).toEqual({
      "api-error (auth)": 1,
      "max-turns": 2,
      "archived (kind not kept)": 1,
    });
  });

  it("counts a task merged three days ago in 7 days only, and rollups by day", () => {
    expect(day.prsMerged).toBe(0);
    expect(week.prsMerged).toBe(1 + 2); // #12 + the rollup two days ago; the 20-day-old rollup is out
    expect(day.prsOpened).toBe(1);
    expect(week.prsOpened).toBe(2);
    expect(day.cancelled).toBe(0);
    expect(week.cancelled).toBe(1 + 1);
  });

  it("sums cost from attempts and rollups", () => {
    expect(day.costUsd).toBeCloseTo(0.42 + 0.2 + 0.25, 6);
    expect(week.costUsd).toBeCloseTo(0.42 + 0.2 + 0.25 + 1 + 0.5 + 3.5, 6);
  });

  it("keeps a rollup of yesterday in the 24-hour window (it overlaps) but not one of last week", () => {
    const ledger = emptyLedger(NOW);
    ledger.rollups = {
      [before(20).slice(0, 10)]: { done: 1, failed: 0, blocked: 3, cancelled: 0, costUsd: 1 },
      "2026-11-14": { done: 9, failed: 0, blocked: 0, cancelled: 0, costUsd: 9 },
    };
    expect(windowStats(ledger, NOW, 24)).toMatchObject({ prsMerged: 1, blocked: 3, costUsd: 1 });
    expect(windowStats(ledger, NOW, 24 * 7)).toMatchObject({ prsMerged: 1 });
  });
});

describe("costByCategory", () => {
  it("groups the week's ended sessions by category and model, most expensive first", () => {
    const rows = costByCategory(busyLedger(), NOW, 24 * 7);
    expect(rows.map((r) => [r.category, r.model, r.sessions, r.completed, r.turns, r.costUsd])).toEqual([
      ["docs", "claude-sonnet", 2, 2, 32, 1.42],
      ["tests", "claude-haiku", 2, 0, 50, 0.75],
      ["refactor", "claude-opus", 1, 0, 4, 0.2],
      ["bugfix", "default", 1, 0, 1, 0],
    ]);
  });
});

describe("tasksOfRun", () => {
  it("finds tasks by attempt run id (with the run attempt) or transition run id", () => {
    expect(tasksOfRun(busyLedger(), RUN).map((t) => t.issue)).toEqual([10, 11]);
    expect(tasksOfRun(busyLedger(), "499").map((t) => t.issue)).toEqual([10, 16]);
    // "50" is a prefix of "500" but not the same run.
    expect(tasksOfRun(busyLedger(), "50")).toEqual([]);
  });
});

describe("renderDigest", () => {
  const md = render(busyLedger());

  it("lists this run's tasks with outcome, PR link, review, turns, cost and time", () => {
    expect(row(md, `[#10](${REPO}/issues/10) Issue number 10`)).toEqual([
      `[#10](${REPO}/issues/10) Issue number 10`,
      expect.stringMatching(/^`10-\d+`$/),
      "docs",
      "reviewed",
      "**complete**",
      `[#77](${REPO}/pull/77)`,
      "clean",
      "12",
      "$0.42",
      "1m 35s",
      "codex: clean",
    ]);
    const failed = row(md, `[#11](${REPO}/issues/11) Issue number 11`);
    expect(failed[4]).toBe("**api-error (auth)**");
    expect(failed[5]).toBe("—");
    expect(failed[10]).toBe("invalid x-api-key");
    const thisRun = md.slice(md.indexOf("### This run"), md.indexOf("### Queue"));
    expect(thisRun).not.toContain("#12");
  });

  it("lists reviewed PRs with CRITICAL findings under 'Needs a fix', with the label that sends them back", () => {
    const ledger = busyLedger();
    ledger.tasks.push(
      task(20, "reviewed", {
        pr: { number: 88, url: "https://api.example/pulls/88" },
        review: { verdict: "critical", at: before(1), critical: 2, findings: 3 },
        fixRounds: 1,
      }),
    );
    const md2 = render(ledger);
    const queue = md2.slice(md2.indexOf("#### Needs a fix"));
    expect(queue).toContain("#### Needs a fix (1)");
    expect(queue).toContain("Add `aegis-fix` to a PR to send it back to the agent");
    expect(row(queue, `[#20](${REPO}/issues/20) Issue number 20`).slice(1)).toEqual([
      `[#88](${REPO}/pull/88)`,
      "2",
      "1 of 3",
    ]);
  });

  it("shows the queue by state with how to approve and why work is deferred", () => {
    const queue = md.slice(md.indexOf("### Queue"), md.indexOf("### Last 24 hours"));
    expect(queue).toContain("#### Awaiting approval (1)");
    expect(queue).toContain("adding the `aegis-approved` label");
    expect(row(queue, `[#13](${REPO}/issues/13) Issue number 13`).slice(2)).toEqual([
      "feature",
      "@maya",
      "1d ago",
    ]);
    expect(queue).toContain("#### Queued (1)");
    expect(row(queue, `[#14](${REPO}/issues/14) Issue number 14`).slice(3)).toEqual(["0 of 2", "2h ago"]);
    expect(row(queue, `[#15](${REPO}/issues/15) Issue number 15`)[3]).toBe(
      "the pending cap (5 tasks) is reached",
    );
    expect(row(queue, `[#16](${REPO}/issues/16) Issue number 16`).slice(3)).toEqual([
      "2 (resumed)",
      "12m ago",
    ]);
    expect(row(queue, `[#10](${REPO}/issues/10) Issue number 10`).slice(1)).toEqual([
      `[#77](${REPO}/pull/77)`,
      "clean",
      "42m ago",
    ]);
    expect(queue).toContain("#### Needs attention (3)");
    expect(queue).toContain("TASK_BLOCKED: which module?");
    expect(md).toContain(
      "**Queue:** 1 awaiting approval · 1 queued · 1 deferred · 1 running · 1 open PRs · 3 need attention",
    );
  });

  it("renders both windows side by side", () => {
    expect(row(md, "Sessions").slice(1)).toEqual(["4", "6"]);
    expect(row(md, "Completed").slice(1)).toEqual(["1", "2"]);
    expect(row(md, "↳ implicit-complete (no `TASK_COMPLETE`)").slice(1)).toEqual(["0", "1"]);
    expect(row(md, "Blocked").slice(1)).toEqual(["1", "1"]);
    expect(row(md, "Failed").slice(1)).toEqual(["2", "4"]);
    expect(row(md, "PRs opened").slice(1)).toEqual(["1", "2"]);
    expect(row(md, "PRs merged").slice(1)).toEqual(["0", "3"]);
    expect(row(md, "Cost").slice(1)).toEqual(["$0.87", "$5.87"]);
    expect(row(md, "max-turns").slice(1)).toEqual(["1", "2"]);
    expect(row(md, "api-error (auth)").slice(1)).toEqual(["1", "1"]);
  });

  it("shows spend against budgets, with no limit for 0", () => {
    // Today: attempts ended since midnight UTC (#10, #11, #17) — #19's ended 20 h ago, yesterday.
    expect(row(md, "Today (UTC)").slice(1)).toEqual(["$0.62", "$10.00", "$9.38"]);
    expect(row(md, "This month (UTC)").slice(2)).toEqual(["no limit", "no limit"]);
    expect(md).toContain("Per task: $5.00 per session.");
    expect(md).toContain("**Spend today:** $0.62 of $10.00 · **this month:** $17.87 (no limit)");
    expect(md).not.toContain("[!WARNING]");
  });

  it("breaks cost down by category and model", () => {
    expect(row(md, "docs", COSTS)).toEqual(["docs", "`claude-sonnet`", "2", "2", "16.0", "$1.42", "$0.71"]);
    expect(row(md, "tests", COSTS)[6]).toBe("—");
  });

  it("reports the circuit breaker", () => {
    expect(md).toContain("Closed (1 of 3 consecutive infrastructure failures).");
    const ledger = busyLedger();
    ledger.breaker = {
      consecutiveInfraFailures: 3,
      open: true,
      reason: "3 auth failures in a row",
      since: before(2),
    };
    const open = render(ledger);
    expect(open).toContain(
      "**Open** since 2026-11-24 10:00 UTC (3 of 3 consecutive infrastructure failures)",
    );
    expect(open).toContain("**breaker:** **open** — 3 auth failures in a row");
  });

  it("warns when a budget is spent", () => {
    const ledger = busyLedger();
    ledger.tasks[0]!.attempts[0]!.costUsd = 10;
    const spent = render(ledger);
    expect(spent).toContain("> No new work is claimed: the daily budget is spent");
    expect(row(spent, "Today (UTC)")[3]).toBe("$0.00");
  });

  it("caps long queue tables and escapes issue titles", () => {
    const ledger = emptyLedger(NOW);
    ledger.tasks = Array.from({ length: 30 }, (_, i) => task(100 + i, "queued", { title: "a | b <script>" }));
    const out = render(ledger);
    expect(out).toContain("#### Queued (30)");
    expect(out).toContain("…and 5 more.");
    expect(out.match(/\| \[#1\d\d\]/g)).toHaveLength(25);
    expect(out).toContain("a \\| b &lt;script&gt;");
    expect(out).toContain("This run changed no task.");
  });

  it("says the run changed nothing when no task carries its id", () => {
    expect(render(busyLedger(), { runId: "123" })).toContain("This run changed no task.");
  });

  it("gives a short friendly digest for an empty ledger", () => {
    const out = render(emptyLedger(NOW));
    expect(out).toContain("Nothing to report yet");
    expect(out).toContain("`aegis` label");
    expect(out).toContain("`aegis-approved`");
    expect(out).not.toContain("### Queue");
    expect(out.split("\n").length).toBeLessThan(12);
  });

  it("marks a dry run", () => {
    expect(render(busyLedger(), { dryRun: true }).split("\n")[0]).toBe(
      "## aegis digest · 2026-11-24 12:00 UTC · dry run",
    );
  });
});

describe("formatting helpers", () => {
  it("formats durations and ages", () => {
    expect(duration(4_400)).toBe("4s");
    expect(duration(95_000)).toBe("1m 35s");
    expect(duration(3_725_000)).toBe("1h 02m");
    expect(ago(before(0.5), NOW)).toBe("30m ago");
    expect(ago(before(5), NOW)).toBe("5h ago");
    expect(ago(before(72), NOW)).toBe("3d ago");
  });
});

describe("digest mode", () => {
  const settings = {
    config,
    dryRun: false,
    context: { runId: RUN, owner: "acme", repo: "app", serverUrl: "https://github.example/" },
  };

  // @actions/core resolves GITHUB_STEP_SUMMARY once per process: one file, emptied per test.
  const summaryDir = mkdtempSync(join(tmpdir(), "aegis-digest-"));
  const summaryFile = join(summaryDir, "summary.md");
  afterAll(() => rmSync(summaryDir, { recursive: true, force: true }));

  async function runMode(read: () => Promise<{ ledger: Ledger }>) {
    writeFileSync(summaryFile, "");
    process.env.GITHUB_STEP_SUMMARY = summaryFile;
    const { digest } = await import("../src/modes/digest.js");
    const ctx = { settings, gh: { calls: 1 }, store: { branch: "aegis-state", read }, now: () => NOW };
    let error: unknown;
    await digest(ctx as unknown as Parameters<typeof digest>[0]).catch((e: unknown) => (error = e));
    return { summary: readFileSync(summaryFile, "utf8"), error };
  }

  it("reads the ledger once and writes the digest as the step summary, linking to the server", async () => {
    let reads = 0;
    const { summary, error } = await runMode(async () => {
      reads += 1;
      return { ledger: busyLedger() };
    });
    expect(error).toBeUndefined();
    expect(reads).toBe(1);
    expect(summary).toContain("## aegis digest · 2026-11-24 12:00 UTC");
    expect(summary).toContain(`[#77](${REPO}/pull/77)`);
    expect(summary).toContain(
      `<sub>Every task's record: [\`aegis-state\`](${REPO}/tree/aegis-state) · GitHub API calls: 1</sub>`,
    );
  });

  it("explains an unreadable ledger in the summary and still fails the step", async () => {
    const { summary, error } = await runMode(() => Promise.reject(new Error("state.json failed validation")));
    expect((error as Error).message).toBe("state.json failed validation");
    expect(summary).toContain("could not read the ledger on `aegis-state`: state.json failed validation");
  });
});
