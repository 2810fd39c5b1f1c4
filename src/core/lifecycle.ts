// The task state machine and the ledger operations built on it. Pure: every function takes the
// ledger and returns a decision or mutates the draft it is given; the ledger store retries them
// on a fresh copy when a concurrent writer won the race, so each must be safe to re-apply.
import { type Ledger, type Task, TASK_STATES, type TaskState } from "./ledger.js";

/** Allowed moves. Terminal states (`done`, `cancelled`) end a task; a new label makes a new task. */
const NEXT: Readonly<Record<TaskState, readonly TaskState[]>> = {
  "awaiting-approval": ["queued", "deferred", "cancelled"],
  queued: ["running", "deferred", "awaiting-approval", "cancelled"],
  deferred: ["queued", "awaiting-approval", "cancelled"],
  running: ["pr-open", "queued", "failed", "blocked", "cancelled"],
  // pr-open/reviewed → queued: a fix round sends the task back to the agent on the same PR.
  "pr-open": ["reviewed", "done", "cancelled", "failed", "queued"],
  reviewed: ["pr-open", "reviewed", "done", "cancelled", "queued"],
  blocked: ["queued", "awaiting-approval", "cancelled"],
  failed: ["queued", "awaiting-approval", "cancelled"],
  done: [],
  cancelled: [],
};

export const TERMINAL_STATES: readonly TaskState[] = ["done", "cancelled"];
/** Every state a task can still leave: all but the terminal ones. */
export const OPEN_STATES: readonly TaskState[] = TASK_STATES.filter((s) => !TERMINAL_STATES.includes(s));
/** Pending = work the repository is committed to: the pending cap counts these. */
export const PENDING_STATES: readonly TaskState[] = ["awaiting-approval", "queued", "running"];

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

export interface CompactionPolicy {
  /** Finished tasks stay live at least this long: the digest's 7-day window and rollback read them. */
  keepDays: number;
  /**
   * Archive in batches, so the extra archive write happens about weekly rather than on every
   * run: when this many tasks are due, or the oldest due task ended `maxWaitDays` ago.
   */
  batch: number;
  maxWaitDays: number;
  /** Daily rollups (digest, monthly budget) are kept this long. */
  rollupDays: number;
}

export const COMPACTION: CompactionPolicy = { keepDays: 8, batch: 25, maxWaitDays: 15, rollupDays: 400 };

/**
 * The finished tasks (done, cancelled) ready to leave the live ledger now, or [] while their
 * batch is still filling. Failed and blocked tasks stay: they can still be retried, and the
 * sweep cancels them once their issue is closed or unlabelled.
 */
export function dueForArchive(ledger: Ledger, now: string, policy: CompactionPolicy = COMPACTION): Task[] {
  const nowMs = Date.parse(now);
  const due = ledger.tasks.filter(
    (task) =>
      TERMINAL_STATES.includes(task.state) && nowMs - Date.parse(task.updatedAt) > policy.keepDays * DAY_MS,
  );
  const oldest = Math.min(...due.map((task) => Date.parse(task.updatedAt)));
  return due.length >= policy.batch || nowMs - oldest > policy.maxWaitDays * DAY_MS ? due : [];
}

/**
 * Keeps the ledger bounded: `tasks` (from dueForArchive, already saved to the archive) leave
 * the live list and are added to per-day rollups, which the digest and the monthly budget read.
 * Rollups older than `rollupDays` are dropped.
 */
export function archiveTasks(
  ledger: Ledger,
  tasks: readonly Task[],
  now: string,
  rollupDays = COMPACTION.rollupDays,
): void {
  const leaving = new Set(tasks.map((task) => task.id));
  for (const task of tasks) {
    const day = task.updatedAt.slice(0, 10);
    const rollup = (ledger.rollups[day] ??= { done: 0, failed: 0, blocked: 0, cancelled: 0, costUsd: 0 });
    if (task.state === "done") rollup.done += 1;
    else rollup.cancelled += 1;
    rollup.costUsd = round(rollup.costUsd + task.costUsd);
  }
  ledger.tasks = ledger.tasks.filter((task) => !leaving.has(task.id));
  const oldest = new Date(Date.parse(now) - rollupDays * DAY_MS).toISOString().slice(0, 10);
  for (const day of Object.keys(ledger.rollups)) if (day < oldest) delete ledger.rollups[day];
}

/** dueForArchive then archiveTasks, for callers with nowhere to keep the records. Returns them. */
export function compactLedger(ledger: Ledger, now: string, policy: CompactionPolicy = COMPACTION): Task[] {
  const due = dueForArchive(ledger, now, policy);
  archiveTasks(ledger, due, now, policy.rollupDays);
  return due;
}

export function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
