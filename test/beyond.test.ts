// "Beyond the original pipeline", end to end: budgets, contention before claiming, the circuit
// breaker and cost-aware model routing. The real bundle runs like the Actions runner runs it,
// against the fake GitHub; sessions are the real `claude` CLI against the fake Anthropic API.
import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { resetBreaker, type Sender } from "../src/core/governance.js";
import { admitAndClaim } from "../src/core/queue.js";
import { emptyLedger, type Ledger, type Task } from "../src/core/ledger.js";
import { addTask } from "../src/core/lifecycle.js";
import {
  claudeBin,
  startFakeAnthropic,
  type FakeAnthropic,
  type Script,
  type Turn,
} from "./harness/fake-anthropic.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import {
  DEFAULT_ENTRY,
  type ActionRun,
  issueLabeledEvent,
  runAction,
  scheduleEvent,
  workflowDispatchEvent,
} from "./harness/runner.js";
import { addLabelAs, expectSuccess, ledgerOf, mutateLedger, openIssue } from "./harness/scenario.js";
import { newTask } from "./harness/tasks.js";

/** dist/index.js, or a private build (AEGIS_BEYOND_ENTRY) while dist/ is being rebuilt by others. */
const ENTRY = process.env.AEGIS_BEYOND_ENTRY ?? DEFAULT_ENTRY;
const API_KEY = "sk-ant-api03-testKeyForTheFakeServer0123456789";
const DAY_MS = 86_400_000;

let fake: FakeGitHub | undefined;
const models: FakeAnthropic[] = [];
const runs: ActionRun[] = [];

beforeAll(() => {
  if (!existsSync(ENTRY)) throw new Error(`no action entry at ${ENTRY}`);
});

afterEach(async () => {
  fake?.assertClean();
  await fake?.close();
  fake = undefined;
  for (const m of models.splice(0)) await m.close();
  for (const r of runs.splice(0)) await r.cleanup();
});

async function startRepo(config: string): Promise<FakeGitHub> {
  fake = await startFakeGitHub({
    users: { maya: "maintain", rick: "read" },
    files: { ...DEFAULT_FILES, ".github/aegis.yml": config },
  });
  return fake;
}

async function startModel(script: Script): Promise<FakeAnthropic> {
  const m = await startFakeAnthropic(script);
  models.push(m);
  return m;
}

/** Keeps the run for cleanup and fails with its log when it did not succeed. */
function kept(run: ActionRun): ActionRun {
  runs.push(run);
  return expectSuccess(run);
}

const tasksOf = (run: ActionRun) => JSON.parse(run.outputs.tasks ?? "null") as string[];
const taskOf = (ledger: Ledger, issue: number) => ledger.tasks.filter((t) => t.issue === issue).at(-1)!;
const statusOf = (f: FakeGitHub, n: number) =>
  f.comments(n).find((c) => c.body.includes("<!-- aegis:status -->"))?.body ?? "";

/** maya adds the trigger label to issue `n`; plan mode runs on that event. */
async function plan(f: FakeGitHub, n: number): Promise<ActionRun> {
  addLabelAs(f, n, "aegis", "maya");
  return kept(
    await runAction({ mode: "plan", entry: ENTRY, event: issueLabeledEvent(f, n, "aegis", "maya"), fake: f }),
  );
}

async function planOnSchedule(f: FakeGitHub, env: Record<string, string> = {}): Promise<ActionRun> {
  return kept(await runAction({ mode: "plan", entry: ENTRY, event: scheduleEvent(f), fake: f, env }));
}

async function planOnDispatch(f: FakeGitHub, sender: string): Promise<ActionRun> {
  return kept(
    await runAction({ mode: "plan", entry: ENTRY, event: workflowDispatchEvent(f, {}, sender), fake: f }),
  );
}

