// Small helpers that play a person acting on the fake GitHub, and read the ledger back.
import { GitHub } from "../../src/adapters/github.js";
import { LedgerStore } from "../../src/adapters/ledger-store.js";
import { parseLedger, serializeLedger, type Ledger } from "../../src/core/ledger.js";
import { addTask } from "../../src/core/lifecycle.js";
import type { FakeGitHub } from "./fake-github.js";
import { claudeBin } from "./fake-anthropic.js";
import {
  issueLabeledEvent,
  runAction,
  type RunActionOptions,
  scheduleEvent,
  workflowDispatchEvent,
  type ActionRun,
} from "./runner.js";

/** `login` adds `label` to issue `n`: the label, and the timeline event the sweep reads. */
export function addLabelAs(fake: FakeGitHub, n: number, label: string, login: string): void {
  const issue = fake.issue(n)!;
  const rec =
    [...fake.store.labels.values()].find((l) => l.name.toLowerCase() === label.toLowerCase()) ??
    fake.seedLabel(label);
  if (!issue.labels.includes(rec.id)) issue.labels.push(rec.id);
  fake.store.event(n, "labeled", login, rec);
}

/** Opens an issue as `login` with the given labels, each added by `login`. */
export function openIssue(
  fake: FakeGitHub,
  opts: { title: string; body?: string; labels: string[]; by: string; assignees?: string[] },
): number {
  const rec = fake.seedIssue({
    title: opts.title,
    body: opts.body ?? "Please make the change described here; it is small and well defined.",
    labels: [],
    user: opts.by,
    ...(opts.assignees ? { assignees: opts.assignees } : {}),
  });
  for (const label of opts.labels) addLabelAs(fake, rec.number, label, opts.by);
  return rec.number;
}

/** The labeled event as GitHub would deliver it, run through the real bundle in plan mode. */
export async function planOnLabel(
  fake: FakeGitHub,
  n: number,
  label: string,
  by: string,
  env: Record<string, string> = {},
): Promise<ActionRun> {
  addLabelAs(fake, n, label, by);
  return runAction({ mode: "plan", event: issueLabeledEvent(fake, n, label, by), fake, env });
}

export async function planOnSchedule(fake: FakeGitHub, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({ mode: "plan", event: scheduleEvent(fake), fake, env });
}

export async function ledgerOf(fake: FakeGitHub, branch = "aegis-state"): Promise<Ledger> {
  const text = await fake.readFile(branch, "state.json");
  if (text === null) throw new Error(`no ledger on ${branch}`);
  return parseLedger(text, branch);
}

/** Fails with the step's own log when the action did not succeed. */
export function expectSuccess(run: ActionRun): ActionRun {
  if (run.exitCode !== 0)
    throw new Error(`action exited ${run.exitCode}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  return run;
}

/** Edits the ledger on its branch as another writer would (tests that need a given state). */
export async function mutateLedger(
  fake: FakeGitHub,
  mutate: (ledger: Ledger) => void,
  branch = "aegis-state",
): Promise<void> {
  const ledger = await ledgerOf(fake, branch);
  mutate(ledger);
  await fake.commitFile(branch, "state.json", serializeLedger(ledger), "test: edit the ledger");
}

/**
 * An aegis PR as run mode leaves it: an issue labelled `aegis:pr-open`, the PR from `branch` (already
 * pushed by the caller) to main, and its task in the ledger — what review mode starts from.
 */
export async function seedOpenPr(
  fake: FakeGitHub,
  opts: { branch: string; title: string; category?: string },
): Promise<{ taskId: string; pr: number }> {
  const issue = fake.seedIssue({ title: opts.title, labels: ["aegis", "bug", "aegis:pr-open"] }).number;
  const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
  const { data } = await gh.octokit.rest.pulls.create({
    owner: fake.owner,
    repo: fake.repo,
    head: opts.branch,
    base: "main",
    title: opts.title,
    body: `Fixes #${issue}`,
  });
  const now = new Date().toISOString();
  const { result: taskId } = await new LedgerStore({ gh, branch: "aegis-state", now: () => now }).update(
    "seed",
    (draft) => {
      const task = addTask(
        draft,
        {
          issue,
          title: opts.title,
          category: opts.category ?? "bugfix",
          authority: "proposed",
          priority: 2,
          requestedBy: "maya",
          needsApproval: false,
          dependsOn: [],
          predictedFiles: [],
        },
        "pr-open",
        { actor: "test", reason: "seeded", now },
      );
      task.branch = opts.branch;
      task.pr = { number: data.number, url: data.html_url };
      return task.id;
    },
  );
  return { taskId, pr: data.number };
}

/**
 * A maintainer opens and labels an issue, plan claims it, and run mode works its task with the
 * real `claude` against the model at `model.url`. Both runs are returned for the caller to clean up.
 */
export async function planThenRun(
  fake: FakeGitHub,
  issue: { title: string; body: string; labels: string[]; by: string },
  model: { url: string; apiKey: string },
  extra: Partial<RunActionOptions> = {},
): Promise<{ n: number; taskId: string; planned: ActionRun; run: ActionRun }> {
  const n = openIssue(fake, issue);
  const planned = expectSuccess(await planOnLabel(fake, n, "aegis", issue.by));
  const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
  const run = await runAction({
    mode: "run",
    inputs: {
      task: taskId,
      "claude-executable": claudeBin(),
      "anthropic-base-url": model.url,
      "anthropic-api-key": model.apiKey,
    },
    event: workflowDispatchEvent(fake),
    fake,
    timeoutMs: 150_000,
    ...extra,
    env: { CLAUDE_CODE_MAX_RETRIES: "0", ...extra.env },
  });
  return { n, taskId, planned, run };
}
