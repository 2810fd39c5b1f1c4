// Shared set-up for the benchmark: a fake GitHub where aegis has run before (labels created,
// ledger branch present), one checkout reused by every plan, and a step runner that counts the
// REST calls one action step made.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseConfig } from "../../src/config.js";
import { labelDefinitions } from "../../src/core/labels.js";
import { emptyLedger, serializeLedger } from "../../src/core/ledger.js";
import { countByRoute } from "./bench-report.js";
import { type FakeGitHub, type Call, startFakeGitHub } from "./fake-github.js";
import { type ActionRun, DEFAULT_ENTRY, type RunEvent, checkout, runAction } from "./runner.js";

export const CONFIG = parseConfig(undefined);
/** The bundle under test; AEGIS_BENCH_ENTRY points at a private build while dist/ lags behind. */
export const ENTRY = process.env.AEGIS_BENCH_ENTRY ?? DEFAULT_ENTRY;
export const STATE_BRANCH = "aegis-state";
/** maya may approve; rick may not. */
export const USERS = { maya: "maintain", rick: "read" } as const;

export interface Sandbox {
  fake: FakeGitHub;
  /** A checkout shared by the plan and digest steps, which only read it. */
  workspace: string;
  close(): Promise<void>;
}

/**
 * A repository aegis already knows: its labels exist and the ledger branch holds an empty
 * ledger, so no figure carries the one-time set-up (3 calls for the branch, one per label).
 */
export async function sandbox(options: { ledger?: boolean } = {}): Promise<Sandbox> {
  const fake = await startFakeGitHub({ users: { ...USERS } });
  for (const def of labelDefinitions(CONFIG)) fake.seedLabel(def.name, def.color, def.description);
  if (options.ledger !== false) {
    await fake.commitFile(
      STATE_BRANCH,
      "state.json",
      serializeLedger(emptyLedger(new Date().toISOString())),
      "aegis: create ledger",
    );
  }
  const root = await mkdtemp(path.join(os.tmpdir(), "aegis-bench-"));
  const workspace = await checkout(fake, path.join(root, "workspace"));
  return {
    fake,
    workspace,
    async close() {
      await fake.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface StepResult {
  run: ActionRun;
  ok: boolean;
  /** REST calls per endpoint made during the step (git smart-HTTP excluded). */
  calls: Record<string, number>;
  /** Time the fake spent handling those calls: its own cost, not aegis's. */
  serverMs: number;
}

let nextRunId = 5000;

/** Runs one action step through the real bundle and counts what it asked of GitHub. */
export async function step(
  sb: Sandbox,
  options: {
    mode: string;
    event: RunEvent;
    inputs?: Record<string, string>;
    env?: Record<string, string>;
    /** Clone a fresh workspace (steps that change it: run, review). */
    freshWorkspace?: boolean;
    runId?: number;
    timeoutMs?: number;
  },
): Promise<StepResult> {
  sb.fake.resetCalls();
  const run = await runAction({
    mode: options.mode,
    event: options.event,
    fake: sb.fake,
    entry: ENTRY,
    runId: options.runId ?? ++nextRunId,
    ...(options.inputs ? { inputs: options.inputs } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.freshWorkspace ? {} : { workspace: sb.workspace }),
    timeoutMs: options.timeoutMs ?? 120_000,
  });
  const api = sb.fake.calls.filter((c) => !c.route.startsWith("GIT"));
  const result = {
    run,
    ok: run.exitCode === 0,
    calls: countByRoute(api),
    serverMs: serverTime(api),
  };
  await run.cleanup();
  return result;
}

export function serverTime(calls: readonly Call[]): number {
  return calls.reduce((sum, c) => sum + (c.route.startsWith("GIT") ? 0 : c.durationMs), 0);
}

/** Why a step failed, in one line: its first error annotation, else the end of its log. */
export function failureOf(run: ActionRun): string {
  const error = run.annotations.find((a) => a.level === "error")?.message;
  if (error) return error.split("\n")[0]!.slice(0, 200);
  const tail = `${run.stdout}\n${run.stderr}`.trim().split("\n").pop() ?? "";
  return `exit ${run.exitCode}${run.timedOut ? " (timed out)" : ""}: ${tail.slice(0, 200)}`;
}

/** Runs `fn` with stdout silenced: in-process aegis code logs through @actions/core. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
  }
}