/** Run mode on one claimed task against the given fake model. */
async function runTask(
  f: FakeGitHub,
  m: FakeAnthropic,
  taskId: string,
  inputs: Record<string, string> = {},
): Promise<ActionRun> {
  return kept(
    await runAction({
      mode: "run",
      entry: ENTRY,
      inputs: {
        task: taskId,
        "claude-executable": claudeBin(),
        "anthropic-base-url": m.url,
        "anthropic-api-key": API_KEY,
        ...inputs,
      },
      event: workflowDispatchEvent(f),
      fake: f,
      env: { CLAUDE_CODE_MAX_RETRIES: "0" },
      timeoutMs: 120_000,
    }),
  );
}

async function digest(f: FakeGitHub, env: Record<string, string> = {}): Promise<ActionRun> {
  return kept(
    await runAction({ mode: "digest", entry: ENTRY, event: workflowDispatchEvent(f), fake: f, env }),
  );
}

function commitTurn(file: string, text: string, usage?: Turn["usage"]): Turn {
  return {
    toolUses: [
      {
        name: "Bash",
        input: {
          command: `mkdir -p "$(dirname ${file})" && echo '${text}' > ${file} && git add ${file} && git commit -q -m 'Edit ${file}'`,
          description: "commit",
        },
      },
    ],
    ...(usage ? { usage } : {}),
  };
}

/** A session that commits one file and finishes. */
// The usage goes on the last call: the model proxy admits a call while the budget is not yet
// spent, so only the call that ends the session can pass it and still let the session finish.
const completing = (file: string, usage?: Turn["usage"]): Script => [
  commitTurn(file, "Written by the agent."),
  { text: "Done.\nTASK_COMPLETE", ...(usage ? { usage } : {}) },
];

describe("cost control: per-period budgets", () => {
  it("a spent daily budget defers the next task with the reason; the next day's plan claims it", async () => {
    const f = await startRepo("budgets:\n  dailyUsd: 0.01\n");
    // Large token counts on the last call make the proxy's count pass the $0.01 budget.
    const m = await startModel(completing("docs/install.md", { input_tokens: 20_000, output_tokens: 2_000 }));

    const first = openIssue(f, {
      title: "Document the install steps",
      body: "Explain how to install the tool in docs/install.md, step by step.",
      labels: ["documentation"],
      by: "maya",
    });
    const [firstTask] = tasksOf(await plan(f, first));
    expect(firstTask).toBeDefined();
    const ran = await runTask(f, m, firstTask!);
    expect(ran.outputs["task-status"]).toBe("pr-open");
    const cost = Number(ran.outputs["cost-usd"]);
    console.log(`budget: the scripted session cost $${cost}`);
    expect(cost).toBeGreaterThan(0.01);
    const afterRun = await ledgerOf(f);
    expect(taskOf(afterRun, first).attempts[0]!.costUsd).toBeCloseTo(cost, 4);

    // The next issue's plan: the task is taken in, then deferred for the budget; nothing claimed.
    const second = openIssue(f, {
      title: "Document the configuration keys",
      body: "List every configuration key in docs/config.md with its default.",
      labels: ["documentation"],
      by: "maya",
    });
    const deferredPlan = await plan(f, second);
    expect(tasksOf(deferredPlan)).toEqual([]);
    const deferred = taskOf(await ledgerOf(f), second);
    expect(deferred.state).toBe("deferred");
    expect(deferred.attempts).toEqual([]);
    expect(deferred.deferredReason).toContain("daily budget is spent");
    expect(deferred.deferredReason).toContain("of $0.01");
    expect(f.labelsOf(second)).toContain("aegis:deferred");
    expect(f.labelsOf(second)).not.toContain("aegis:running");
    expect(statusOf(f, second)).toContain("aegis · deferred");
    expect(statusOf(f, second)).toContain("daily budget is spent");
    expect(deferredPlan.summary).toContain(
      `| \`${deferred.id}\` #${second} | the daily budget is spent ($${cost.toFixed(2)} of $0.01)`,
    );

    // The digest shows the spend against the budget, and why nothing is claimed.
    const spentDigest = (await digest(f)).summary;
    expect(spentDigest).toContain(`**Spend today:** $${cost.toFixed(2)} of $0.01`);
    expect(spentDigest).toMatch(/\| Today \(UTC\) \| \$[\d.]+ \| \$0\.01 \| \$0\.00 \|/);
    expect(spentDigest).toContain("No new work is claimed: the daily budget is spent");
    expect(spentDigest).toContain("#### Deferred (1)");

    // A schedule plan on the same day changes nothing.
    expect(tasksOf(await planOnSchedule(f))).toEqual([]);
    expect(taskOf(await ledgerOf(f), second).state).toBe("deferred");

    // One day later the period has rolled over: the deferred task is admitted and claimed.
    const nextDay = { AEGIS_CLOCK_SKEW_MS: String(DAY_MS) };
    const rolled = await planOnSchedule(f, nextDay);
    expect(tasksOf(rolled)).toEqual([deferred.id]);
    const claimed = taskOf(await ledgerOf(f), second);
    expect(claimed.state).toBe("running");
    expect(claimed.history.map((h) => h.to)).toEqual(["queued", "deferred", "queued", "running"]);
    expect(claimed.history[2]!.reason).toBe("the budget period rolled over");
    expect(f.labelsOf(second)).toContain("aegis:running");
    expect(f.labelsOf(second)).not.toContain("aegis:deferred");
    const nextDigest = (await digest(f, nextDay)).summary;
    expect(nextDigest).toContain("**Spend today:** $0.00 of $0.01");
    expect(nextDigest).not.toContain("No new work is claimed");
  });
});

