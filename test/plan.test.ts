// Plan mode end to end: the real bundle, run like the Actions runner runs it, against the fake GitHub.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { issueLabeledEvent, runAction } from "./harness/runner.js";
import { transition } from "../src/core/lifecycle.js";
import {
  addLabelAs,
  expectSuccess,
  ledgerOf,
  mutateLedger,
  openIssue,
  planOnLabel,
  planOnSchedule,
} from "./harness/scenario.js";

let fake: FakeGitHub;
beforeEach(async () => {
  fake = await startFakeGitHub({ users: { maya: "maintain", ada: "admin", rick: "read", tess: "triage" } });
});
afterEach(async () => {
  fake.assertClean();
  await fake.close();
});

const statusComments = (n: number) =>
  fake.comments(n).filter((c) => c.body.includes("<!-- aegis:status -->"));

describe("intake", () => {
  it("an auto_safe issue from a maintainer is queued and claimed, in at most 5 API calls", async () => {
    // An earlier intake created the ledger branch (a one-time cost of 3 calls).
    expectSuccess(
      await planOnLabel(
        fake,
        openIssue(fake, { title: "Earlier", labels: ["bug"], by: "maya" }),
        "aegis",
        "maya",
      ),
    );
    const n = openIssue(fake, { title: "Document the install steps", labels: ["documentation"], by: "maya" });
    fake.resetCalls();
    const run = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const ledger = await ledgerOf(fake);
    expect(ledger.tasks).toHaveLength(2);
    const task = ledger.tasks[1]!;
    expect(task).toMatchObject({
      issue: n,
      category: "docs",
      authority: "auto_safe",
      state: "running",
      requestedBy: "maya",
    });
    expect(task.history.map((h) => h.to)).toEqual(["queued", "running"]);
    expect(task.attempts).toHaveLength(1);
    expect(JSON.parse(run.outputs.tasks!)).toEqual([task.id]);
    expect(fake.labelsOf(n)).toContain("aegis:running");
    expect(fake.labelsOf(n).filter((l) => l.startsWith("aegis:"))).toEqual(["aegis:running"]);
    expect(statusComments(n)).toHaveLength(1);
    expect(statusComments(n)[0]!.body).toContain("running");
    expect(run.summary).toContain(`#${n}`);
    expect(run.summary).toContain("Claimed for this run");
    const apiCalls = fake.calls.filter((c) => !c.route.startsWith("GIT"));
    expect(apiCalls.length, apiCalls.map((c) => `${c.method} ${c.route}`).join("\n")).toBeLessThanOrEqual(5);
  });

  it("proposed work waits for approval; a reader's approval is refused and removed, a maintainer's is accepted", async () => {
    const n = openIssue(fake, { title: "Fix the crash on start", labels: ["bug"], by: "rick" });
    const first = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    expect(JSON.parse(first.outputs.tasks!)).toEqual([]);
    expect((await ledgerOf(fake)).tasks[0]!.state).toBe("awaiting-approval");
    expect(fake.labelsOf(n)).toContain("aegis:awaiting-approval");
    expect(statusComments(n)[0]!.body).toContain("aegis-approved");

    const refused = expectSuccess(await planOnLabel(fake, n, "aegis-approved", "rick"));
    expect(fake.labelsOf(n)).not.toContain("aegis-approved");
    expect(
      fake.comments(n).some((c) => c.body.includes("only people with write, maintain or admin permission")),
    ).toBe(true);
    expect((await ledgerOf(fake)).tasks[0]!.state).toBe("awaiting-approval");
    expect(refused.summary).toContain("approval refused");

    const accepted = expectSuccess(await planOnLabel(fake, n, "aegis-approved", "maya"));
    const task = (await ledgerOf(fake)).tasks[0]!;
    expect(task.approvedBy?.login).toBe("maya");
    expect(task.state).toBe("running");
    expect(JSON.parse(accepted.outputs.tasks!)).toEqual([task.id]);
    expect(fake.labelsOf(n).filter((l) => l.startsWith("aegis:"))).toEqual(["aegis:running"]);
    expect(statusComments(n)).toHaveLength(1);
  });

  it("auto_safe work labelled by an outsider waits for approval", async () => {
    const n = openIssue(fake, { title: "Typo in the guide", labels: ["documentation"], by: "rick" });
    expectSuccess(await planOnLabel(fake, n, "aegis", "rick"));
    const task = (await ledgerOf(fake)).tasks[0]!;
    expect(task).toMatchObject({ state: "awaiting-approval", needsApproval: true });
    expect(task.history[0]!.reason).toContain("cannot start work alone");
  });

  it("both labels at once: whichever run comes first, one task, approved", async () => {
    const n = openIssue(fake, { title: "Fix the parser", labels: ["bug"], by: "maya" });
    addLabelAs(fake, n, "aegis", "maya");
    addLabelAs(fake, n, "aegis-approved", "maya");
    // The approval's run sees the issue first, then the trigger's run.
    const a = expectSuccess(
      await runAction({ mode: "plan", event: issueLabeledEvent(fake, n, "aegis-approved", "maya"), fake }),
    );
    const b = expectSuccess(
      await runAction({ mode: "plan", event: issueLabeledEvent(fake, n, "aegis", "maya"), fake }),
    );
    const ledger = await ledgerOf(fake);
    expect(ledger.tasks).toHaveLength(1);
    expect(ledger.tasks[0]).toMatchObject({ state: "running", approvedBy: { login: "maya" } });
    expect([...JSON.parse(a.outputs.tasks!), ...JSON.parse(b.outputs.tasks!)]).toEqual([ledger.tasks[0]!.id]);
    expect(statusComments(n)).toHaveLength(1);
  });

  it("an approval added before the trigger is honoured when it came from a maintainer", async () => {
    const n = openIssue(fake, { title: "Fix the logger", labels: ["bug"], by: "maya" });
    expectSuccess(await planOnLabel(fake, n, "aegis-approved", "maya"));
    expect(await fake.readFile("aegis-state", "state.json")).toBeNull();
    expectSuccess(await planOnLabel(fake, n, "aegis", "rick"));
    expect((await ledgerOf(fake)).tasks[0]).toMatchObject({
      state: "running",
      approvedBy: { login: "maya" },
    });
  });

  it("identical titles are refused as duplicates, naming the original", async () => {
    const a = openIssue(fake, { title: "Update the README", labels: ["documentation", "aegis"], by: "maya" });
    const b = openIssue(fake, { title: "update the  README!", labels: ["documentation"], by: "maya" });
    expectSuccess(
      await runAction({ mode: "plan", event: issueLabeledEvent(fake, a, "aegis", "maya"), fake }),
    );
    const run = expectSuccess(await planOnLabel(fake, b, "aegis", "maya"));
    expect((await ledgerOf(fake)).tasks.map((t) => t.issue)).toEqual([a]);
    expect(fake.labelsOf(b)).toContain("aegis:duplicate");
    expect(fake.comments(b).some((c) => c.body.includes(`#${a}`))).toBe(true);
    expect(run.summary).toContain("duplicate");
  });

  it("bad input: unmapped labels, skip labels, a short body and a bot get a comment and no task", async () => {
    const unmapped = openIssue(fake, { title: "What is this?", labels: ["question"], by: "maya" });
    const skipped = openIssue(fake, { title: "Someday", labels: ["documentation", "wishlist"], by: "maya" });
    const short = openIssue(fake, { title: "Short", body: "fix", labels: ["documentation"], by: "maya" });
    const assigned = openIssue(fake, {
      title: "Mine",
      labels: ["documentation"],
      by: "maya",
      assignees: ["ada"],
    });
    for (const n of [unmapped, skipped, short, assigned])
      expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const bot = openIssue(fake, { title: "Bot work", labels: ["documentation"], by: "maya" });
    expectSuccess(await planOnLabel(fake, bot, "aegis", "dependabot[bot]"));
    expect(await fake.readFile("aegis-state", "state.json")).toBeNull();
    expect(fake.comments(unmapped)[0]!.body).toContain("`documentation`");
    expect(fake.comments(skipped)[0]!.body).toContain("`wishlist`");
    expect(fake.comments(short)[0]!.body).toContain("3 characters");
    expect(fake.comments(assigned)[0]!.body).toContain("@ada");
    expect(fake.comments(bot)[0]!.body).toContain("allowedBots");
  });

  it("a 1 MB body full of invisible characters is taken, and the ledger stays small", async () => {
    const body = "Please fix docs/guide.md\u200b\u202e<!-- hidden -->\n" + "x\u200b".repeat(500_000);
    const n = openIssue(fake, { title: "Huge\u200b body", body, labels: ["documentation"], by: "maya" });
    expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const text = (await fake.readFile("aegis-state", "state.json"))!;
    expect(text.length).toBeLessThan(5_000);
    expect((await ledgerOf(fake)).tasks[0]!.predictedFiles).toEqual(["docs/guide.md"]);
  });

  it("an issue deleted between the event and the run records nothing and fails nothing", async () => {
    const n = openIssue(fake, { title: "Gone soon", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, "aegis", "maya");
    const event = issueLabeledEvent(fake, n, "aegis", "maya");
    fake.deleteIssue(n);
    const run = expectSuccess(await runAction({ mode: "plan", event, fake }));
    expect(await fake.readFile("aegis-state", "state.json")).toBeNull();
    expect(run.summary).toContain("no longer exists");
  });

  it("a pull request carrying the label is ignored with a log line", async () => {
    const n = openIssue(fake, { title: "Doc", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, "aegis", "maya");
    const event = issueLabeledEvent(fake, n, "aegis", "maya");
    (event.payload.issue as Record<string, unknown>).pull_request = { url: "x" };
    const run = expectSuccess(await runAction({ mode: "plan", event, fake }));
    expect(run.stdout).toContain("is a pull request");
    expect(await fake.readFile("aegis-state", "state.json")).toBeNull();
  });
});

describe("settings, dry run and faults through the bundle", () => {
  it("a bad config file fails the step naming the field, and writes nothing", async () => {
    await fake.close();
    fake = await startFakeGitHub({
      users: { maya: "maintain" },
      files: { ...DEFAULT_FILES, ".github/aegis.yml": "caps:\n  pendingPerRepo: five\n" },
    });
    const n = openIssue(fake, { title: "Docs", labels: ["documentation"], by: "maya" });
    const run = await planOnLabel(fake, n, "aegis", "maya");
    expect(run.exitCode).toBe(1);
    expect(run.annotations.map((a) => a.message).join("\n")).toContain(
      'caps.pendingPerRepo: expected a positive integer, got "five"',
    );
    expect(await fake.readFile("aegis-state", "state.json")).toBeNull();
    expect(fake.comments(n)).toHaveLength(0);
  });

  it("dry-run decides and reports, and writes nothing to GitHub", async () => {
    const n = openIssue(fake, { title: "Docs", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, "aegis", "maya");
    fake.resetCalls();
    const run = expectSuccess(
      await runAction({
        mode: "plan",
        event: issueLabeledEvent(fake, n, "aegis", "maya"),
        fake,
        inputs: { "dry-run": "true" },
      }),
    );
    expect(run.summary).toContain("dry run");
    expect(run.summary).toContain(`#${n}`);
    expect(run.stdout).toContain("Dry run: would");
    expect(fake.calls.filter((c) => !c.route.startsWith("GIT") && c.method !== "GET")).toEqual([]);
    expect(await fake.readFile("aegis-state", "state.json")).toBeNull();
  });

  it("a 502 and a secondary rate limit on the way are retried; the intake completes once", async () => {
    const n = openIssue(fake, { title: "Docs", labels: ["documentation"], by: "maya" });
    fake.inject({ method: "POST", route: "/issues/{issue_number}/labels", status: 502, times: 1 });
    fake.inject({
      method: "POST",
      route: "/issues/{issue_number}/comments",
      status: 403,
      times: 1,
      headers: { "retry-after": "1" },
      body: { message: "You have exceeded a secondary rate limit." },
    });
    expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const ledger = await ledgerOf(fake);
    expect(ledger.tasks).toHaveLength(1);
    expect(fake.labelsOf(n)).toContain("aegis:running");
    expect(statusComments(n)).toHaveLength(1);
  });
});

describe("governance across runs", () => {
  it("six issues with a cap of five: one deferred, admitted when another ends", async () => {
    const issues: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const n = openIssue(fake, { title: `Bug ${i}`, labels: ["bug"], by: "maya" });
      issues.push(n);
      expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    }
    let ledger = await ledgerOf(fake);
    expect(ledger.tasks.map((t) => t.state)).toEqual([...Array(5).fill("awaiting-approval"), "deferred"]);
    expect(fake.labelsOf(issues[5]!)).toContain("aegis:deferred");
    expect(statusComments(issues[5]!)[0]!.body).toContain("pending cap");
    // The first issue is closed; the hourly sweep cancels its task and admits the deferred one.
    fake.issue(issues[0]!)!.state = "closed";
    const sweep = expectSuccess(await planOnSchedule(fake));
    ledger = await ledgerOf(fake);
    expect(ledger.tasks[0]!.state).toBe("cancelled");
    expect(ledger.tasks[5]!.state).toBe("awaiting-approval");
    expect(fake.labelsOf(issues[5]!)).toContain("aegis:awaiting-approval");
    expect(fake.labelsOf(issues[5]!)).not.toContain("aegis:deferred");
    expect(sweep.summary).toContain("cancelled");
  });

  it("three plan processes at once never claim one task twice", async () => {
    for (let i = 1; i <= 3; i++)
      openIssue(fake, {
        title: `Docs ${i}`,
        body: `Rewrite the section number ${i} of the guide.`,
        labels: ["documentation", "aegis"],
        by: "maya",
      });
    const runs = await Promise.all(
      [1, 2, 3].map((n) =>
        runAction({
          mode: "plan",
          event: issueLabeledEvent(fake, n, "aegis", "maya"),
          fake,
          runId: 1000 + n,
        }),
      ),
    );
    runs.forEach(expectSuccess);
    const claimed = runs.flatMap((r) => JSON.parse(r.outputs.tasks!) as string[]);
    expect(new Set(claimed).size).toBe(claimed.length);
    const ledger = await ledgerOf(fake);
    expect(ledger.tasks).toHaveLength(3);
    expect(ledger.tasks.filter((t) => t.state === "running")).toHaveLength(2); // caps.running
    expect(claimed.sort()).toEqual(
      ledger.tasks
        .filter((t) => t.state === "running")
        .map((t) => t.id)
        .sort(),
    );
    for (const t of ledger.tasks) expect(t.attempts.length).toBeLessThanOrEqual(1);
  });
});

describe("retry", () => {
  it("re-adding the trigger to a failed task starts a new task that inherits the status comment", async () => {
    const n = openIssue(fake, { title: "Flaky docs", labels: ["documentation"], by: "maya" });
    expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    await mutateLedger(fake, (ledger) => {
      const task = ledger.tasks[0]!;
      task.attempts[0]!.outcome = "max-turns";
      transition(task, { to: "failed", actor: "aegis", reason: "max turns", now: new Date().toISOString() });
    });
    const issue = fake.issue(n)!;
    const running = [...fake.store.labels.values()].find((l) => l.name === "aegis:running")!;
    const failed = fake.seedLabel("aegis:failed");
    issue.labels = issue.labels.filter((id) => id !== running.id).concat(failed.id);
    const aegis = [...fake.store.labels.values()].find((l) => l.name === "aegis")!;
    issue.labels = issue.labels.filter((id) => id !== aegis.id);
    const run = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const ledger = await ledgerOf(fake);
    expect(ledger.tasks.map((t) => t.state)).toEqual(["cancelled", "running"]);
    expect(ledger.tasks[0]!.history.at(-1)!.reason).toContain(`continued as task ${ledger.tasks[1]!.id}`);
    expect(ledger.tasks[1]!.statusCommentId).toBe(ledger.tasks[0]!.statusCommentId);
    expect(JSON.parse(run.outputs.tasks!)).toEqual([ledger.tasks[1]!.id]);
    expect(
      fake
        .labelsOf(n)
        .filter((l) => l.startsWith("aegis"))
        .sort(),
    ).toEqual(["aegis", "aegis:running"]);
    expect(statusComments(n)).toHaveLength(1);
  });

  it("an ended task releases the trigger label so the sweep does not take the issue again", async () => {
    const n = openIssue(fake, { title: "Docs again", labels: ["documentation"], by: "maya" });
    expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    // The trigger label is removed by hand: the sweep cancels the task.
    await mutateLedger(fake, (ledger) => {
      const task = ledger.tasks[0]!;
      task.attempts[0]!.endedAt = new Date().toISOString();
      transition(task, { to: "queued", actor: "aegis", reason: "retry", now: new Date().toISOString() });
    });
    const issue = fake.issue(n)!;
    const aegis = [...fake.store.labels.values()].find((l) => l.name === "aegis")!;
    issue.labels = issue.labels.filter((id) => id !== aegis.id);
    expectSuccess(await planOnSchedule(fake));
    expect((await ledgerOf(fake)).tasks.map((t) => t.state)).toEqual(["cancelled"]);
    expect(fake.labelsOf(n)).toContain("aegis:cancelled");
    expectSuccess(await planOnSchedule(fake));
    expect((await ledgerOf(fake)).tasks).toHaveLength(1);
  });

  it("creates its labels with colours on first use", async () => {
    const n = openIssue(fake, { title: "First", labels: ["documentation"], by: "maya" });
    expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const label = [...fake.store.labels.values()].find((l) => l.name === "aegis:awaiting-approval")!;
    expect(label.color).toBe("fbca04");
    expect(label.description).toContain("approval");
  });
});

describe("sweep", () => {
  it("finds a missed issue, retries a stale running task, and repairs drifted labels", async () => {
    const missed = openIssue(fake, { title: "Missed docs", labels: ["documentation", "aegis"], by: "maya" });
    const stale = openIssue(fake, {
      title: "Stale docs",
      body: "Refresh the changelog wording for the release.",
      labels: ["documentation"],
      by: "maya",
    });
    expectSuccess(await planOnLabel(fake, stale, "aegis", "maya"));
    // Drift: someone removes the state label by hand.
    const issue = fake.issue(stale)!;
    issue.labels = issue.labels.filter((id) => fake.store.labels.get(id)?.name !== "aegis:running");
    fake.resetCalls();
    // An hour later the claimed run never reported back.
    const run = expectSuccess(await planOnSchedule(fake, { AEGIS_CLOCK_SKEW_MS: String(60 * 60_000) }));
    const ledger = await ledgerOf(fake);
    const staleTask = ledger.tasks.find((t) => t.issue === stale)!;
    expect(staleTask.attempts[0]).toMatchObject({ outcome: "lost" });
    expect(staleTask.history.map((h) => h.to)).toEqual(["queued", "running", "queued", "running"]);
    const missedTask = ledger.tasks.find((t) => t.issue === missed)!;
    expect(missedTask).toMatchObject({ requestedBy: "maya", state: "running" });
    expect(fake.labelsOf(missed)).toContain("aegis:running");
    expect(fake.labelsOf(stale)).toContain("aegis:running");
    expect(run.summary).toContain(`#${missed}`);
    // The sweep's cost follows the labeled issues: no call lists all issues unfiltered.
    const lists = fake.calls.filter((c) => c.route === "GET /repos/{owner}/{repo}/issues");
    // One list for the trigger label, one for the revert label: each filtered by GitHub.
    expect(lists.length).toBe(2);
    for (const list of lists) expect(list.path).toMatch(/labels=aegis(&|-revert)/);
  });
});
