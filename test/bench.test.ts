// The benchmark's pure parts: target checking, table rendering, call accounting, the ledger
// fixture and its compaction check, the race check. The bench itself runs with `npm run bench`.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { type Ledger, parseLedger, serializeLedger } from "../src/core/ledger.js";
import { canTransition, COMPACTION, compactLedger } from "../src/core/lifecycle.js";
import { renderPlanSummary } from "../src/modes/plan-summary.js";
import { checkRace } from "./harness/bench-concurrency.js";
import { buildLedger, checkCompaction, windowSection } from "./harness/bench-ledger-fixture.js";
import {
  addCounts,
  benchDocument,
  countByRoute,
  type Figure,
  formatTarget,
  formatValue,
  median,
  missed,
  renderDetails,
  renderTable,
  retriesFromSummary,
  statusOf,
  subtractCounts,
} from "./harness/bench-report.js";
import { startupFigures } from "./harness/bench-startup.js";

const fig = (over: Partial<Figure>): Figure => ({
  id: "x",
  section: "1. S",
  label: "thing",
  value: 5,
  unit: "calls",
  ...over,
});

describe("targets", () => {
  it("compares each way, and a figure at its limit meets it", () => {
    expect(statusOf(fig({ value: 5, target: { op: "<=", limit: 5 } }))).toBe("ok");
    expect(statusOf(fig({ value: 6, target: { op: "<=", limit: 5 } }))).toBe("MISSED");
    expect(statusOf(fig({ value: 50, target: { op: ">=", limit: 50 } }))).toBe("ok");
    expect(statusOf(fig({ value: 49, target: { op: ">=", limit: 50 } }))).toBe("MISSED");
    expect(statusOf(fig({ value: true, target: { op: "==", limit: true } }))).toBe("ok");
    expect(statusOf(fig({ value: false, target: { op: "==", limit: true } }))).toBe("MISSED");
  });

  it("not measured is n/a, no target is info, a broken measurement fails", () => {
    expect(statusOf(fig({ value: null, target: { op: "<=", limit: 5 } }))).toBe("n/a");
    expect(statusOf(fig({ value: 900 }))).toBe("info");
    expect(statusOf(fig({ value: null, error: "boom", target: { op: "<=", limit: 5 } }))).toBe("FAILED");
  });

  it("missed and failed figures fail the document; n/a and info do not", () => {
    const figures = [
      fig({ id: "a", value: 3, target: { op: "<=", limit: 5 } }),
      fig({ id: "b", value: null, target: { op: "<=", limit: 5 } }),
      fig({ id: "c", value: 99 }),
    ];
    expect(benchDocument(figures, meta).passed).toBe(true);
    const worse = [
      ...figures,
      fig({ id: "d", value: 7, target: { op: "<=", limit: 5 } }),
      fig({ id: "e", value: null, error: "x" }),
    ];
    const doc = benchDocument(worse, meta);
    expect(doc.passed).toBe(false);
    expect(doc.missed).toEqual(["d", "e"]);
    expect(missed(worse).map((f) => f.id)).toEqual(["d", "e"]);
    expect(doc.figures.map((f) => f.status)).toEqual(["ok", "n/a", "info", "MISSED", "FAILED"]);
  });
});

const meta = {
  startedAt: "2025-01-01T00:00:00Z",
  durationMs: 1,
  machine: { node: "v20", cpus: 2, platform: "linux x64" },
  entry: "dist/index.js",
};

