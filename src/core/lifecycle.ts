// The task state machine and the ledger operations built on it. Pure: every function takes the
// ledger and returns a decision or mutates the draft it is given; the ledger store retries them
// on a fresh copy when a concurrent writer won the race, so each must be safe to re-apply.
import type { Ledger, Task, TaskState } from "./ledger.js";

/** Allowed moves. Terminal states (`done`, `cancelled`) end a task; a new label makes a new task. */
const NEXT: Readonly<Record<TaskState, readonly TaskState[]>> = {
  "awaiting-approval": ["queued", "deferred", "cancelled"],
  queued: ["running", "deferred", "awaiting-approval", "cancelled"],
  deferred: ["queued", "awaiting-approval", "cancelled"],
  running: ["pr-open", "queued", "failed", "blocked", "cancelled"],
  "pr-open": ["reviewed", "done", "cancelled", "failed"],
  reviewed: ["pr-open", "reviewed", "done", "cancelled"],
  blocked: ["queued", "awaiting-approval", "cancelled"],
  failed: ["queued", "awaiting-approval", "cancelled"],
  done: [],
  cancelled: [],
};

export const OPEN_STATES: readonly TaskState[] = [
  "awaiting-approval",
  "queued",
  "deferred",
  "running",
  "pr-open",
  "reviewed",
  "blocked",
  "failed",
];
/** Pending = work the repository is committed to: the pending cap counts these. */
export const PENDING_STATES: readonly TaskState[] = ["awaiting-approval", "queued", "running"];
export const TERMINAL_STATES: readonly TaskState[] = ["done", "cancelled"];

export function canTransition(from: TaskState, to: TaskState): boolean {
  return NEXT[from].includes(to);
}

export class TransitionError extends Error {
  override name = "TransitionError";
}

export interface TransitionInput {
  to: TaskState;
  actor: string;
  reason: string;
  now: string;
  runId?: string;
}

/** Moves a task, appending to its history. Illegal moves throw: they are bugs, not user errors. */
export function transition(task: Task, input: TransitionInput): void {
  if (!canTransition(task.state, input.to)) {
    throw new TransitionError(
      `task ${task.id}: cannot move from ${task.state} to ${input.to} (${input.reason})`,
    );
  }
  task.history.push({
    at: input.now,
    from: task.state,
    to: input.to,
    actor: input.actor,
    reason: input.reason,
    ...(input.runId ? { runId: input.runId } : {}),
  });
  task.state = input.to;
  task.updatedAt = input.now;
  if (input.to !== "deferred") delete task.deferredReason;
}

export function findTask(ledger: Ledger, id: string): Task | undefined {
  return ledger.tasks.find((task) => task.id === id);
}

/** The issue's current task, if any: the newest one that has not ended. */
export function openTaskForIssue(ledger: Ledger, issue: number): Task | undefined {
  for (let i = ledger.tasks.length - 1; i >= 0; i--) {
    const task = ledger.tasks[i]!;
    if (task.issue === issue && !TERMINAL_STATES.includes(task.state)) return task;
  }
  return undefined;
}

export function countIn(ledger: Ledger, states: readonly TaskState[]): number {
  return ledger.tasks.filter((task) => states.includes(task.state)).length;
}

export interface NewTask {
  issue: number;
  title: string;
  category: string;
  authority: Task["authority"];
  priority: number;
  requestedBy: string;
  needsApproval: boolean;
  dependsOn: number[];
  predictedFiles: string[];
}

/** Adds a task in `state`; the id is `<issue>-<ledger sequence>` so it stays unique forever. */
export function addTask(
  ledger: Ledger,
  input: NewTask,
  state: TaskState,
  meta: { actor: string; reason: string; now: string; runId?: string },
): Task {
  ledger.seq += 1;
  const task: Task = {
    id: `${input.issue}-${ledger.seq}`,
    ...input,
    state,
    createdAt: meta.now,
    updatedAt: meta.now,
    attempts: [],
    costUsd: 0,
    turns: 0,
    history: [
      {
        at: meta.now,
        from: null,
        to: state,
        actor: meta.actor,
        reason: meta.reason,
        ...(meta.runId ? { runId: meta.runId } : {}),
      },
    ],
  };
  ledger.tasks.push(task);
  return task;
}

/** Normalised title for duplicate detection: case, punctuation and spacing do not make a new task. */
export function normalizeTitle(title: string): string {
  return title
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

const DAY_MS = 86_400_000;

/**
 * Keeps the ledger bounded: tasks that ended more than `keepDays` ago leave the live list and
 * are added to per-day rollups (which the digest and the monthly budget read). Rollups older
 * than `rollupDays` are dropped. Returns how many tasks were archived.
 */
export function compactLedger(ledger: Ledger, now: string, keepDays = 8, rollupDays = 400): number {
  const nowMs = Date.parse(now);
  const keep: Task[] = [];
  let archived = 0;
  for (const task of ledger.tasks) {
    const endedMs = Date.parse(task.updatedAt);
    const finished =
      TERMINAL_STATES.includes(task.state) || task.state === "failed" || task.state === "blocked";
    if (finished && nowMs - endedMs > keepDays * DAY_MS && TERMINAL_STATES.includes(task.state)) {
      const day = task.updatedAt.slice(0, 10);
      const rollup = (ledger.rollups[day] ??= { done: 0, failed: 0, blocked: 0, cancelled: 0, costUsd: 0 });
      if (task.state === "done") rollup.done += 1;
      else rollup.cancelled += 1;
      rollup.costUsd = round(rollup.costUsd + task.costUsd);
      archived += 1;
    } else {
      keep.push(task);
    }
  }
  ledger.tasks = keep;
  const oldest = new Date(nowMs - rollupDays * DAY_MS).toISOString().slice(0, 10);
  for (const day of Object.keys(ledger.rollups)) if (day < oldest) delete ledger.rollups[day];
  return archived;
}

export function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