describe("task contention before claiming", () => {
  it("a task naming a file a running task touches is held, then claimed once that run ends", async () => {
    const f = await startRepo("caps:\n  running: 2\n");
    const m = await startModel(completing("docs/guide.md"));
    const a = openIssue(f, {
      title: "Explain the setup in the guide",
      body: "Add a setup section to `docs/guide.md` covering the prerequisites.",
      labels: ["documentation"],
      by: "maya",
    });
    const b = openIssue(f, {
      title: "Fix the typos in the guide",
      body: "The guide docs/guide.md has several typos in its second section.",
      labels: ["documentation"],
      by: "maya",
    });
    const [taskA] = tasksOf(await plan(f, a));
    expect(taskA).toBeDefined();

    // Room under caps.running, but the same file: held, with the file named.
    const held = await plan(f, b);
    expect(tasksOf(held)).toEqual([]);
    const taskB = taskOf(await ledgerOf(f), b);
    expect(taskB.predictedFiles).toEqual(["docs/guide.md"]);
    expect(taskB.state).toBe("queued");
    expect(held.summary).toContain(`| \`${taskB.id}\` #${b} | a running task touches docs/guide.md |`);
    expect(f.labelsOf(b)).toContain("aegis:queued");

    // A's session runs and ends with a PR: the file is free again.
    const ranA = await runTask(f, m, taskA!);
    expect(ranA.outputs["task-status"]).toBe("pr-open");
    const next = await planOnSchedule(f);
    expect(tasksOf(next)).toEqual([taskB.id]);
    expect(taskOf(await ledgerOf(f), b).state).toBe("running");
    expect(next.summary).not.toContain("a running task touches");
    expect(f.labelsOf(b)).toContain("aegis:running");
  });
});

