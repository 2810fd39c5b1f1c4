// Dependencies (`Depends on #N`, `Blocked by #N`): held while the dependency runs, released when
// it is done, reported once when it failed or was cancelled. Pure first, then the real bundle.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { admitAndClaim, dependencyStatus, untrackedDependencies } from "../src/core/queue.js";
import { emptyLedger, type Ledger, type Task } from "../src/core/ledger.js";
import { addTask, transition } from "../src/core/lifecycle.js";
import { GitHub } from "../src/adapters/github.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import {
  DEFAULT_ENTRY,
  issueLabeledEvent,
  pullRequestClosedEvent,
  runAction,
  scheduleEvent,
} from "./harness/runner.js";
import { addLabelAs, expectSuccess, ledgerOf, mutateLedger, openIssue } from "./harness/scenario.js";
import { newTask } from "./harness/tasks.js";

/** dist/index.js, or a private build (AEGIS_DEPENDENCIES_ENTRY) while dist/ is being rebuilt by others. */
const ENTRY = process.env.AEGIS_DEPENDENCIES_ENTRY ?? DEFAULT_ENTRY;
const config = parseConfig("");
const NOW = "2026-11-24T10:00:00Z";

function task(ledger: Ledger, issue: number, state: Task["state"], dependsOn: number[] = []): Task {
  return addTask(ledger, newTask(issue, { dependsOn }), state, { actor: "test", reason: "seeded", now: NOW });
}

const claim = (ledger: Ledger, closed: Record<number, boolean> = {}) =>
  admitAndClaim(ledger, { config, now: NOW, runId: "1", runAttempt: 1, issueClosed: (n) => closed[n] });

describe("dependency decisions", () => {
  it("reports a failed dependency once, and again only when a retry fails anew", () => {
    const ledger = emptyLedger(NOW);
    const a = task(ledger, 1, "failed");
    const b = task(ledger, 2, "queued", [1]);
    const first = claim(ledger);
    expect(first.claimed).toEqual([]);
    expect(first.held).toEqual([
      { task: b, reason: "dependency #1 failed; this task waits until a maintainer resolves it" },
    ]);
    expect(first.reported).toHaveLength(1);
    expect(first.reported[0]!.notice).toContain("#1: fix the cause and re-add its trigger label");

    const second = claim(ledger);
    expect(second.held[0]!.reason).toContain("dependency #1 failed");
    expect(second.reported).toEqual([]);

    // Retried: the dependency runs again, so the task simply waits; a new failure is news.
    transition(a, { to: "cancelled", actor: "maya", reason: "retried", now: NOW });
    const retry = task(ledger, 1, "running");
    expect(claim(ledger).held[0]!.reason).toBe("waiting for #1");
    transition(retry, { to: "failed", actor: "aegis", reason: "boom", now: NOW });
    expect(claim(ledger).reported).toHaveLength(1);
  });

  it("a cancelled dependency holds until its issue is closed; done releases at once", () => {
    const ledger = emptyLedger(NOW);
    task(ledger, 1, "cancelled");
    task(ledger, 3, "running");
    const b = task(ledger, 2, "queued", [1, 3]);
    expect(dependencyStatus(ledger, 1)).toBe("cancelled");
    expect(untrackedDependencies(ledger)).toEqual([1]);
    expect(claim(ledger, { 1: false }).held[0]!.reason).toBe(
      "dependency #1 was cancelled; this task waits until a maintainer resolves it (also waiting for #3)",
    );
    expect(claim(ledger, { 1: true }).held[0]!.reason).toBe("waiting for #3");
    transition(ledger.tasks[1]!, { to: "pr-open", actor: "aegis", reason: "pr", now: NOW });
    transition(ledger.tasks[1]!, { to: "done", actor: "aegis", reason: "merged", now: NOW });
    expect(claim(ledger, { 1: true }).claimed).toEqual([b]);
    expect((b as Task & { dependencyReported?: string }).dependencyReported).toBeUndefined();
  });
});

