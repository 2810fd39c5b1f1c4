// Section 4: 20 plan processes at once, one per freshly labelled issue — twenty workflow runs
// started by twenty label events in the same minute. They race on one ledger file; the
// compare-and-swap must converge with nothing lost and nothing claimed twice.
import { stateLabel } from "../../src/core/labels.js";
import type { Ledger } from "../../src/core/ledger.js";
import { STATUS_MARKER } from "../../src/core/status.js";
import { CONFIG, ENTRY, failureOf, sandbox } from "./bench-env.js";
import { countByRoute, type Figure, median, retriesFromSummary, totalCalls } from "./bench-report.js";
import { issueLabeledEvent, runAction } from "./runner.js";
import { addLabelAs, ledgerOf, openIssue } from "./scenario.js";

const SECTION = "4. Concurrency (20 plans at once)";
export const WRITERS = 20;

export interface RaceCheck {
  /** Issues that ended with no task. */
  lost: number[];
  /** Issues with more than one task. */
  duplicated: number[];
  /** Task ids claimed by more than one plan, or with more than one attempt. */
  claimedTwice: string[];
  /** Claimed tasks the ledger does not show running, or running tasks no plan claimed. */
  claimMismatch: string[];
  running: number;
}

/** What the ledger and the plans' `tasks` outputs say about the race. Pure. */
export function checkRace(
  ledger: Ledger,
  issues: readonly number[],
  outputs: readonly string[][],
): RaceCheck {
  const perIssue = new Map<number, number>();
  for (const task of ledger.tasks) perIssue.set(task.issue, (perIssue.get(task.issue) ?? 0) + 1);
  const claims = new Map<string, number>();
  for (const id of outputs.flat()) claims.set(id, (claims.get(id) ?? 0) + 1);
  const running = ledger.tasks.filter((t) => t.state === "running");
  const twice = new Set<string>([
    ...[...claims].filter(([, n]) => n > 1).map(([id]) => id),
    ...ledger.tasks.filter((t) => t.attempts.length > 1).map((t) => t.id),
  ]);
  const runningIds = new Set(running.map((t) => t.id));
  return {
    lost: issues.filter((n) => !perIssue.has(n)),
    duplicated: issues.filter((n) => (perIssue.get(n) ?? 0) > 1),
    claimedTwice: [...twice],
    claimMismatch: [
      ...[...claims.keys()].filter((id) => !runningIds.has(id)),
      ...[...runningIds].filter((id) => !claims.has(id)),
    ],
    running: running.length,
  };
}

export async function benchConcurrency(): Promise<Figure[]> {
  const sb = await sandbox();
  try {
    const { fake } = sb;
    const issues = Array.from({ length: WRITERS }, (_, i) => {
      const n = openIssue(fake, {
        title: `Document module ${i}`,
        body: `Module ${i} has no page in the manual; write one with an example.`,
        labels: ["documentation"],
        by: "maya",
      });
      addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
      return n;
    });
    const events = issues.map((n) => issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya"));
    fake.resetCalls();
    const started = performance.now();
    const runs = await Promise.all(
      events.map((event, i) =>
        runAction({
          mode: "plan",
          event,
          fake,
          entry: ENTRY,
          workspace: sb.workspace,
          runId: 8000 + i,
          timeoutMs: 150_000,
        }),
      ),
    );
    const convergeMs = Math.round(performance.now() - started);
    const calls = countByRoute(fake.calls);
    await Promise.all(runs.map((r) => r.cleanup()));
    const failed = runs.filter((r) => r.exitCode !== 0);
    const retries = runs.reduce((sum, r) => sum + retriesFromSummary(r.summary), 0);
    const ledger = await ledgerOf(fake);
    const outputs = runs.map((r) => JSON.parse(r.outputs.tasks ?? "[]") as string[]);
    const race = checkRace(ledger, issues, outputs);
    const labelsRight = issues.filter((n) => {
      const task = ledger.tasks.find((t) => t.issue === n);
      const states = fake.labelsOf(n).filter((l) => l.startsWith("aegis:"));
      return task !== undefined && states.length === 1 && states[0] === stateLabel(task.state);
    }).length;
    const oneComment = issues.filter(
      (n) => fake.comments(n).filter((c) => c.body.includes(STATUS_MARKER)).length === 1,
    ).length;
    fake.assertClean();

    const failures = failed.length
      ? { error: `${failed.length} plan(s) failed, e.g. ${failureOf(failed[0]!)}` }
      : {};
    return [
      {
        id: "concurrency.converge-ms",
        section: SECTION,
        label: "time until all 20 have finished",
        value: convergeMs,
        unit: "ms",
        note: `one plan took ${Math.round(median(runs.map((r) => r.durationMs)))} ms (median) in the crowd`,
        ...failures,
      },
      {
        id: "concurrency.retries",
        section: SECTION,
        label: "compare-and-swap retries (sum of the 20 summaries)",
        value: retries,
        unit: "retries",
      },
      {
        id: "concurrency.calls",
        section: SECTION,
        label: "API calls of the 20 plans together",
        value: totalCalls(calls),
        unit: "calls",
        breakdown: calls,
        note: "retries re-read and re-write the ledger; orphan status comments are deleted",
      },
      {
        id: "concurrency.nothing-lost",
        section: SECTION,
        label: "nothing lost: one task per issue",
        value: race.lost.length === 0 && race.duplicated.length === 0 && ledger.tasks.length === WRITERS,
        unit: "",
        target: { op: "==", limit: true },
        note: `${ledger.tasks.length} tasks, seq ${ledger.seq}${race.lost.length ? `; no task for #${race.lost.join(", #")}` : ""}${race.duplicated.length ? `; several tasks for #${race.duplicated.join(", #")}` : ""}`,
      },
      {
        id: "concurrency.claimed-once",
        section: SECTION,
        label: "nothing claimed twice",
        value:
          race.claimedTwice.length === 0 &&
          race.claimMismatch.length === 0 &&
          race.running <= CONFIG.caps.running,
        unit: "",
        target: { op: "==", limit: true },
        note: `${race.running} running (cap ${CONFIG.caps.running}), claimed by ${outputs.filter((o) => o.length).length} plan(s)${race.claimedTwice.length ? `; claimed twice: ${race.claimedTwice.join(", ")}` : ""}${race.claimMismatch.length ? `; claims and ledger disagree on ${race.claimMismatch.join(", ")}` : ""}`,
      },
      {
        id: "concurrency.labels",
        section: SECTION,
        label: "issues whose aegis:<state> label matches the ledger",
        value: labelsRight,
        unit: `of ${WRITERS}`,
        note: `${oneComment} of ${WRITERS} issues have exactly one status comment; the hourly sweep repairs label drift`,
      },
    ];
  } finally {
    await sb.close();
  }
}
