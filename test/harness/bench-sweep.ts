// Section 2: the scheduled sweep over repositories with 100, 1,000 and 10,000 open issues, 50 of
// them labelled for aegis. Its cost must follow the labelled issues, not the repository's size.
//
// Per size, on a fresh fake: the 50 issues are tracked in the ledger as a busy queue leaves them
// (2 running, 3 queued behind the running cap, 45 deferred behind the pending cap), and the
// sweep has nothing to do — the usual hour. Wall times exclude the fake's own handling:
// filtering 10,000 issues in the fake's memory is the fake's cost, where GitHub uses an index.
//
// A catch-up sweep (50 missed label events) is not timed here: it creates 50 status comments,
// and Octokit's throttling spaces comment creation 3 s apart, so it takes minutes by design.
import { emptyLedger, serializeLedger, type TaskState } from "../../src/core/ledger.js";
import { stateLabel } from "../../src/core/labels.js";
import { addTask } from "../../src/core/lifecycle.js";
import { CONFIG, type Sandbox, sandbox, STATE_BRANCH, step, type StepResult } from "./bench-env.js";
import { type Figure, formatNumber, median, totalCalls } from "./bench-report.js";
import { scheduleEvent } from "./runner.js";
import { openIssue } from "./scenario.js";
import { newTask } from "./tasks.js";

const SECTION = "2. Sweep scaling (50 labelled issues)";
export const LABELLED = 50;
/** Time at 10,000 issues over time at 100: flat, with room for a shared 2-core machine's noise. */
export const FLAT_RATIO = 1.5;
const STEADY_REPEATS = 3;

interface SizeResult {
  size: number;
  seedMs: number;
  steady: StepResult[];
}

const aegisMs = (r: StepResult) => r.run.durationMs - r.serverMs;

export async function benchSweep(sizes: readonly number[] = [100, 1000, 10_000]): Promise<Figure[]> {
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measure(size));
  return figures(results);
}

async function measure(size: number): Promise<SizeResult> {
  const sb = await sandbox();
  try {
    const started = performance.now();
    const labelled = seed(sb, size);
    const seedMs = performance.now() - started;
    await trackAll(sb, labelled);
    const steady: StepResult[] = [];
    for (let i = 0; i < STEADY_REPEATS; i++) {
      const result = await step(sb, { mode: "plan", event: scheduleEvent(sb.fake) });
      if (!result.ok) throw new Error(`bench: sweep at ${size} issues failed:\n${result.run.stdout}`);
      steady.push(result);
    }
    sb.fake.assertClean();
    return { size, seedMs, steady };
  } finally {
    await sb.close();
  }
}

/** The state of the k-th labelled issue's task: what a full queue looks like. */
const stateOf = (k: number): TaskState => (k < 2 ? "running" : k < 5 ? "queued" : "deferred");

/** `size` open issues; every (size/50)-th carries the trigger label. Returns those numbers. */
function seed(sb: Sandbox, size: number): number[] {
  const every = Math.floor(size / LABELLED);
  const labelled: number[] = [];
  for (let i = 0; i < size; i++) {
    if (i % every === 0 && labelled.length < LABELLED) {
      const n = openIssue(sb.fake, {
        title: `Document part ${i}`,
        body: `Part ${i} of the manual needs a page of its own, with examples.`,
        labels: ["documentation", CONFIG.triggerLabel, stateLabel(stateOf(labelled.length))],
        by: "maya",
      });
      labelled.push(n);
    } else {
      sb.fake.seedIssue({ title: `Unrelated issue ${i}`, labels: i % 3 ? ["question"] : ["bug"] });
    }
  }
  return labelled;
}

/** The ledger that taking those issues in leaves: consistent with their labels, so no drift. */
async function trackAll(sb: Sandbox, issues: number[]): Promise<void> {
  const now = new Date().toISOString();
  const ledger = emptyLedger(now);
  issues.forEach((issue, k) => {
    const state = stateOf(k);
    const meta = { actor: "maya", reason: "docs is auto_safe", now, runId: "4000" };
    const task = addTask(
      ledger,
      newTask(issue, { title: `Document part ${issue}` }),
      state === "running" ? "queued" : state,
      meta,
    );
    if (state === "deferred") task.deferredReason = "the pending cap (5) is full";
    if (state === "running") {
      task.history.push({
        at: now,
        from: "queued",
        to: "running",
        actor: "aegis",
        reason: "claimed",
        runId: "4000",
      });
      task.state = "running";
      task.attempts.push({ number: 1, runId: "4000/1", startedAt: now });
    }
  });
  await sb.fake.commitFile(STATE_BRANCH, "state.json", serializeLedger(ledger), "bench: a busy queue");
}

function figures(results: SizeResult[]): Figure[] {
  const base = results[0]!;
  const last = results[results.length - 1]!;
  const name = (r: SizeResult) => `${formatNumber(r.size)} open issues`;
  const steadyCalls = (r: SizeResult) => r.steady.map((s) => totalCalls(s.calls));
  const steadyMs = (r: SizeResult) => median(r.steady.map(aegisMs));
  const out: Figure[] = [];

  for (const r of results) {
    const calls = steadyCalls(r);
    out.push({
      id: `sweep.${r.size}.steady-calls`,
      section: SECTION,
      label: `${name(r)}: hourly sweep, nothing to do — API calls`,
      value: Math.max(...calls),
      unit: "calls",
      breakdown: r.steady[0]!.calls,
      ...(r === base ? {} : { target: { op: "<=", limit: Math.max(...steadyCalls(base)) } }),
      ...(new Set(calls).size > 1 ? { note: `differed between repeats: ${calls.join(", ")}` } : {}),
    });
  }
  for (const r of results) {
    out.push({
      id: `sweep.${r.size}.steady-ms`,
      section: SECTION,
      label: `${name(r)}: hourly sweep, nothing to do — time`,
      value: Math.round(steadyMs(r)),
      unit: "ms",
      note: `aegis's side, median of ${STEADY_REPEATS}; ${Math.round(median(r.steady.map((s) => s.run.durationMs)))} ms with the fake's own handling`,
    });
  }
  out.push({
    id: "sweep.steady-ratio",
    section: SECTION,
    label: `hourly sweep time at ${formatNumber(last.size)} ÷ at ${formatNumber(base.size)} issues`,
    value: round2(steadyMs(last) / steadyMs(base)),
    unit: "×",
    target: { op: "<=", limit: FLAT_RATIO },
  });
  out.push({
    id: "sweep.seed-ms",
    section: SECTION,
    label: `seeding the fake with ${formatNumber(last.size)} issues`,
    value: Math.round(last.seedMs),
    unit: "ms",
    note: "set-up cost of the bench, not aegis's",
  });
  return out;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
