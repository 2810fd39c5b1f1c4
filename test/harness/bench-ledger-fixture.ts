// A realistic large ledger for the scaling benchmark, and the check that compaction keeps the
// digest's 24-hour and 7-day numbers. Pure and deterministic (seeded): the test runs it small.
//
// Shape: tasks created evenly over `days` (default 8 months). All but the newest few have
// ended — most merged, some cancelled (PR closed, issue closed before approval, attempts spent
// and the label released) — with the history, attempts, PR and review a real lifecycle leaves.
// The newest 15 are open, one per state the queue shows. So most of the ledger is old finished
// work, which is what compaction rolls up into per-day counts.
import type { Config } from "../../src/config.js";
import { renderDigest } from "../../src/core/digest.js";
import type { Attempt, Ledger, Task, TaskState, Transition } from "../../src/core/ledger.js";
import { compactLedger, round } from "../../src/core/lifecycle.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const OPEN_TAIL: readonly TaskState[] = [
  "awaiting-approval",
  "awaiting-approval",
  "queued",
  "running",
  "running",
  "deferred",
  "deferred",
  "deferred",
  "deferred",
  "pr-open",
  "pr-open",
  "pr-open",
  "reviewed",
  "reviewed",
  "blocked",
];

const CATEGORIES = [
  { label: "documentation", category: "docs", authority: "auto_safe" },
  { label: "test", category: "tests", authority: "auto_safe" },
  { label: "refactor", category: "refactor", authority: "auto_safe" },
  { label: "bug", category: "bugfix", authority: "proposed" },
  { label: "enhancement", category: "feature", authority: "proposed" },
] as const;
const PEOPLE = ["maya", "ada", "lin", "omar", "sofia"];
const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1"];

export interface LedgerFixtureOptions {
  tasks: number;
  /** ISO time the ledger is as of. */
  now: string;
  days?: number;
  seed?: number;
}