describe("formatting", () => {
  it("formats values and targets by unit", () => {
    expect(formatValue(1, "calls")).toBe("1 call");
    expect(formatValue(12, "calls")).toBe("12 calls");
    expect(formatValue(1234, "ms")).toBe("1,234 ms");
    expect(formatValue(2048, "bytes")).toBe("2 KiB");
    expect(formatValue(3 * 1024 * 1024, "bytes")).toBe("3 MiB");
    expect(formatValue(1.5, "×")).toBe("1.50×");
    expect(formatValue(null, "ms")).toBe("not available");
    expect(formatValue(false, "")).toBe("NO");
    expect(formatTarget(fig({ target: { op: "<=", limit: 20 } }))).toBe("≤ 20");
    expect(formatTarget(fig({ unit: "bytes", target: { op: "<=", limit: 1024 * 1024 } }))).toBe("≤ 1 MiB");
    expect(formatTarget(fig({}))).toBe("—");
  });

  it("renders one aligned table, grouped by section, status last", () => {
    const table = renderTable([
      fig({ section: "1. API", label: "intake", value: 5, target: { op: "<=", limit: 5 } }),
      fig({
        section: "1. API",
        label: "a much longer figure name",
        value: 23,
        target: { op: "<=", limit: 20 },
      }),
      fig({ section: "3. Ledger", label: "cycle", value: null, unit: "ms", error: "TypeError" }),
    ]);
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^Figure\s+Value\s+Target\s+Status$/);
    expect(lines).toContain("1. API");
    expect(lines).toContain("3. Ledger");
    const rows = lines.filter((l) => l.startsWith("  "));
    expect(rows).toHaveLength(3);
    // Every status starts in the same column as the header's.
    const column = lines[0]!.indexOf("Status");
    expect(rows.map((r) => r.slice(column).split(" ")[0])).toEqual(["ok", "MISSED", "FAILED"]);
    expect(rows[1]).toContain("23 calls");
    expect(rows[2]).toContain("failed");
  });

  it("details list endpoints by count, then the note and any failure", () => {
    const text = renderDetails([
      fig({
        label: "review",
        breakdown: { "GET pulls/{pull_number}": 1, "POST issues/{issue_number}/labels": 2 },
        note: "staged",
      }),
      fig({ label: "cycle", error: "TypeError", value: null }),
      fig({ label: "quiet" }),
    ]);
    expect(text.split("\n")).toEqual([
      "- review: POST issues/{issue_number}/labels ×2 · GET pulls/{pull_number} ×1 — staged",
      "- cycle: FAILED: TypeError",
    ]);
  });
});

describe("call accounting", () => {
  it("counts REST calls per endpoint, leaving out git smart-HTTP", () => {
    const counts = countByRoute([
      { route: "GET /repos/{owner}/{repo}/contents/{path}" },
      { route: "GIT git-upload-pack" },
      { route: "PUT /repos/{owner}/{repo}/contents/{path}" },
      { route: "GET /repos/{owner}/{repo}/contents/{path}", status: 200 },
      { route: "GET /repos/{owner}/{repo}" },
      { route: "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", status: 404 },
    ]);
    expect(counts).toEqual({
      "GET contents/{path}": 2,
      "PUT contents/{path}": 1,
      "GET repo": 1,
      "DELETE issues/{issue_number}/labels/{name} → 404": 1,
    });
  });

  it("adds and subtracts per endpoint, dropping zeros", () => {
    expect(addCounts({ a: 1, b: 2 }, { b: 1, c: 4 })).toEqual({ a: 1, b: 3, c: 4 });
    expect(subtractCounts({ a: 3, b: 2, c: 1 }, { a: 1, b: 2 })).toEqual({ a: 2, c: 1 });
  });

  it("reads the retries from the real plan summary", () => {
    const ledger = parseLedger(serializeLedger(buildLedger({ tasks: 3, now: NOW })), "t");
    const summary = (conflicts: number) =>
      renderPlanSummary({
        event: "issues",
        lines: [],
        claimed: [],
        held: [],
        ledger,
        written: true,
        conflicts,
        apiCalls: 5,
        dryRun: false,
      });
    expect(retriesFromSummary(summary(0))).toBe(0);
    expect(retriesFromSummary(summary(1))).toBe(1);
    expect(retriesFromSummary(summary(7))).toBe(7);
  });

  it("takes the median of odd and even samples", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });
});

const NOW = "2025-06-30T12:00:00.000Z";
const config = parseConfig(undefined);

