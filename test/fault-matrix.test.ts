// Exactly once under faults: every write endpoint aegis used in a fault-free intake → run → PR,
// through the real bundle and the fake GitHub, is struck in turn by a 502 before it lands, a 502
// after it lands, a connection reset after it lands, and a secondary rate limit with retry-after. The observable end state must be
// what the fault-free run left: one open PR, one status comment, one `aegis:<state>` label, the
// PR's labels, and the ledger's history without a doubled transition. The matrix is generated
// from the endpoints the fault-free run recorded, so a new write is covered as soon as it exists.
import { afterAll, describe, expect, it } from "vitest";
import { claudeBin, type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { codexBin, type FakeOpenAI, startFakeOpenAI, structuredReviewAnswer } from "./harness/fake-openai.js";
import type { FaultSpec } from "./harness/fake-github/faults.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { runAction, workflowDispatchEvent } from "./harness/runner.js";
import { expectSuccess, ledgerOf, openIssue, planOnLabel, planOnSchedule } from "./harness/scenario.js";

const API_KEY = "sk-ant-api03-faultMatrixKey0123456789";
const OPENAI_KEY = "sk-fault-matrix-review-0123456789";
const SESSION: Turn[] = [
  {
    toolUses: [
      {
        name: "Bash",
        input: {
          command:
            "printf 'Label an issue.\\n' > USAGE.md && git add USAGE.md && git commit -qm 'docs: usage'",
        },
      },
    ],
  },
  { text: "Done.\nTASK_COMPLETE" },
];

// Started here, not in beforeAll: the baseline run below happens while the file is collected.
const model: FakeAnthropic = await startFakeAnthropic(
  (ctx) => SESSION[ctx.step] ?? { text: "TASK_COMPLETE" },
);
// The review finds one CRITICAL problem: the path that writes the most (comment, needs-fix, ledger).
const openai: FakeOpenAI = await startFakeOpenAI(() => ({
  text: structuredReviewAnswer([
    { title: "Say how to stop a task too", priority: 0, file: "USAGE.md", line: 1 },
  ]),
}));
afterAll(async () => {
  await model.close();
  await openai.close();
});

/** The issue every scenario starts from: an auto_safe docs task, claimed at intake. */
function openUsageIssue(fake: FakeGitHub): number {
  return openIssue(fake, {
    title: "Document the usage",
    body: "Write a USAGE.md that says how to start a task.",
    labels: ["documentation"],
    by: "maya",
  });
}

/** The maintainer's trigger label and its plan run; the task it claimed. */
async function intake(fake: FakeGitHub, n: number): Promise<string> {
  const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
  await planned.cleanup();
  return (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
}

/** One run or review step of `taskId` through the bundle, against both scripted models. */
async function step(
  fake: FakeGitHub,
  mode: "run" | "review",
  taskId: string,
  env: Record<string, string> = {},
) {
  const r = await runAction({
    mode,
    inputs: {
      task: taskId,
      "claude-executable": claudeBin(),
      "anthropic-base-url": model.url,
      "anthropic-api-key": API_KEY,
      "codex-executable": codexBin(),
      "openai-base-url": openai.url,
      "openai-api-key": OPENAI_KEY,
    },
    event: workflowDispatchEvent(fake),
    fake,
    env: { CLAUDE_CODE_MAX_RETRIES: "0", ...env },
    timeoutMs: 150_000,
  });
  await r.cleanup();
  return r;
}

/** The write calls in `calls` (git's own traffic aside), by route and operation. */
const writesIn = (calls: FakeGitHub["calls"]) =>
  calls
    .filter((c) => ["POST", "PUT", "PATCH", "DELETE"].includes(c.method) && !c.route.startsWith("GIT"))
    .map((c) => ({ route: c.route, operationId: c.operationId }));

interface EndState {
  openPulls: number;
  statusComments: number;
  otherComments: string[];
  issueLabels: string[];
  prLabels: string[];
  states: string[];
  transitions: string[];
}

/** Intake of an auto_safe issue (claimed at once), then its run to a PR; `fault` armed before. */
async function lifecycle(
  fault?: FaultSpec,
): Promise<{ end: EndState; writes: { route: string; operationId: string }[]; hits: number }> {
  const fake: FakeGitHub = await startFakeGitHub({ users: { maya: "maintain" } });
  try {
    const n = openUsageIssue(fake);
    const armed = fault ? fake.inject(fault) : undefined;
    const taskId = await intake(fake, n);
    expectSuccess(await step(fake, "run", taskId));
    const ledger = await ledgerOf(fake);
    const pulls = fake.pulls();
    const comments = fake.comments(n);
    const end: EndState = {
      openPulls: pulls.filter((p) => p.state === "open").length,
      statusComments: comments.filter((c) => c.body.includes("<!-- aegis:status -->")).length,
      otherComments: comments
        .filter((c) => !c.body.includes("<!-- aegis:status -->"))
        .map((c) => c.body.slice(0, 60)),
      issueLabels: fake.labelsOf(n).sort(),
      prLabels: pulls[0] ? fake.labelsOf(pulls[0].number).sort() : [],
      states: ledger.tasks.map((t) => t.state),
      transitions: ledger.tasks.flatMap((t) => t.history.map((h) => `${h.from ?? "∅"}→${h.to}`)),
    };
    return { end, writes: writesIn(fake.calls), hits: armed?.hits ?? 0 };
  } finally {
    await fake.close();
  }
}

const baseline = await lifecycle();
const endpoints = [...new Map(baseline.writes.map((w) => [w.operationId, w])).values()];

interface ReviewEndState {
  reviewComments: number;
  prLabels: string[];
  issueLabels: string[];
  statusComments: number;
  state: string;
  notes: number;
  transitions: string[];
}

/** Intake and run fault-free, then the review with `fault` armed; writes of the review step only. */
async function reviewLifecycle(
  fault?: FaultSpec,
): Promise<{ end: ReviewEndState; writes: { route: string; operationId: string }[]; hits: number }> {
  const fake: FakeGitHub = await startFakeGitHub({ users: { maya: "maintain" } });
  try {
    const n = openUsageIssue(fake);
    const taskId = await intake(fake, n);
    expectSuccess(await step(fake, "run", taskId));
    const before = fake.calls.length;
    const armed = fault ? fake.inject(fault) : undefined;
    expectSuccess(await step(fake, "review", taskId));
    const ledger = await ledgerOf(fake);
    const task = ledger.tasks.find((t) => t.id === taskId)!;
    const pr = fake.pulls()[0]!;
    const end: ReviewEndState = {
      reviewComments: fake.comments(pr.number).filter((c) => c.body.includes("aegis:review")).length,
      prLabels: fake.labelsOf(pr.number).sort(),
      issueLabels: fake.labelsOf(n).sort(),
      statusComments: fake.comments(n).filter((c) => c.body.includes("<!-- aegis:status -->")).length,
      state: task.state,
      notes: task.review?.notes?.length ?? 0,
      transitions: task.history.map((h) => `${h.from ?? "∅"}→${h.to}`),
    };
    return { end, writes: writesIn(fake.calls.slice(before)), hits: armed?.hits ?? 0 };
  } finally {
    await fake.close();
  }
}

const reviewBaseline = await reviewLifecycle();
const reviewEndpoints = [...new Map(reviewBaseline.writes.map((w) => [w.operationId, w])).values()];

const FAULTS: [string, (op: string) => FaultSpec][] = [
  ["a 502 before it lands", (op) => ({ route: op, status: 502, when: "before" })],
  ["a 502 after it landed", (op) => ({ route: op, status: 502, when: "after" })],
  ["a connection reset after it landed", (op) => ({ route: op, status: 0, when: "after" })],
  [
    "a secondary rate limit with retry-after",
    (op) => ({ route: op, status: 403, when: "before", headers: { "retry-after": "1" } }),
  ],
];

describe("exactly once under faults", () => {
  it("the fault-free run opened one PR with one status comment (the matrix's baseline)", () => {
    expect(baseline.end.openPulls).toBe(1);
    expect(baseline.end.statusComments).toBe(1);
    expect(endpoints.length).toBeGreaterThanOrEqual(5);
  });

  describe.each(endpoints)("$route", ({ operationId }) => {
    it.each(FAULTS)("%s leaves the same end state", async (_name, make) => {
      const { end, hits } = await lifecycle(make(operationId));
      // The fault did strike (the write is on the path), and left no trace in what users see.
      expect(hits).toBe(1);
      expect(end).toEqual(baseline.end);
    });
  });
});

describe("exactly once under faults: the review", () => {
  it("the fault-free review posted one comment, labelled needs-fix and moved the task to reviewed", () => {
    expect(reviewBaseline.end.reviewComments).toBe(1);
    expect(reviewBaseline.end.prLabels).toContain("needs-fix");
    expect(reviewBaseline.end.state).toBe("reviewed");
    expect(reviewEndpoints.length).toBeGreaterThanOrEqual(3);
  });

  describe.each(reviewEndpoints)("$route", ({ operationId }) => {
    it.each(FAULTS)("%s leaves the same end state", async (_name, make) => {
      const { end, hits } = await reviewLifecycle(make(operationId));
      expect(hits).toBe(1);
      expect(end).toEqual(reviewBaseline.end);
    });
  });
});

describe("a fault that outlasts the retries", () => {
  it("fails the step naming the operation and the repair; the sweep and the next run repair it", async () => {
    const fake: FakeGitHub = await startFakeGitHub({ users: { maya: "maintain" } });
    try {
      const n = openUsageIssue(fake);
      const taskId = await intake(fake, n);
      const runTask = (env: Record<string, string> = {}) => step(fake, "run", taskId, env);
      // The ledger's write is refused five times: the first try and every retry.
      const fault = fake.inject({ route: "repos/create-or-update-file-contents", status: 502, times: 5 });
      const failed = await runTask();
      expect(fault.hits).toBe(5);
      expect(failed.exitCode).not.toBe(0);
      const error = failed.annotations.find((a) => a.level === "error")?.message ?? "";
      expect(error).toMatch(
        /GitHub answered 502 to PUT \/repos\/\{owner\}\/\{repo\}\/contents\/\{path\} after 5 attempts/,
      );
      expect(error).toContain("goes back to the queue at the hourly sweep");

      // An hour later the sweep finds the task's runner lost and queues it again; the next plan
      // claims it, and its run ends where a fault-free one would have.
      const skew = { AEGIS_CLOCK_SKEW_MS: String(2 * 60 * 60_000) };
      await expectSuccess(await planOnSchedule(fake, skew)).cleanup();
      let task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      if (task.state === "queued") {
        await expectSuccess(await planOnSchedule(fake, skew)).cleanup();
        task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      }
      expect(task.state).toBe("running");
      expectSuccess(await runTask(skew));
      task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      expect(task.state).toBe("pr-open");
      expect(fake.pulls().filter((p) => p.state === "open")).toHaveLength(1);
      const comments = fake.comments(n);
      expect(comments.filter((c) => c.body.includes("<!-- aegis:status -->"))).toHaveLength(1);
      expect(fake.labelsOf(n).filter((l) => l.startsWith("aegis:"))).toEqual(["aegis:pr-open"]);
    } finally {
      await fake.close();
    }
  }, 240_000);
});