/** mulberry32: small, fast, good enough to spread a fixture. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function buildLedger(options: LedgerFixtureOptions): Ledger {
  const { tasks: count, now } = options;
  const rnd = random(options.seed ?? 7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const between = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  const nowMs = Date.parse(now);
  const span = (options.days ?? 240) * DAY;
  const tasks: Task[] = [];

  for (let i = 0; i < count; i++) {
    const created = nowMs - span + ((i + 0.5) / count) * (span - 3 * HOUR);
    const kind = CATEGORIES[i % CATEGORIES.length]!;
    const issue = 1000 + i;
    const seq = i + 1;
    const id = `${issue}-${seq}`;
    const requestedBy = pick(PEOPLE);
    const runId = String(7_000_000 + i * 3);
    const history: Transition[] = [];
    let at = created;
    // An object, not a `let`: TypeScript does not see assignments made inside closures.
    const current: { state: TaskState | null } = { state: null };
    const move = (to: TaskState, reason: string, actor = "aegis", after = 0) => {
      at = Math.min(at + after, nowMs - MIN);
      history.push({ at: iso(at), from: current.state, to, actor, reason, runId });
      current.state = to;
    };
    const attempts: Attempt[] = [];
    const attempt = (outcome: string | undefined, extra: Partial<Attempt> = {}) => {
      const startedAt = at;
      const durationMs = Math.round(between(2 * MIN, 20 * MIN));
      const ended = outcome !== undefined;
      if (ended) at = Math.min(at + durationMs, nowMs - MIN);
      attempts.push({
        number: attempts.length + 1,
        runId: `${runId}/${attempts.length + 1}`,
        startedAt: iso(startedAt),
        ...(ended
          ? {
              endedAt: iso(at),
              outcome,
              turns: Math.round(between(3, 25)),
              costUsd: round(between(0.05, 2.5)),
              durationMs,
              sessionId: `0b7c${(i * 7919).toString(16).padStart(8, "0")}-9d2e-4a51-b6f0-3c1e8a${seq.toString(16).padStart(6, "0")}`,
              commits: outcome === "complete" ? Math.round(between(1, 4)) : 0,
              files: outcome === "complete" ? [`docs/page-${i % 40}.md`, `src/module-${i % 17}.ts`] : [],
              model: pick(MODELS),
            }
          : {}),
        ...extra,
      });
    };
    const needsApproval = kind.authority === "proposed";
    const begin = () => {
      if (needsApproval) {
        move(
          "awaiting-approval",
          `${kind.category} is proposed work: waits for a maintainer's approval`,
          requestedBy,
        );
        move("queued", `approved by @maya`, "maya", between(10 * MIN, 6 * HOUR));
      } else {
        move(
          "queued",
          `${kind.category} is auto_safe and @${requestedBy} has maintain permission`,
          requestedBy,
        );
      }
      move("running", `claimed by run ${runId} (attempt 1)`, "aegis", between(MIN, 40 * MIN));
    };
    const pr = { number: 20_000 + i, url: `https://github.com/acme/app/pull/${20_000 + i}` };
    let review: Task["review"];

    const tail = i - (count - OPEN_TAIL.length);
    const fate = tail >= 0 ? OPEN_TAIL[tail]! : rnd();
    if (typeof fate === "string") {
      if (fate === "awaiting-approval" || fate === "deferred" || fate === "queued") {
        move(fate, fate === "deferred" ? "the pending cap (5) is full" : "taken in", requestedBy);
      } else {
        begin();
        if (fate === "running") attempt(undefined);
        else if (fate === "blocked") {
          attempt("blocked", { reason: "the issue asks for credentials the agent does not have" });
          move("blocked", "TASK_BLOCKED: needs a decision on the API shape");
        } else {
          attempt("complete");
          move("pr-open", `pull request #${pr.number} opened`);
          if (fate === "reviewed") {
            review = { verdict: "clean", at: iso(at + 5 * MIN), critical: 0, findings: 2 };
            move("reviewed", "Codex review: clean, 2 non-critical findings", "aegis", 5 * MIN);
          }
        }
      }
    } else if (fate < 0.05) {
      move("awaiting-approval", "proposed work: waits for a maintainer's approval", requestedBy);
      move("cancelled", "the issue was closed", "aegis", between(HOUR, 10 * DAY));
    } else {
      begin();
      if (fate < 0.2) attempt("api-error", { failureKind: "overloaded", reason: "the API was overloaded" });
      if (fate < 0.2) move("queued", "api-error: retrying (attempt 2 of 2)");
      if (fate < 0.2) move("running", `claimed by run ${runId} (attempt 2)`, "aegis", HOUR);
      if (fate < 0.26) {
        attempt("max-turns", { reason: "reached 25 turns without finishing" });
        move("failed", "max turns on the last attempt: no attempts left");
        move("cancelled", "the `aegis` label was removed", "aegis", between(HOUR, 5 * DAY));
      } else {
        attempt("complete");
        move("pr-open", `pull request #${pr.number} opened`);
        const critical = fate < 0.4 ? 1 : 0;
        review = { verdict: critical ? "critical" : "clean", at: iso(at), critical, findings: 1 + critical };
        move(
          "reviewed",
          `Codex review: ${critical ? "1 critical finding" : "clean"}`,
          "aegis",
          between(3 * MIN, 12 * MIN),
        );
        if (fate < 0.32)
          move(
            "cancelled",
            `pull request #${pr.number} was closed without merging`,
            "aegis",
            between(HOUR, 4 * DAY),
          );
        else move("done", `pull request #${pr.number} was merged`, "aegis", between(HOUR, 3 * DAY));
      }
    }
    const ran = attempts.length > 0;
    const state = current.state!;
    tasks.push({
      id,
      issue,
      title: `${kind.category === "docs" ? "Document" : "Improve"} module ${i % 97}: ${kind.label} item ${i}`,
      category: kind.category,
      authority: kind.authority,
      state,
      priority: 2,
      createdAt: iso(created),
      updatedAt: history.at(-1)!.at,
      requestedBy,
      needsApproval,
      ...(needsApproval && history.some((h) => h.actor === "maya" && h.to === "queued")
        ? { approvedBy: { login: "maya", at: history[1]!.at } }
        : {}),
      ...(ran ? { branch: `auto/${kind.category}/${id}` } : {}),
      ...(history.some((h) => h.to === "pr-open")
        ? { pr: { ...pr, ...(state === "done" ? { merged: true } : {}) } }
        : {}),
      attempts,
      costUsd: round(attempts.reduce((s, a) => s + (a.costUsd ?? 0), 0)),
      turns: attempts.reduce((s, a) => s + (a.turns ?? 0), 0),
      ...(ran ? { sessionId: attempts.at(-1)!.sessionId ?? "pending" } : {}),
      dependsOn: [],
      predictedFiles: [`docs/page-${i % 40}.md`],
      statusCommentId: 500_000 + i,
      ...(review ? { review } : {}),
      ...(state === "deferred" ? { deferredReason: "the pending cap (5) is full" } : {}),
      history,
    });
  }
  return {
    version: 1,
    seq: count,
    updatedAt: now,
    tasks,
    breaker: { consecutiveInfraFailures: 0, open: false },
    rollups: {},
  };
}

/** The digest's "Last 24 hours and 7 days" section, failures by kind included. */
export function windowSection(markdown: string): string {
  const start = markdown.indexOf("### Last 24 hours and 7 days");
  if (start < 0) throw new Error("bench: the digest has no 24 hours / 7 days section");
  const end = markdown.indexOf("\n### ", start + 4);
  return markdown.slice(start, end < 0 ? undefined : end).trim();
}

export interface CompactionCheck {
  archived: number;
  compacted: Ledger;
  /** The 24 h / 7 day section is the same before and after compaction. */
  windowsEqual: boolean;
  before: string;
  after: string;
}

/** Compacts a copy of `ledger` at `now` and compares the digest's window numbers. */
export function checkCompaction(
  ledger: Ledger,
  now: string,
  config: Config,
  compact: (ledger: Ledger, now: string) => unknown[] = compactLedger,
): CompactionCheck {
  const compacted = structuredClone(ledger);
  const archived = compact(compacted, now).length;
  const render = (l: Ledger) =>
    windowSection(
      renderDigest({ ledger: l, config, now, runId: "0", repoUrl: "https://github.com/acme/app" }),
    );
  const before = render(ledger);
  const after = render(compacted);
  return { archived, compacted, windowsEqual: before === after, before, after };
}
