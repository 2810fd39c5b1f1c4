// Section 3: the ledger at 1,000 and 10,000 tasks. In-process, through the real LedgerStore
// against the fake: read (contents API, blob API over 1 MB) + zod validation + one
// compare-and-swap write that adds a task. The first write on a file built up over months
// compacts it; the second is the steady state every later run pays.
import { GitHub } from "../../src/adapters/github.js";
import { LedgerStore } from "../../src/adapters/ledger-store.js";
import { type Ledger, parseLedger, serializeLedger } from "../../src/core/ledger.js";
import { addTask, openTaskForIssue } from "../../src/core/lifecycle.js";
import { CONFIG, quietly, serverTime, STATE_BRANCH } from "./bench-env.js";
import { buildLedger, checkCompaction } from "./bench-ledger-fixture.js";
import { countByRoute, type Figure, formatNumber, median, totalCalls } from "./bench-report.js";
import { startFakeGitHub, type FakeGitHub } from "./fake-github.js";
import { newTask } from "./tasks.js";

const SECTION = "3. Ledger scaling (state.json)";
export const CYCLE_TARGET_MS = 300;
/** Above 1 MB the contents API stops inlining the file and a read costs a second (blob) call. */
export const BOUNDED_BYTES = 1024 * 1024;
const REPEATS = 3;

interface Cycle {
  /** Wall time of read + validate + write, minus the fake's own handling time. */
  clientMs: number;
  totalMs: number;
  calls: Record<string, number>;
}

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

async function measure(fake: FakeGitHub, size: number): Promise<Figure[]> {
  const now = new Date().toISOString();
  const ledger = buildLedger({ tasks: size, now });
  const text = serializeLedger(ledger);
  const check = checkCompaction(ledger, now, CONFIG);
  const compactedText = serializeLedger(check.compacted);
  const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
  const store = new LedgerStore({ gh, branch: STATE_BRANCH, now: () => now });

  // The first write on the file built up over months (it compacts), then the steady state on
  // the compacted file; each from a fresh commit so the repeats measure the same thing.
  const first = await repeat(fake, store, text, 900_000);
  const why = first instanceof Error ? await diagnoseRead(gh) : undefined;
  const steady = await repeat(fake, store, compactedText, 910_000);
  const name = `${formatNumber(size)} tasks`;
  const timing = (id: string, label: string, outcome: Cycle[] | Error, note: string): Figure => {
    const base = {
      id,
      section: SECTION,
      label,
      unit: "ms",
      target: { op: "<=", limit: CYCLE_TARGET_MS },
    } as const;
    if (outcome instanceof Error) return { ...base, value: null, error: outcome.message, note };
    const calls = outcome[0]!.calls;
    return {
      ...base,
      value: Math.round(median(outcome.map((c) => c.clientMs))),
      note: `aegis's side, median of ${REPEATS}; ${Math.round(median(outcome.map((c) => c.totalMs)))} ms with the fake's own handling; ${totalCalls(calls)} calls (${Object.keys(calls).join(", ")}); ${note}`,
    };
  };
  const finished = ledger.tasks.filter((t) => t.state === "done" || t.state === "cancelled").length;
  return [
    {
      id: `ledger.${size}.bytes`,
      section: SECTION,
      label: `${name}: size before compaction`,
      value: Buffer.byteLength(text),
      unit: "bytes",
      note: `${ledger.tasks.length} tasks created over 8 months, ${finished} of them finished`,
    },
    {
      id: `ledger.${size}.compacted-bytes`,
      section: SECTION,
      label: `${name}: size after compaction`,
      value: Buffer.byteLength(compactedText),
      unit: "bytes",
      target: { op: "<=", limit: BOUNDED_BYTES },
      note: `${check.archived} finished tasks rolled up into ${Object.keys(check.compacted.rollups).length} daily counts; ${check.compacted.tasks.length} tasks kept; the bound is the contents API's inline limit (one call per read)`,
    },
    timing(
      `ledger.${size}.first-cycle`,
      `${name}: read + validate + CAS write, first write (compacts)`,
      first,
      [why, profile(ledger, text)].filter(Boolean).join("; "),
    ),
    timing(
      `ledger.${size}.steady-cycle`,
      `${name}: read + validate + CAS write, steady state`,
      steady,
      "on the compacted file",
    ),
    {
      id: `ledger.${size}.digest-window`,
      section: SECTION,
      label: `${name}: digest's 24 h / 7 day numbers unchanged by compaction`,
      value: check.windowsEqual,
      unit: "",
      target: { op: "==", limit: true },
      ...(check.windowsEqual ? {} : { note: `before:\n${check.before}\nafter:\n${check.after}` }),
    },
  ];
}

/** REPEATS cycles, each on a fresh commit of `text`; the first error ends them. */
async function repeat(
  fake: FakeGitHub,
  store: LedgerStore,
  text: string,
  issueBase: number,
): Promise<Cycle[] | Error> {
  const cycles: Cycle[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await fake.commitFile(STATE_BRANCH, "state.json", text, "bench: reset the ledger");
    try {
      cycles.push(await cycle(fake, store, issueBase + i));
    } catch (error) {
      const e = error as Error;
      return new Error(`${e.name}: ${e.message.split("\n")[0]}`, { cause: error });
    }
  }
  return cycles;
}

/** One read and one write that adds a task, timed; the fake's handling time kept apart. */
async function cycle(fake: FakeGitHub, store: LedgerStore, issue: number): Promise<Cycle> {
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

/** Why a read failed, when it is the known case: Octokit hands back the blob's JSON unparsed. */
async function diagnoseRead(gh: GitHub): Promise<string | undefined> {
  try {
    const { owner, repo, octokit } = gh;
    const ref = `refs/heads/${STATE_BRANCH}`;
    const { data: meta } = await octokit.rest.repos.getContent({ owner, repo, path: "state.json", ref });
    if (Array.isArray(meta)) return undefined;
    const { data } = await octokit.rest.git.getBlob({ owner, repo, file_sha: meta.sha });
    if (typeof data !== "string") return undefined;
    return `cause: Octokit returned the git/blobs response (${formatNumber(Math.round((data as string).length / 1e5) / 10)} M characters) as an unparsed string, because its JSON parser (json-with-bigint) overflows the stack on a string that long, so LedgerStore.read finds no \`content\`; reading the blob with the raw media type avoids the JSON`;
  } catch {
    return undefined;
  }
}

/** Where a write's time goes on this ledger: the pure steps LedgerStore runs, timed alone. */
function profile(ledger: Ledger, text: string): string {
  const time = (fn: () => unknown) => {
    const t = performance.now();
    fn();
    return Math.round(performance.now() - t);
  };
  const parse = time(() => parseLedger(text, "bench"));
  const clone = time(() => structuredClone(ledger));
  const serialize = time(() => serializeLedger(ledger));
  return `the pure steps alone: parse + validate ${parse} ms, structuredClone ${clone} ms, serialize ${serialize} ms × 3 per write = ${parse + clone + 3 * serialize} ms before any I/O`;
}
