// The ledger document (`state.json` on the state branch): schema, parsing and serialisation.
// Pure: the adapter in src/adapters/ledger-store.ts moves it to and from GitHub.
import { z } from "zod";
import { AUTHORITIES } from "../config.js";

export const LEDGER_VERSION = 1;
export const LEDGER_FILE = "state.json";

export const TASK_STATES = [
  "awaiting-approval",
  "queued",
  "deferred",
  "running",
  "pr-open",
  "reviewed",
  "blocked",
  "failed",
  "done",
  "cancelled",
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const isoTime = z
  .string()
  .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, { error: "expected an ISO-8601 UTC time" });
const stateSchema = z.enum(TASK_STATES);

// Loose objects keep fields a newer writer of the same version added: a read-modify-write by
// this version must not drop data it does not understand.
const transitionSchema = z.looseObject({
  at: isoTime,
  from: stateSchema.nullable(),
  to: stateSchema,
  actor: z.string(),
  reason: z.string(),
  runId: z.string().optional(),
});

/** What started a fix round. */
export const roundKind = z.enum(["label", "review", "command", "ci", "base"]);
export type RoundKind = z.infer<typeof roundKind>;

/** Money: finite, never negative, and below any figure a real budget reaches (a lie of $4e9 is refused). */
const usd = z.number().min(0).max(1_000_000);

export const attemptSchema = z.looseObject({
  number: z.int().positive(),
  runId: z.string(),
  startedAt: isoTime,
  endedAt: isoTime.optional(),
  outcome: z.string().optional(),
  reason: z.string().optional(),
  failureKind: z.string().optional(),
  turns: z.number().min(0).optional(),
  costUsd: usd.optional(),
  /** What the CLI said the attempt cost (kept for comparison; `costUsd` is the proxy's count). */
  reportedCostUsd: usd.optional(),
  durationMs: z.number().min(0).optional(),
  sessionId: z.string().optional(),
  resumed: z.boolean().optional(),
  commits: z.number().min(0).optional(),
  files: z.array(z.string()).optional(),
  tests: z.string().optional(),
  model: z.string().optional(),
  /** `none` when the agent shared the runner's OS user (`run.sandbox: none`). */
  sandbox: z.enum(["user", "none"]).optional(),
  /** The page of the session's transcript artifact. */
  transcript: z.string().max(2000).optional(),
});

export const taskSchema = z.looseObject({
  id: z.string().regex(/^[0-9]+-[0-9]+$/),
  issue: z.int().positive(),
  title: z.string(),
  category: z.string(),
  authority: z.enum(AUTHORITIES),
  state: stateSchema,
  /** Queue rank: lower runs first (priority labels, then age). */
  priority: z.int().min(0),
  createdAt: isoTime,
  updatedAt: isoTime,
  requestedBy: z.string(),
  needsApproval: z.boolean(),
  approvedBy: z.looseObject({ login: z.string(), at: isoTime }).optional(),
  branch: z.string().optional(),
  pr: z
    .looseObject({
      number: z.int().positive(),
      url: z.string(),
      merged: z.boolean().optional(),
      /** How and when the PR ended (core/outcomes.ts). */
      ended: z.enum(["merged", "closed"]).optional(),
      endedAt: isoTime.optional(),
    })
    .optional(),
  attempts: z.array(attemptSchema),
  costUsd: usd,
  turns: z.number().min(0),
  sessionId: z.string().optional(),
  dependsOn: z.array(z.int().positive()),
  predictedFiles: z.array(z.string()),
  deferredReason: z.string().optional(),
  statusCommentId: z.int().positive().optional(),
  /** Fix rounds started (by label or by themselves); `fixRound` is the one queued or running. */
  fixRounds: z.int().min(0).optional(),
  fixRound: z.int().positive().optional(),
  /** The maintainer's `/aegis` command the queued or last command round answers (core/commands.ts). */
  command: z
    .looseObject({
      source: z.enum(["conversation", "inline", "review"]),
      commentId: z.int().positive(),
      author: z.string(),
      text: z.string().max(4000),
      path: z.string().optional(),
      line: z.int().positive().optional(),
      at: isoTime,
      round: z.int().positive().optional(),
      /** Set once the round's reply is posted. */
      replied: z.boolean().optional(),
    })
    .optional(),
  /** Comment ids of the commands already taken (queued or refused), newest last: none is taken twice. */
  commandsTaken: z.array(z.int().positive()).max(50).optional(),
  /** Fix rounds by what started them: `label`, `review`, `command`, `ci`, `base`. */
  roundsBy: z.partialRecord(roundKind, z.int().min(0)).optional(),
  review: z
    .looseObject({
      verdict: z.string(),
      at: isoTime,
      critical: z.int().min(0).optional(),
      findings: z.int().min(0).optional(),
      notes: z.array(z.string()).optional(),
    })
    .optional(),
  history: z.array(transitionSchema).min(1),
});

export const outcomeSchema = z.looseObject({
  taskId: z.string(),
  issue: z.int().positive(),
  pr: z.int().positive(),
  category: z.string(),
  openedAt: isoTime,
  endedAt: isoTime,
  ended: z.enum(["merged", "closed"]),
  revertedAt: isoTime.optional(),
  costUsd: usd,
  rounds: z.int().min(0),
  roundsBy: z.partialRecord(roundKind, z.int().min(0)).optional(),
});

