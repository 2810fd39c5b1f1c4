// Section 3: the ledger at 1,000 and 10,000 tasks of history. In-process, through the real
// LedgerStore against the fake: read (raw, one call) + zod validation + one compare-and-swap
// write that adds a task.
//
// The layout is the one aegis keeps: state.json holds the live tasks and the last 8–15 days of
// finished ones; older finished records sit in archive/<month>.jsonl. Three writes are timed:
// the steady state every run pays, the write that archives a batch (about weekly), and — as a
// one-off without a target — a state.json that never archived anything (a shape aegis does not
// write; an imported or hand-merged ledger), which must still go through in one write.
import { GitHub } from "../../src/adapters/github.js";
import { LedgerStore } from "../../src/adapters/ledger-store.js";
import { groupByArchiveFile } from "../../src/core/archive.js";
import { type Ledger, parseLedger, serializeLedger, type Task } from "../../src/core/ledger.js";
import {
  addTask,
  COMPACTION,
  compactLedger,
  dueForArchive,
  openTaskForIssue,
} from "../../src/core/lifecycle.js";
import { CONFIG, quietly, serverTime, STATE_BRANCH } from "./bench-env.js";
import { buildLedger, checkCompaction } from "./bench-ledger-fixture.js";
import { countByRoute, type Figure, formatNumber, median, totalCalls } from "./bench-report.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github.js";
import { newTask } from "./tasks.js";

const SECTION = "3. Ledger scaling (state.json)";
export const CYCLE_TARGET_MS = 300;
/** Above 1 MB the contents API stops inlining a file: a bound on the live ledger that is easy to check. */
export const BOUNDED_BYTES = 1024 * 1024;
const REPEATS = 3;

interface Cycle {
  /** Wall time of read + validate + write, minus the fake's own handling time. */
  clientMs: number;
  totalMs: number;
  calls: Record<string, number>;
}

/** The branch's files: state.json and the archive files beside it. */
type Files = Record<string, string>;

export async function benchLedger(sizes: readonly number[] = [1000, 10_000]): Promise<Figure[]> {
  const fake = await startFakeGitHub();
  try {
    const figures: Figure[] = [];
    for (const size of sizes) figures.push(...(await quietly(() => measure(fake, size))));
    fake.assertClean();
    return figures;
  } finally {
    await fake.close();
  }
}

/** The branch as aegis would have left it when it last wrote at `at`. */
function kept(history: Ledger, at: string): { files: Files; live: Ledger; archived: Task[] } {
  const live = structuredClone(history);
  const archived = compactLedger(live, at, { ...COMPACTION, batch: 1 });
  const files: Files = { "state.json": serializeLedger(live) };
  for (const [path, tasks] of groupByArchiveFile(archived))
    files[path] = tasks.map((t) => JSON.stringify(t)).join("\n") + "\n";
  return { files, live, archived };
}

/**
 * The branch just before an archive batch falls due at `now`: as kept at the latest earlier
 * write after which the batch rule (25 due, or the oldest 15 days) first fires. A busy
 * repository reaches 25 within hours; a quiet one waits the full week.
 */
function lastBatchBefore(history: Ledger, now: string): ReturnType<typeof kept> {
  const hours = [1, 2, 3, 6, 12, ...Array.from({ length: 15 }, (_, d) => 24 * (d + 1))];
  for (const h of hours) {
    const branch = kept(history, new Date(Date.parse(now) - h * 3_600_000).toISOString());
    if (dueForArchive(branch.live, now).length > 0) return branch;
  }
  throw new Error("bench: no archive batch falls due within 15 days");
}

