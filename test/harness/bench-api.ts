// Section 1: GitHub REST calls per operation, each through the real bundle against the fake.
// A workflow token gets 1,000 requests per hour per repository, so calls are the figure that
// decides how many tasks a repository can push through.
//
// Three sandboxes: a task's whole lifecycle (intake → run → review → digest → merge noticed by
// the hourly sweep), proposed work with its approval, and a claim by the hourly sweep. Costs the
// sweep pays anyway are measured by an idle sweep right after and subtracted, so "merge
// noticed" and "claim" are what that one task added.
import { GitHub } from "../../src/adapters/github.js";
import { LedgerStore } from "../../src/adapters/ledger-store.js";
import { stateLabel } from "../../src/core/labels.js";
import type { TaskState } from "../../src/core/ledger.js";
import { findTask, transition } from "../../src/core/lifecycle.js";
import { dependencyRunScenario } from "./bench-dependencies.js";
import { addCounts, type Figure, subtractCounts, totalCalls } from "./bench-report.js";
import {
  CONFIG,
  failureOf,
  quietly,
  type Sandbox,
  sandbox,
  STATE_BRANCH,
  step,
  type StepResult,
} from "./bench-env.js";
import { claudeBin, startFakeAnthropic, type Turn } from "./fake-anthropic.js";
import { codexBin, startFakeOpenAI, structuredReviewAnswer } from "./fake-openai.js";
import { issueLabeledEvent, pullRequestLabeledEvent, scheduleEvent } from "./runner.js";
import { addLabelAs, ledgerOf, mutateLedger, openIssue } from "./scenario.js";

const SECTION = "1. GitHub API calls";
export const HOURLY_LIMIT = 1000;
/** Calls of a task's own path; the review request (one write, a feature of its own) raised it from 20. */
const LIFECYCLE_LIMIT = 21;

/** What section 5 needs from the lifecycle's run step. */
export type RunTiming =
  | { available: true; wallMs: number; sessionMs: number; source: string }
  | { available: false; reason: string };

export interface ApiResults {
  figures: Figure[];
  run: RunTiming;
}

const SESSION: Turn[] = [
  {
    toolUses: [
      {
        name: "Write",
        input: { file_path: "docs/usage.md", content: "# Usage\n\nLabel an issue `aegis`.\n" },
      },
    ],
  },
  {
    toolUses: [{ name: "Bash", input: { command: "git add docs/usage.md && git commit -m 'docs: usage'" } }],
  },
  { text: "Wrote docs/usage.md.\n\nTASK_COMPLETE" },
];

const calls = (label: string, id: string, counts: Record<string, number>, extra: Partial<Figure> = {}) =>
  ({
    id,
    section: SECTION,
    label,
    value: totalCalls(counts),
    unit: "calls",
    breakdown: counts,
    ...extra,
  }) satisfies Figure;

const notAvailable = (label: string, id: string, reason: string, extra: Partial<Figure> = {}): Figure => ({
  id,
  section: SECTION,
  label,
  value: null,
  unit: "calls",
  note: reason,
  ...extra,
});

function must(result: StepResult, what: string): StepResult {
  if (!result.ok) throw new Error(`bench: ${what} failed: ${failureOf(result.run)}\n${result.run.stdout}`);
  return result;
}

const claimed = (r: StepResult) => JSON.parse(r.run.outputs.tasks ?? "[]") as string[];

export async function benchApi(): Promise<ApiResults> {
  const lifecycle = await lifecycleScenario();
  const approval = await approvalScenario();
  const claim = await claimScenario();
  const verified = await verifiedRunScenario();
  const dependencies = await dependencyRunScenario();
  const fix = await fixRoundScenario();
  const faults = await faultCostScenario();
  return {
    figures: [
      lifecycle.intake,
      ...approval,
      claim,
      ...lifecycle.rest,
      ...verified,
      ...dependencies,
      ...fix,
      ...faults,
    ],
    run: lifecycle.run,
  };
}