/** Finished tasks leave the live list after a while and are kept as counts per UTC day. */
export const dayRollupSchema = z.looseObject({
  done: z.int().min(0),
  failed: z.int().min(0),
  blocked: z.int().min(0),
  cancelled: z.int().min(0),
  costUsd: usd,
});

export const ledgerSchema = z.looseObject({
  version: z.literal(LEDGER_VERSION),
  /** Last task sequence number handed out; task ids are `<issue>-<seq>`. */
  seq: z.int().min(0),
  updatedAt: isoTime,
  tasks: z.array(taskSchema),
  breaker: z.looseObject({
    consecutiveInfraFailures: z.int().min(0),
    open: z.boolean(),
    reason: z.string().optional(),
    since: isoTime.optional(),
  }),
  rollups: z.record(z.string().regex(/^\d{4}-\d\d-\d\d$/), dayRollupSchema),
  /** Up to when the sweep has read the repository's comments for missed `/aegis` commands. */
  commandsSeenAt: isoTime.optional(),
  /** How each PR ended, for the last 35 days (core/outcomes.ts); absent in older ledgers. */
  outcomes: z.array(outcomeSchema).optional(),
});

export type Transition = z.infer<typeof transitionSchema>;
export type Attempt = z.infer<typeof attemptSchema>;
export type Task = z.infer<typeof taskSchema>;
export type DayRollup = z.infer<typeof dayRollupSchema>;
export type Ledger = z.infer<typeof ledgerSchema>;
export type PrOutcome = z.infer<typeof outcomeSchema>;

/** A ledger that cannot be read safely. The action stops and never overwrites it. */
export class LedgerError extends Error {
  override name = "LedgerError";
}

export function emptyLedger(now: string): Ledger {
  return {
    version: LEDGER_VERSION,
    seq: 0,
    updatedAt: now,
    tasks: [],
    breaker: { consecutiveInfraFailures: 0, open: false },
    rollups: {},
  };
}

export function parseLedger(text: string, where: string): Ledger {
  const advice = `Fix or remove ${LEDGER_FILE} on ${where} by hand; aegis will not overwrite a ledger it cannot read.`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new LedgerError(
      `The ledger ${LEDGER_FILE} on ${where} is not valid JSON (${(error as Error).message}). ${advice}`,
      {
        cause: error,
      },
    );
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (version !== LEDGER_VERSION) {
    const newer = typeof version === "number" && version > LEDGER_VERSION;
    throw new LedgerError(
      `The ledger ${LEDGER_FILE} on ${where} has version ${JSON.stringify(version)}; this aegis reads version ${LEDGER_VERSION}.` +
        (newer ? " It was written by a newer aegis: upgrade the action." : ` ${advice}`),
    );
  }
  const result = ledgerSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join(".") || "(top level)"}: ${issue.message}`)
      .join("; ");
    throw new LedgerError(`The ledger ${LEDGER_FILE} on ${where} failed validation: ${problems}. ${advice}`);
  }
  // The schema only checks (no defaults, no transforms), so the parsed JSON itself is the
  // ledger: it keeps the file's key order, so an unchanged ledger serialises to the same text.
  return raw as Ledger;
}

/** A write that would not read back is refused before it is sent: nothing is ever stored that a later run could not read. */
export class LedgerWriteError extends Error {
  override name = "LedgerWriteError";
}

/**
 * Checks the ledger about to be written against the schema it is read with. Only the task lines
 * that differ from `before` (and the header) are checked: a write touches a few tasks, and at
 * 10,000 tasks a full check would cost more than the write.
 */
export function assertWritable(draft: Ledger, tasksText: string, before: string): void {
  const problems: string[] = [];
  const describe = (error: z.ZodError, prefix: string) =>
    error.issues
      .slice(0, 3)
      .map((issue) => `${[prefix, ...issue.path].filter((p) => p !== "").join(".")}: ${issue.message}`);
  const { tasks, ...rest } = draft;
  const head = ledgerSchema.safeParse(JSON.parse(JSON.stringify({ ...rest, tasks: [] })));
  if (!head.success) problems.push(...describe(head.error, ""));
  const old = new Set(before.split("\n"));
  const lines = tasksText ? tasksText.split("\n") : [];
  lines.forEach((line, i) => {
    if (old.has(line) || old.has(`${line},`) || old.has(line.replace(/,$/, ""))) return;
    const text = line.trim().replace(/,$/, "");
    const task = taskSchema.safeParse(JSON.parse(text));
    if (!task.success) problems.push(...describe(task.error, `tasks.${i} (${tasks[i]?.id ?? "?"})`));
  });
  if (problems.length)
    throw new LedgerWriteError(
      `aegis refused to write a ledger that would not validate (${problems.slice(0, 5).join("; ")}); nothing was written.`,
    );
}

/** One task per line: small diffs on the state branch, and still plain JSON. */
export function serializeLedger(ledger: Ledger): string {
  return joinLedger(ledger, serializeTasks(ledger.tasks));
}

/** The task lines alone: the costly part, computed once when only the header changes. */
export function serializeTasks(tasks: readonly Task[]): string {
  return tasks.map((task) => "  " + JSON.stringify(task)).join(",\n");
}

export function joinLedger(ledger: Ledger, tasksText: string): string {
  const { tasks, ...rest } = ledger;
  const head = JSON.stringify(rest, null, 1).slice(0, -2); // drop the closing "\n}"
  return `${head},\n "tasks": [${tasks.length ? `\n${tasksText}\n ` : ""}]\n}\n`;
}