describe("circuit breaker", () => {
  it("opens after three failed runs, holds all claims, shows in the digest, and a maintainer's dispatch resets it", async () => {
    const f = await startRepo("caps:\n  running: 2\nbreaker:\n  threshold: 3\n");
    const refused = await startModel([
      { error: { status: 401, type: "authentication_error", message: "invalid x-api-key" } },
    ]);
    const working = await startModel(completing("docs/working.md"));
    const issue = (title: string) =>
      openIssue(f, {
        title,
        body: `Write the page for ${title.toLowerCase()}; keep it short and plain.`,
        labels: ["documentation"],
        by: "maya",
      });

    // Two runs fail on the refused key; the breaker counts them.
    for (const title of ["Document alpha", "Document beta"]) {
      const n = issue(title);
      const [id] = tasksOf(await plan(f, n));
      expect((await runTask(f, refused, id!)).outputs["task-status"]).toBe("failed");
    }
    expect((await ledgerOf(f)).breaker).toMatchObject({ consecutiveInfraFailures: 2, open: false });

    // Two more are claimed while the breaker is still closed; the third failure opens it.
    const gamma = issue("Document gamma");
    const delta = issue("Document delta");
    const [gammaId] = tasksOf(await plan(f, gamma));
    const [deltaId] = tasksOf(await plan(f, delta));
    expect(deltaId).toBeDefined();
    await runTask(f, refused, gammaId!);
    const opened = (await ledgerOf(f)).breaker;
    expect(opened.open).toBe(true);
    expect(opened.consecutiveInfraFailures).toBe(3);
    expect(opened.reason).toContain("3 consecutive infrastructure failures");
    expect(opened.reason).toContain("API error: Invalid API key");
    expect(opened.since).toBeDefined();
    expect(refused.requests.length).toBe(3);

    // Open: a new issue is taken in but not claimed, and the plan says why.
    const epsilon = issue("Document epsilon");
    const heldPlan = await plan(f, epsilon);
    expect(tasksOf(heldPlan)).toEqual([]);
    const epsilonTask = taskOf(await ledgerOf(f), epsilon);
    expect(epsilonTask.state).toBe("queued");
    expect(heldPlan.summary).toContain(
      `| \`${epsilonTask.id}\` #${epsilon} | the circuit breaker is open: 3 consecutive`,
    );

    const open = (await digest(f)).summary;
    expect(open).toContain("**breaker:** **open** — 3 consecutive infrastructure failures");
    expect(open).toMatch(
      /### Circuit breaker\n\n\*\*Open\*\* since .* \(3 of 3 consecutive infrastructure failures\): no new work is claimed\. 3 consecutive .*Invalid API key/,
    );

    // A dispatch by someone who cannot approve leaves it open, and the summary says so.
    const byRick = await planOnDispatch(f, "rick");
    expect(tasksOf(byRick)).toEqual([]);
    expect(byRick.summary).toContain("circuit breaker stays open: @rick (read permission)");
    expect((await ledgerOf(f)).breaker.open).toBe(true);

    // A maintainer dispatches the workflow: the breaker closes and the held task is claimed.
    const byMaya = await planOnDispatch(f, "maya");
    expect(byMaya.summary).toContain("> circuit breaker reset by @maya");
    expect(byMaya.summary).toContain("it was open: 3 consecutive infrastructure failures");
    expect(tasksOf(byMaya)).toEqual([epsilonTask.id]);
    expect((await ledgerOf(f)).breaker).toEqual({ consecutiveInfraFailures: 0, open: false });
    expect((await digest(f)).summary).toContain("**breaker:** closed");

    // A working session closes the breaker too: delta, claimed before it opened, runs while it is open.
    await mutateLedger(f, (l) => {
      l.breaker = {
        consecutiveInfraFailures: 3,
        open: true,
        reason: "reopened for the test",
        since: l.updatedAt,
      };
    });
    expect((await runTask(f, working, deltaId!)).outputs["task-status"]).toBe("pr-open");
    expect((await ledgerOf(f)).breaker).toEqual({ consecutiveInfraFailures: 0, open: false });
  });
});