async function measure(fake: FakeGitHub, size: number): Promise<Figure[]> {
  const now = new Date().toISOString();
  const history = buildLedger({ tasks: size, now });
  const check = checkCompaction(history, now, CONFIG);
  const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
  const store = new LedgerStore({ gh, branch: STATE_BRANCH, now: () => now });

  // Steady state: the branch as of a write a moment ago. Archive batch: as of the last batch
  // before now, so the next one is due now — the live ledger at its largest. One-off:
  // everything still in state.json.
  const steadyBranch = kept(history, now);
  const weekOld = lastBatchBefore(history, now);
  const untouched: Files = { "state.json": serializeLedger(history) };
  const steady = await repeat(fake, store, steadyBranch.files, 910_000, "none");
  const batch = await repeat(fake, store, weekOld.files, 920_000, "archives");
  const oneOff = await repeat(fake, store, untouched, 900_000, "archives");
  const lossless = oneOff instanceof Error ? false : await nothingLost(fake, size + 1);

  const name = `${formatNumber(size)} tasks`;
  const timing = (
    id: string,
    label: string,
    outcome: Cycle[] | Error,
    note: string,
    target = true,
  ): Figure => {
    const base = {
      id,
      section: SECTION,
      label,
      unit: "ms",
      ...(target ? { target: { op: "<=", limit: CYCLE_TARGET_MS } as const } : {}),
    };
    if (outcome instanceof Error) return { ...base, value: null, error: outcome.message, note };
    const calls = outcome[0]!.calls;
    return {
      ...base,
      value: Math.round(median(outcome.map((c) => c.clientMs))),
      note: `aegis's side, median of ${REPEATS}; ${Math.round(median(outcome.map((c) => c.totalMs)))} ms with the fake's own handling; ${totalCalls(calls)} calls (${Object.entries(
        calls,
      )
        .map(([route, n]) => (n > 1 ? `${n} × ${route}` : route))
        .join(", ")}); ${note}`,
    };
  };
  const archiveBytes = Object.entries(steadyBranch.files)
    .filter(([path]) => path !== "state.json")
    .reduce((sum, [, text]) => sum + Buffer.byteLength(text), 0);
  const liveBytes = Math.max(
    Buffer.byteLength(steadyBranch.files["state.json"]!),
    Buffer.byteLength(weekOld.files["state.json"]!),
  );
  return [
    {
      id: `ledger.${size}.compacted-bytes`,
      section: SECTION,
      label: `${name}: state.json size`,
      value: liveBytes,
      unit: "bytes",
      target: { op: "<=", limit: BOUNDED_BYTES },
      note: `the larger of just after and just before an archive batch (${weekOld.live.tasks.length} tasks live); ${formatNumber(size)} tasks over 8 months: the size follows the last 8–15 days' work, not the history`,
    },
    {
      id: `ledger.${size}.archive-bytes`,
      section: SECTION,
      label: `${name}: archive size`,
      value: archiveBytes,
      unit: "bytes",
      note: `${steadyBranch.archived.length} finished task records in ${Object.keys(steadyBranch.files).length - 1} monthly files (archive/YYYY-MM.jsonl); never read on the hot path`,
    },
    timing(
      `ledger.${size}.steady-cycle`,
      `${name}: read + validate + CAS write, steady state`,
      steady,
      "every run",
    ),
    timing(
      `ledger.${size}.archive-cycle`,
      `${name}: read + validate + CAS write that archives a batch`,
      batch,
      `${weekOld.live.tasks.length - steadyBranch.live.tasks.length} tasks appended to their month's file first; about weekly`,
    ),
    timing(
      `ledger.${size}.first-cycle`,
      `${name}: one-off, a state.json that never archived (${formatNumber(Math.round(Buffer.byteLength(untouched["state.json"]!) / 1e5) / 10)} MB)`,
      oneOff,
      `a shape aegis never writes (every write archives in batches): an imported or hand-merged ledger, archived in one write; ${profile(history, untouched["state.json"]!)}`,
      false,
    ),
    {
      id: `ledger.${size}.lossless`,
      section: SECTION,
      label: `${name}: every task kept (live + archive) after that write`,
      value: lossless,
      unit: "",
      target: { op: "==", limit: true },
    },
    {
      id: `ledger.${size}.digest-window`,
      section: SECTION,
      label: `${name}: digest's 24 h / 7 day numbers unchanged by archiving`,
      value: check.windowsEqual,
      unit: "",
      target: { op: "==", limit: true },
      ...(check.windowsEqual ? {} : { note: `before:\n${check.before}\nafter:\n${check.after}` }),
    },
  ];
}