describe("ledger fixture", () => {
  // 30 days: finished tasks fall inside the 7-day window too, so the compaction check has work.
  const ledger = buildLedger({ tasks: 400, now: NOW, days: 30 });

  it("is a valid ledger whose histories only make legal moves", () => {
    const parsed = parseLedger(serializeLedger(ledger), "fixture");
    expect(parsed.tasks).toHaveLength(400);
    expect(new Set(parsed.tasks.map((t) => t.id)).size).toBe(400);
    for (const task of parsed.tasks) {
      expect(task.history[0]!.from).toBeNull();
      for (const h of task.history.slice(1))
        expect(canTransition(h.from!, h.to), `${task.id} ${h.from}→${h.to}`).toBe(true);
      expect(task.history.at(-1)!.to).toBe(task.state);
      expect(task.updatedAt <= NOW).toBe(true);
    }
  });

  it("is mostly old finished work, deterministic for a seed", () => {
    const finished = ledger.tasks.filter((t) => t.state === "done" || t.state === "cancelled");
    expect(finished.length / ledger.tasks.length).toBeGreaterThan(0.9);
    expect(ledger.tasks.filter((t) => t.state === "pr-open")).not.toHaveLength(0);
    expect(serializeLedger(buildLedger({ tasks: 400, now: NOW, days: 30 }))).toBe(serializeLedger(ledger));
    expect(serializeLedger(buildLedger({ tasks: 400, now: NOW, days: 30, seed: 8 }))).not.toBe(
      serializeLedger(ledger),
    );
  });

  it("compaction shrinks it and keeps the digest's 24 h / 7 day numbers", () => {
    const check = checkCompaction(ledger, NOW, config);
    expect(check.archived).toBeGreaterThan(200);
    expect(serializeLedger(check.compacted).length).toBeLessThan(serializeLedger(ledger).length / 2);
    // The window has sessions in it, so equality is not two empty tables agreeing.
    expect(check.before).toMatch(/\| Sessions \| \d+ \| [1-9]\d* \|/);
    expect(check.windowsEqual).toBe(true);
    expect(ledger.tasks).toHaveLength(400); // the input is left alone
  });

  it("notices a compaction that eats into the window", () => {
    const tooEager = (l: Ledger, now: string) => compactLedger(l, now, { ...COMPACTION, keepDays: 0 });
    const check = checkCompaction(ledger, NOW, config, tooEager);
    expect(check.windowsEqual).toBe(false);
    expect(check.after).not.toBe(check.before);
  });

  it("finds the window section and refuses a digest without one", () => {
    const md =
      "## digest\n\n### Last 24 hours and 7 days\n\n| a |\n\n#### Failures by kind\n\n| k |\n\n### Budgets\n\nx";
    expect(windowSection(md)).toBe("### Last 24 hours and 7 days\n\n| a |\n\n#### Failures by kind\n\n| k |");
    expect(() => windowSection("## nothing")).toThrow(/no 24 hours/);
  });
});

describe("race check", () => {
  const base = buildLedger({ tasks: 4, now: NOW, days: 1 });
  const race = (mutate: (l: Ledger) => void, outputs: string[][]) => {
    const ledger = structuredClone(base);
    ledger.tasks.forEach((t, i) => {
      t.state = i < 2 ? "running" : "queued";
      t.attempts = i < 2 ? [{ number: 1, runId: "1/1", startedAt: NOW }] : [];
    });
    mutate(ledger);
    return checkRace(
      ledger,
      ledger.tasks.map((t) => t.issue),
      outputs,
    );
  };
  const none = () => {};
  const ids = base.tasks.map((t) => t.id);

  it("passes a clean race", () => {
    const r = race(none, [[ids[0]!], [ids[1]!], [], []]);
    expect(r).toEqual({ lost: [], duplicated: [], claimedTwice: [], claimMismatch: [], running: 2 });
  });

  it("reports lost and duplicated issues", () => {
    const issues = base.tasks.map((t) => t.issue);
    const ledger = structuredClone(base);
    ledger.tasks[3] = { ...ledger.tasks[3]!, issue: issues[2]! };
    const r = checkRace(ledger, issues, []);
    expect(r.lost).toEqual([issues[3]]);
    expect(r.duplicated).toEqual([issues[2]]);
  });

  it("reports a task claimed by two plans, a second attempt, and claims the ledger does not show", () => {
    expect(race(none, [[ids[0]!], [ids[0]!, ids[1]!]]).claimedTwice).toEqual([ids[0]]);
    expect(
      race(
        (l) => l.tasks[1]!.attempts.push({ number: 2, runId: "2/1", startedAt: NOW }),
        [[ids[0]!], [ids[1]!]],
      ).claimedTwice,
    ).toEqual([ids[1]]);
    expect(race(none, [[ids[0]!], [ids[2]!]]).claimMismatch).toEqual([ids[2], ids[1]]);
  });
});

describe("overhead figures", () => {
  it("puts the run's time outside the session over bare node", () => {
    const [node, cold, run] = startupFigures(
      { nodeMs: 40, bundleMs: 160 },
      { available: true, wallMs: 5000, sessionMs: 3000, source: "duration_ms" },
    );
    expect(node!.value).toBe(40);
    expect(cold!.value).toBe(4);
    expect(run!.value).toBe(50);
    expect(run!.note).toContain("2000 ms");
  });

  it("says why the run figure is not available", () => {
    const run = startupFigures(
      { nodeMs: 40, bundleMs: 160 },
      { available: false, reason: "no mode run" },
    )[2]!;
    expect(statusOf(run)).toBe("n/a");
    expect(run.note).toBe("no mode run");
  });
});