async function lifecycleScenario() {
  const requestTimes: number[] = [];
  const anthropic = await startFakeAnthropic((ctx) => {
    requestTimes.push(Date.now());
    return SESSION[ctx.step] ?? { text: "TASK_COMPLETE" };
  });
  const openai = await startFakeOpenAI(() => ({ text: structuredReviewAnswer([]) }));
  const sb = await sandbox();
  const models = {
    "claude-executable": claudeBin(),
    "anthropic-base-url": anthropic.url,
    "anthropic-api-key": "sk-ant-bench",
    "codex-executable": codexBin(),
    "openai-base-url": openai.url,
    "openai-api-key": "sk-bench",
  };
  try {
    const { fake } = sb;
    const n = openIssue(fake, { title: "Document the usage", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    // One workflow run, as the example workflow makes it: plan → run → review → digest share
    // GITHUB_RUN_ID (the review then knows the PR its run step opened without asking GitHub).
    const workflowRun = 4242;
    const intake = must(
      await step(sb, {
        mode: "plan",
        event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya"),
        runId: workflowRun,
      }),
      "intake",
    );
    const taskId = claimed(intake)[0];
    if (!taskId) throw new Error(`bench: the auto_safe intake claimed nothing:\n${intake.run.summary}`);

    const ran = await step(sb, {
      mode: "run",
      inputs: { ...models, task: taskId },
      event: scheduleEvent(fake),
      freshWorkspace: true,
      timeoutMs: 150_000,
      runId: workflowRun,
    });
    let run: RunTiming;
    let prNumber = Number(ran.run.outputs["pr-number"] ?? "");
    if (ran.ok && prNumber > 0) {
      const attempt = findTask(await ledgerOf(fake), taskId)?.attempts.at(-1);
      const sessionMs = attempt?.durationMs ?? 0;
      run =
        sessionMs > 0
          ? { available: true, wallMs: ran.run.durationMs, sessionMs, source: "the session's duration_ms" }
          : {
              available: true,
              wallMs: ran.run.durationMs,
              sessionMs: (requestTimes.at(-1) ?? 0) - (requestTimes[0] ?? 0),
              source: "first to last request at the fake Anthropic server",
            };
    } else {
      const reason = /not available in this version/.test(ran.run.stdout)
        ? "mode run is not in dist/index.js yet"
        : `mode run did not open a PR (${failureOf(ran.run)})`;
      run = { available: false, reason };
      // Review, digest and the merge still get measured, on the PR run would have left.
      prNumber = await quietly(() => stagePullRequest(sb, taskId, n));
    }

    const review = must(
      await step(sb, {
        mode: "review",
        inputs: { ...models, task: taskId },
        event: scheduleEvent(fake),
        freshWorkspace: true,
        runId: workflowRun,
      }),
      "review",
    );
    const digest = must(
      await step(sb, { mode: "digest", event: scheduleEvent(fake), runId: workflowRun }),
      "digest",
    );
    // An hourly sweep while the PR waits for its merge: the same issue listing shows it open.
    const sweepOpen = must(await step(sb, { mode: "plan", event: scheduleEvent(fake) }), "sweep, PR open");
    const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
    await gh.octokit.rest.pulls.merge({ owner: fake.owner, repo: fake.repo, pull_number: prNumber });
    const sweepMerged = must(await step(sb, { mode: "plan", event: scheduleEvent(fake) }), "sweep");
    const sweepIdle = must(await step(sb, { mode: "plan", event: scheduleEvent(fake) }), "idle sweep");
    const done = findTask(await ledgerOf(fake), taskId)?.state === "done";
    const merged = subtractCounts(sweepMerged.calls, sweepIdle.calls);
    fake.assertClean();

    const rest: Figure[] = [
      run.available
        ? calls("run: session → pushed branch → PR", "api.run", ran.calls)
        : notAvailable("run: session → pushed branch → PR", "api.run", run.reason),
      calls(
        "review (Codex comment + label)",
        "api.review",
        review.calls,
        run.available ? {} : { note: "on a PR staged as run leaves it" },
      ),
      calls("digest", "api.digest", digest.calls),
      calls("merge noticed by the hourly sweep (beyond an idle sweep)", "api.merge", merged, {
        ...(done ? {} : { note: "the task did not reach done" }),
      }),
      calls(
        "hourly sweep while the PR awaits its merge (beyond an idle sweep)",
        "api.sweep-open-pr",
        subtractCounts(sweepOpen.calls, sweepIdle.calls),
        {
          target: { op: "<=", limit: 0 },
          note: "open aegis PRs carry the trigger label, so the sweep's one issue listing covers them",
        },
      ),
      calls("idle hourly sweep (nothing to do)", "api.sweep-idle", sweepIdle.calls),
    ];
    // A task's own path is intake → claim → run → review. The digest runs once per workflow run
    // whatever the number of tasks, and the merge is noticed by the hourly sweep: both are shown
    // beside it, and the throughput below is computed from everything.
    const whole = addCounts(intake.calls, run.available ? ran.calls : {}, review.calls);
    const everything = addCounts(whole, digest.calls, merged);
    const wholeLabel = "whole task lifecycle (intake → claim → run → review)";
    if (run.available) {
      const total = totalCalls(everything);
      rest.push(
        calls(wholeLabel, "api.lifecycle", whole, {
          target: { op: "<=", limit: LIFECYCLE_LIMIT },
          note: "20 before the PR asked its requester for a review (one POST requested_reviewers)",
        }),
      );
      rest.push(
        calls(
          "… plus its workflow run's digest and the merge noticed by the sweep",
          "api.lifecycle-all",
          everything,
        ),
      );
      rest.push({
        id: "api.tasks-per-hour",
        section: SECTION,
        label: `tasks per hour on ${HOURLY_LIMIT.toLocaleString("en-US")} requests/hour`,
        value: Math.floor(HOURLY_LIMIT / total),
        unit: "tasks/h",
        note: `${HOURLY_LIMIT} ÷ ${total} calls per task with its digest and its merge noticed by the sweep; the hourly sweep itself costs ${totalCalls(sweepIdle.calls)} of the hour's requests`,
      });
    } else {
      const known = totalCalls(whole);
      rest.push(
        notAvailable(wholeLabel, "api.lifecycle", `${run.reason}; without run: ${known} calls`, {
          target: { op: "<=", limit: LIFECYCLE_LIMIT },
          breakdown: whole,
        }),
        notAvailable(
          `tasks per hour on ${HOURLY_LIMIT.toLocaleString("en-US")} requests/hour`,
          "api.tasks-per-hour",
          run.reason,
          { unit: "tasks/h" },
        ),
      );
    }
    return {
      intake: calls("intake, auto_safe issue (claimed at once)", "api.intake", intake.calls, {
        target: { op: "<=", limit: 5 },
      }),
      rest,
      run,
    };
  } finally {
    await Promise.allSettled([sb.close(), anthropic.close(), openai.close()]);
  }
}

/**
 * The run step with `run.verifiedCommits: true`, on the same one-commit, one-file session as the
 * lifecycle's: the commits go through the Git Data API instead of a git push (which costs no REST
 * call). Each agent commit costs a tree (one per 500 changed paths) and a commit, each changed
 * file a blob, and the branch one ref write.
 */
async function verifiedRunScenario(): Promise<Figure[]> {
  const anthropic = await startFakeAnthropic((ctx) => SESSION[ctx.step] ?? { text: "TASK_COMPLETE" });
  const sb = await sandbox();
  try {
    const { fake } = sb;
    await fake.commitFile(fake.defaultBranch, ".github/aegis.yml", "run:\n  verifiedCommits: true\n");
    const n = openIssue(fake, { title: "Document the usage", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    const intake = must(
      await step(sb, { mode: "plan", event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya") }),
      "intake",
    );
    const taskId = claimed(intake)[0]!;
    const ran = await step(sb, {
      mode: "run",
      inputs: {
        "claude-executable": claudeBin(),
        "anthropic-base-url": anthropic.url,
        "anthropic-api-key": "sk-ant-bench",
        task: taskId,
      },
      event: scheduleEvent(fake),
      freshWorkspace: true,
      timeoutMs: 150_000,
    });
    const verified = (
      await fake.git(["log", "-1", "--format=%H", `auto/docs/${taskId}`]).catch(() => "")
    ).trim();
    const label = "run with run.verifiedCommits (1 commit, 1 file): session → verified commits → PR";
    if (!ran.ok || !verified)
      return [notAvailable(label, "api.run-verified", `the run did not publish (${failureOf(ran.run)})`)];
    return [
      calls(label, "api.run-verified", ran.calls, {
        note: "beside api.run: + 1 blob per changed file, + 1 tree and 1 commit per agent commit, + 1 ref write",
      }),
    ];
  } finally {
    await Promise.allSettled([sb.close(), anthropic.close()]);
  }
}

/**
 * What a fault costs: intake → run → PR with one write answered 502 after it landed (the hard
 * case: the retry must recognise its own write). Each figure is the HTTP requests of both steps,
 * the retry and any read-back included, against the same path without a fault.
 */
const onlyAdded = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));

async function faultCostScenario(): Promise<Figure[]> {
  const anthropic = await startFakeAnthropic((ctx) => SESSION[ctx.step] ?? { text: "TASK_COMPLETE" });
  const once = async (fault?: { route: string; what: string }) => {
    const sb = await sandbox();
    try {
      const { fake } = sb;
      const n = openIssue(fake, { title: "Document the usage", labels: ["documentation"], by: "maya" });
      addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
      if (fault) fake.inject({ route: fault.route, status: 502, when: "after" });
      const intake = must(
        await step(sb, { mode: "plan", event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya") }),
        "intake",
      );
      const taskId = claimed(intake)[0]!;
      const ran = await step(sb, {
        mode: "run",
        inputs: {
          "claude-executable": claudeBin(),
          "anthropic-base-url": anthropic.url,
          "anthropic-api-key": "sk-ant-bench",
          task: taskId,
        },
        event: scheduleEvent(fake),
        freshWorkspace: true,
        timeoutMs: 150_000,
      });
      return ran.ok ? addCounts(intake.calls, ran.calls) : undefined;
    } finally {
      await sb.close();
    }
  };
  try {
    const clean = await once();
    if (!clean) return [notAvailable("cost of a fault", "api.fault", "the fault-free run failed")];
    const cases = [
      { route: "issues/create-comment", what: "the status comment" },
      { route: "pulls/create", what: "the PR creation" },
      { route: "repos/create-or-update-file-contents", what: "a ledger write" },
    ];
    const figures: Figure[] = [];
    for (const c of cases) {
      const label = `intake → run with a 502 after ${c.what} landed (fault-free: ${totalCalls(clean)})`;
      const id = `api.fault.${c.route.split("/")[1]}`;
      const counts = await once(c);
      figures.push(
        counts
          ? calls(label, id, onlyAdded(subtractCounts(counts, clean)), {
              value: totalCalls(counts) - totalCalls(clean),
              unit: "extra calls",
              note: "the fault's answer, the retry, and the read-back that recognises the landed write (the fake keys a call by its answer, so the successful write it replaces is not listed)",
            })
          : notAvailable(label, id, "the run failed under the fault"),
      );
    }
    return figures;
  } finally {
    await anthropic.close();
  }
}

/**
 * A fix round: `aegis-fix` on a reviewed PR (its plan run: the label event, the claim) and the
 * run that updates the same PR. The review that follows costs what any review costs (api.review).
 */
async function fixRoundScenario(): Promise<Figure[]> {
  const anthropic = await startFakeAnthropic((ctx) => {
    const fixing = JSON.stringify(ctx.request.messages).includes("## Fix round");
    if (ctx.step === 0)
      return {
        toolUses: [
          {
            name: "Bash",
            input: {
              command: fixing
                ? "printf 'Label an issue aegis; see the README.\\n' >> docs/usage.md && git commit -qam 'docs: point to the README'"
                : "mkdir -p docs && printf '# Usage\\n' > docs/usage.md && git add docs && git commit -qm 'docs: usage'",
            },
          },
        ],
      };
    return { text: "TASK_COMPLETE" };
  });
  const sb = await sandbox();
  const label = "fix round: aegis-fix (plan: label, claim) + run updating the same PR";
  try {
    const { fake } = sb;
    const models = {
      "claude-executable": claudeBin(),
      "anthropic-base-url": anthropic.url,
      "anthropic-api-key": "sk-ant-bench",
    };
    const n = openIssue(fake, { title: "Document the usage", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    const intake = must(
      await step(sb, { mode: "plan", event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya") }),
      "intake",
    );
    const taskId = claimed(intake)[0]!;
    const first = await step(sb, {
      mode: "run",
      inputs: { ...models, task: taskId },
      event: scheduleEvent(fake),
      freshWorkspace: true,
      timeoutMs: 150_000,
    });
    const pr = Number(first.run.outputs["pr-number"] ?? "");
    if (!first.ok || !(pr > 0))
      return [notAvailable(label, "api.fix-round", `the first run opened no PR (${failureOf(first.run)})`)];
    // As a CRITICAL review leaves it (the review's own calls are api.review).
    await mutateLedger(fake, (ledger) => {
      const task = findTask(ledger, taskId)!;
      transition(task, {
        to: "reviewed",
        actor: "aegis review",
        reason: "Codex review: critical",
        now: new Date().toISOString(),
      });
      task.review = {
        verdict: "critical",
        at: new Date().toISOString(),
        critical: 1,
        findings: 1,
        notes: ["CRITICAL docs/usage.md:1: say where to start"],
      };
    });
    addLabelAs(fake, pr, CONFIG.fixLabel, "maya");
    const queued = must(
      await step(sb, {
        mode: "plan",
        event: await pullRequestLabeledEvent(fake, pr, CONFIG.fixLabel, "maya"),
      }),
      "fix label",
    );
    const fixed = await step(sb, {
      mode: "run",
      inputs: { ...models, task: taskId },
      event: scheduleEvent(fake),
      freshWorkspace: true,
      timeoutMs: 150_000,
    });
    const round = findTask(await ledgerOf(fake), taskId)?.attempts.at(-1);
    if (!fixed.ok || round?.fixRound !== 1 || fake.pulls().length !== 1)
      return [
        notAvailable(label, "api.fix-round", `the fix round did not update the PR (${failureOf(fixed.run)})`),
      ];
    return [
      calls(label, "api.fix-round", addCounts(queued.calls, fixed.calls), {
        note: "beside a first run: + the PR's comments and inline review comments read for the brief, the PR edited instead of opened",
      }),
    ];
  } finally {
    await Promise.allSettled([sb.close(), anthropic.close()]);
  }
}

async function approvalScenario(): Promise<Figure[]> {
  const sb = await sandbox();
  try {
    const { fake } = sb;
    const n = openIssue(fake, { title: "Fix the crash on start", labels: ["bug"], by: "rick" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    const intake = must(
      await step(sb, { mode: "plan", event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya") }),
      "intake needing approval",
    );
    addLabelAs(fake, n, CONFIG.approvalLabel, "maya");
    const approval = must(
      await step(sb, { mode: "plan", event: issueLabeledEvent(fake, n, CONFIG.approvalLabel, "maya") }),
      "approval",
    );
    const note = claimed(approval).length === 1 ? undefined : "the approval did not claim the task";
    fake.assertClean();
    return [
      calls("intake needing approval (proposed work)", "api.intake-proposed", intake.calls, {
        target: { op: "<=", limit: 5 },
      }),
      calls("its approval (queued and claimed)", "api.approval", approval.calls, note ? { note } : {}),
    ];
  } finally {
    await sb.close();
  }
}

/** A queued task (a run that hit an API error goes back to the queue) claimed by the sweep. */
async function claimScenario(): Promise<Figure> {
  const sb = await sandbox();
  try {
    const { fake } = sb;
    const n = openIssue(fake, { title: "Document the flags", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    const intake = must(
      await step(sb, { mode: "plan", event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya") }),
      "intake",
    );
    const taskId = claimed(intake)[0]!;
    await mutateLedger(fake, (ledger) => {
      const task = findTask(ledger, taskId)!;
      const attempt = task.attempts.at(-1)!;
      const now = new Date().toISOString();
      Object.assign(attempt, { endedAt: now, outcome: "api-error", reason: "overloaded", turns: 1 });
      transition(task, { to: "queued", actor: "aegis", reason: "API error; retrying", now });
    });
    relabel(sb, n, "running", "queued");
    const sweepClaim = must(await step(sb, { mode: "plan", event: scheduleEvent(fake) }), "claiming sweep");
    const sweepIdle = must(await step(sb, { mode: "plan", event: scheduleEvent(fake) }), "idle sweep");
    const claimedIt = claimed(sweepClaim).includes(taskId);
    fake.assertClean();
    return calls(
      "claim of a queued task by the sweep (beyond an idle sweep)",
      "api.claim",
      subtractCounts(sweepClaim.calls, sweepIdle.calls),
      claimedIt ? {} : { note: "the sweep did not claim the task" },
    );
  } finally {
    await sb.close();
  }
}

function relabel(sb: Sandbox, issue: number, from: TaskState, to: TaskState): void {
  const rec = sb.fake.issue(issue)!;
  const old = sb.fake.store.findLabel(stateLabel(from));
  rec.labels = rec.labels.filter((id) => id !== old?.id);
  addLabelAs(sb.fake, issue, stateLabel(to), "github-actions[bot]");
}

/** What mode run leaves behind when it succeeds: a branch, a PR, the task pr-open. */
async function stagePullRequest(sb: Sandbox, taskId: string, issue: number): Promise<number> {
  const { fake } = sb;
  const branch = `auto/docs/${taskId}`;
  await fake.commitFile(branch, "docs/usage.md", "# Usage\n\nLabel an issue `aegis`.\n", "docs: usage");
  const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
  const { data: pr } = await gh.octokit.rest.pulls.create({
    owner: fake.owner,
    repo: fake.repo,
    head: branch,
    base: fake.defaultBranch,
    title: "Document the usage",
    body: `Fixes #${issue}`,
  });
  const now = new Date().toISOString();
  const store = new LedgerStore({ gh, branch: STATE_BRANCH, now: () => now });
  await store.update("bench: stage what run leaves", (draft) => {
    const task = findTask(draft, taskId);
    if (!task || task.state !== "running") return;
    Object.assign(task.attempts.at(-1)!, {
      endedAt: now,
      outcome: "complete",
      turns: 3,
      costUsd: 0.05,
      durationMs: 2000,
    });
    task.branch = branch;
    task.pr = { number: pr.number, url: pr.html_url };
    transition(task, { to: "pr-open", actor: "aegis", reason: `pull request #${pr.number} opened`, now });
  });
  relabel(sb, issue, "running", "pr-open");
  return pr.number;
}