describe("cost-aware model routing", () => {
  it("docs tasks use the docs model, others the default, and the model input overrides both", async () => {
    const f = await startRepo("models:\n  docs: claude-docs-small\n  default: claude-big\n");
    const docs = openIssue(f, {
      title: "Document the flags",
      body: "List the command-line flags in docs/flags.md with one line each.",
      labels: ["documentation"],
      by: "maya",
    });
    // Proposed work, approved before the trigger: claimed by the trigger's plan.
    const bug = openIssue(f, {
      title: "Fix the off-by-one in the pager",
      body: "The pager in src/pager.js skips the last line of every page.",
      labels: ["bug", "aegis-approved"],
      by: "maya",
    });
    const forced = openIssue(f, {
      title: "Document the exit codes",
      body: "List the exit codes in docs/exit-codes.md and what each means.",
      labels: ["documentation"],
      by: "maya",
    });
    const ids = new Map<number, string>();
    for (const n of [docs, bug]) ids.set(n, tasksOf(await plan(f, n))[0]!);
    const docsModel = await startModel(completing("docs/flags.md"));
    const bugModel = await startModel(completing("src/pager.js"));
    await runTask(f, docsModel, ids.get(docs)!);
    await runTask(f, bugModel, ids.get(bug)!);
    ids.set(forced, tasksOf(await plan(f, forced))[0]!);
    const forcedModel = await startModel(completing("docs/exit-codes.md"));
    await runTask(f, forcedModel, ids.get(forced)!, { model: "claude-override" });

    const modelsOf = (m: FakeAnthropic) => [...new Set(m.requests.map((r) => r.model))];
    expect(docsModel.requests.length).toBeGreaterThan(1);
    expect(modelsOf(docsModel)).toEqual(["claude-docs-small"]);
    expect(modelsOf(bugModel)).toEqual(["claude-big"]);
    expect(modelsOf(forcedModel)).toEqual(["claude-override"]);

    const ledger = await ledgerOf(f);
    const attempt = (n: number): NonNullable<Task["attempts"][number]> => taskOf(ledger, n).attempts[0]!;
    expect(attempt(docs)).toMatchObject({ model: "claude-docs-small", outcome: "complete" });
    expect(attempt(bug)).toMatchObject({ model: "claude-big", outcome: "complete" });
    expect(attempt(forced)).toMatchObject({ model: "claude-override", outcome: "complete" });

    const summary = (await digest(f)).summary;
    const section = summary.slice(summary.indexOf("### Cost by category and model"));
    expect(section).toMatch(/\| docs \| `claude-docs-small` \| 1 \| 1 \|/);
    expect(section).toMatch(/\| bugfix \| `claude-big` \| 1 \| 1 \|/);
    expect(section).toMatch(/\| docs \| `claude-override` \| 1 \| 1 \|/);
  });
});

describe("governance decisions behind these scenarios (pure)", () => {
  const NOW = "2026-11-24T10:00:00Z";
  const config = parseConfig("allowedBots: [release-bot]\nbudgets: { dailyUsd: 1 }");
  const openBreaker = (): Ledger => {
    const ledger = emptyLedger(NOW);
    ledger.breaker = { consecutiveInfraFailures: 3, open: true, reason: "3 failures", since: NOW };
    return ledger;
  };
  const sender = (login: string, permission: Sender["permission"], isBot = false): Sender => ({
    login,
    permission,
    isBot,
  });

  it("only a person who may approve, or an allowed bot, resets an open breaker", () => {
    const closed = emptyLedger(NOW);
    expect(resetBreaker(closed, sender("maya", "maintain"), config, NOW)).toBeUndefined();

    for (const who of [sender("tess", "triage"), sender("github-actions[bot]", "write", true)]) {
      const ledger = openBreaker();
      expect(resetBreaker(ledger, who, config, NOW)).toMatchObject({ kind: "refused" });
      expect(ledger.breaker.open).toBe(true);
    }
    for (const who of [sender("ada", "admin"), sender("release-bot", "write", true)]) {
      const ledger = openBreaker();
      const reset = resetBreaker(ledger, who, config, NOW);
      expect(reset).toEqual({
        kind: "reset",
        note: `circuit breaker reset by @${who.login} at ${NOW} (it was open: 3 failures)`,
      });
      expect(ledger.breaker).toEqual({ consecutiveInfraFailures: 0, open: false });
    }
  });

  it("a spent budget reports each task it defers as held, with the reason", () => {
    const ledger = emptyLedger(NOW);
    const spender = addTask(ledger, newTask(1), "running", { actor: "t", reason: "seed", now: NOW });
    spender.attempts.push({ number: 1, runId: "1/1", startedAt: NOW, endedAt: NOW, costUsd: 1.5 });
    const waiting = addTask(ledger, newTask(2), "queued", { actor: "t", reason: "seed", now: NOW });
    const result = admitAndClaim(ledger, {
      config,
      now: NOW,
      runId: "2",
      runAttempt: 1,
      issueClosed: () => undefined,
    });
    expect(result.claimed).toEqual([]);
    expect(result.held).toEqual([
      { task: waiting, reason: expect.stringContaining("daily budget is spent") },
    ]);
    expect(waiting.state).toBe("deferred");
  });
});