describe("dependencies end to end", () => {
  let fake: FakeGitHub;
  beforeEach(async () => {
    fake = await startFakeGitHub({ users: { maya: "maintain" } });
  });
  afterEach(async () => {
    fake.assertClean();
    await fake.close();
  });

  const plan = (event: ReturnType<typeof scheduleEvent>) =>
    runAction({ mode: "plan", fake, event, entry: ENTRY, timeoutMs: 60_000 });
  const planOnLabel = async (n: number) => {
    addLabelAs(fake, n, "aegis", "maya");
    return plan(issueLabeledEvent(fake, n, "aegis", "maya"));
  };
  const taskOf = async (issue: number) =>
    (await ledgerOf(fake)).tasks.filter((t) => t.issue === issue).at(-1)!;

  /** A runs (claimed); B, which depends on A, is taken in and held. */
  async function dependentPair() {
    const a = openIssue(fake, { title: "Write the API reference", labels: ["documentation"], by: "maya" });
    expectSuccess(await planOnLabel(a));
    expect((await taskOf(a)).state).toBe("running");
    const b = openIssue(fake, {
      title: "Link the API reference from the README",
      body: `Depends on #${a}. Then add a link to the new reference from the README's usage section.`,
      labels: ["documentation"],
      by: "maya",
    });
    const held = expectSuccess(await planOnLabel(b));
    expect(JSON.parse(held.outputs.tasks!)).toEqual([]);
    expect(await taskOf(b)).toMatchObject({ state: "queued", dependsOn: [a] });
    expect(held.summary).toContain(`waiting for #${a}`);
    await held.cleanup();
    return { a, b };
  }

  /** A's task with an open PR, as run mode leaves it (and labelled as run mode labels its PRs). */
  async function openPullFor(issue: number) {
    const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
    const task = await taskOf(issue);
    const branch = `auto/docs/${task.id}`;
    await fake.commitFile(branch, "docs/api.md", "# API\n", "Write the API reference");
    const { owner, repo } = fake;
    const { data: pr } = await gh.octokit.rest.pulls.create({
      owner,
      repo,
      head: branch,
      base: "main",
      title: "Write the API reference",
      body: `Fixes #${issue}`,
    });
    await gh.octokit.rest.issues.addLabels({ owner, repo, issue_number: pr.number, labels: ["aegis"] });
    await mutateLedger(fake, (ledger) => {
      const t = ledger.tasks.find((x) => x.id === task.id)!;
      transition(t, { to: "pr-open", actor: "aegis", reason: "opened", now: new Date().toISOString() });
      t.branch = branch;
      t.pr = { number: pr.number, url: pr.html_url };
    });
    const merge = () => gh.octokit.rest.pulls.merge({ owner, repo, pull_number: pr.number });
    return { number: pr.number, merge };
  }

  it("holds B while A runs and claims it in the sweep that sees A's PR merged", async () => {
    const { a, b } = await dependentPair();
    // While open, the sweep's labelled-issue listing shows the PR, so it reads no PR of its own.
    const pr = await openPullFor(a);
    fake.resetCalls();
    const waiting = expectSuccess(await plan(scheduleEvent(fake)));
    expect(fake.calls.filter((c) => c.route.endsWith("/pulls/{pull_number}"))).toEqual([]);
    expect((await taskOf(a)).state).toBe("pr-open");
    expect((await taskOf(b)).state).toBe("queued");
    await waiting.cleanup();
    await pr.merge();

    const sweep = expectSuccess(await plan(scheduleEvent(fake)));
    expect((await taskOf(a)).state).toBe("done");
    const bTask = await taskOf(b);
    expect(bTask.state).toBe("running");
    expect(JSON.parse(sweep.outputs.tasks!)).toEqual([bTask.id]);
    await sweep.cleanup();
  }, 90_000);

  it("A's merged-PR event ends A and claims B in that same run, with no request for the PR", async () => {
    const { a, b } = await dependentPair();
    const pr = await openPullFor(a);
    await pr.merge();

    fake.resetCalls();
    const closed = expectSuccess(await plan(await pullRequestClosedEvent(fake, pr.number, "maya")));
    expect(fake.calls.filter((c) => c.route.includes("/pulls"))).toEqual([]);
    expect(await taskOf(a)).toMatchObject({ state: "done", pr: { merged: true } });
    expect(fake.labelsOf(a)).toContain("aegis:done");
    const bTask = await taskOf(b);
    expect(bTask.state).toBe("running");
    expect(JSON.parse(closed.outputs.tasks!)).toEqual([bTask.id]);
    expect(closed.summary).toContain("was merged");
    await closed.cleanup();
  }, 90_000);

  it("reports a cancelled A on B once, and releases B when A's issue is closed", async () => {
    const { a, b } = await dependentPair();
    // A cancelled, as the lifecycle leaves it: terminal state, trigger label released.
    await mutateLedger(fake, (ledger) => {
      const t = ledger.tasks.find((x) => x.issue === a)!;
      transition(t, { to: "cancelled", actor: "maya", reason: "not needed", now: new Date().toISOString() });
    });
    const issueA = fake.issue(a)!;
    issueA.labels = issueA.labels.filter((id) => fake.store.labels.get(id)?.name !== "aegis");
    const notices = () =>
      fake.comments(b).filter((c) => c.body.includes("this task waits until a maintainer"));

    const first = expectSuccess(await plan(scheduleEvent(fake)));
    expect(first.summary).toContain(
      `dependency #${a} was cancelled; this task waits until a maintainer resolves it`,
    );
    expect(notices()).toHaveLength(1);
    expect(notices()[0]!.body).toContain(`#${a}: re-add its trigger label to run it again, or close it`);
    const second = expectSuccess(await plan(scheduleEvent(fake)));
    expect(second.summary).toContain(`dependency #${a} was cancelled`);
    expect(notices()).toHaveLength(1);
    expect((await taskOf(b)).state).toBe("queued");

    issueA.state = "closed";
    issueA.stateReason = "not_planned";
    const released = expectSuccess(await plan(scheduleEvent(fake)));
    expect((await taskOf(b)).state).toBe("running");
    expect(JSON.parse(released.outputs.tasks!)).toEqual([(await taskOf(b)).id]);
    await Promise.all([first.cleanup(), second.cleanup(), released.cleanup()]);
  }, 90_000);
});