/** REPEATS cycles, each on a fresh commit of `files`; the first error ends them. */
async function repeat(
  fake: FakeGitHub,
  store: LedgerStore,
  files: Files,
  issueBase: number,
  archive: "none" | "archives",
): Promise<Cycle[] | Error> {
  const cycles: Cycle[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await fake.git(["update-ref", "-d", `refs/heads/${STATE_BRANCH}`]).catch(() => undefined);
    for (const [path, text] of Object.entries(files))
      await fake.commitFile(STATE_BRANCH, path, text, "bench: reset the ledger");
    try {
      const cycle = await timedCycle(fake, store, issueBase + i);
      const archived = Object.keys(cycle.calls).length > 2 || Object.values(cycle.calls).some((n) => n > 1);
      if (archived !== (archive === "archives"))
        throw new Error(`bench: expected ${archive === "archives" ? "an archive batch" : "no archiving"}`);
      cycles.push(cycle);
    } catch (error) {
      const e = error as Error;
      return new Error(`${e.name}: ${e.message.split("\n")[0]}`, { cause: error });
    }
  }
  return cycles;
}

/** After the one-off: state.json plus the archive hold every task, each exactly once. */
async function nothingLost(fake: FakeGitHub, expected: number): Promise<boolean> {
  const ids: string[] = parseLedger((await fake.readFile(STATE_BRANCH, "state.json"))!, "bench").tasks.map(
    (t) => t.id,
  );
  const listing = await fake.git(["ls-tree", "--name-only", `refs/heads/${STATE_BRANCH}`, "archive/"]);
  for (const path of listing.split("\n").filter(Boolean)) {
    const text = (await fake.readFile(STATE_BRANCH, path)) ?? "";
    for (const line of text.split("\n").filter(Boolean)) ids.push((JSON.parse(line) as Task).id);
  }
  return ids.length === expected && new Set(ids).size === expected;
}

/** One read and one write that adds a task, timed; the fake's handling time kept apart. */
async function timedCycle(fake: FakeGitHub, store: LedgerStore, issue: number): Promise<Cycle> {
  fake.resetCalls();
  const started = performance.now();
  const snapshot = await store.read();
  const result = await store.update(
    `bench: add #${issue}`,
    (draft) => {
      if (openTaskForIssue(draft, issue)) return;
      const now = new Date().toISOString();
      addTask(draft, newTask(issue, { title: `Bench task ${issue}` }), "queued", {
        actor: "maya",
        reason: "bench",
        now,
      });
    },
    snapshot,
  );
  const totalMs = performance.now() - started;
  if (!result.written || result.conflicts > 0)
    throw new Error(`bench: the ledger write did not go through cleanly (${result.conflicts} conflicts)`);
  return { totalMs, clientMs: totalMs - serverTime(fake.calls), calls: countByRoute(fake.calls) };
}

/** Where a write's time goes on this ledger: the pure steps LedgerStore runs, timed alone. */
function profile(ledger: Ledger, text: string): string {
  const time = (fn: () => unknown) => {
    const t = performance.now();
    fn();
    return Math.round(performance.now() - t);
  };
  const parse = time(() => JSON.parse(text));
  const validate = time(() => parseLedger(text, "bench")) - parse;
  const serialize = time(() => serializeLedger(ledger));
  return `its pure steps alone: JSON.parse ${parse} ms, zod validation ${validate} ms, serialising it whole ${serialize} ms`;
}
