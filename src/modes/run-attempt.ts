// The shapes one attempt of a task passes between its steps: claimed (run.ts), published
// (publish.ts), concluded (run-conclude.ts).
import type { SessionResult } from "../adapters/claude.js";
import type { LedgerSnapshot } from "../adapters/ledger-store.js";
import type { Task } from "../core/ledger.js";
import type { OutcomeResult } from "../core/outcome.js";
import type * as decide from "../core/run-decisions.js";
import type { Violation } from "../core/secret-scan.js";
import type { TranscriptLink } from "../core/transcript.js";

/** A task this run claimed in the ledger, and the ledger as the claim left it. */
export interface Claimed {
  task: Task;
  attemptNumber: number;
  snapshot: LedgerSnapshot;
  started: number;
}

/** What an attempt concluded with: its plan, and what the session and the publisher made. */
export interface Conclusion extends Claimed {
  plan: decide.Plan;
  branch: string;
  model?: string;
  record?: decide.AttemptRecord;
  outcome?: OutcomeResult;
  session?: SessionResult;
  pr?: { number: number; url: string; base?: string };
  violations?: Violation[];
  tests?: string;
  leftOut?: string[];
  /** False when the agent shared the runner's user (`run.sandbox: none`): the summary says so. */
  sandboxed?: boolean;
  egress?: { refused: number; destinations: string[] };
  transcript?: TranscriptLink;
}

/** What `run` mode reports (outputs and the step summary). */
export interface RunReport {
  taskId: string;
  state?: string;
  outcome?: string;
  pr?: { number: number; url: string };
  costUsd: number;
}
