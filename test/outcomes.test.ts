// How aegis's PRs ended: recorded in the ledger when GitHub says (the `pull_request: closed` event
// or the sweep), marked on a revert, and shown in the digest for 7 and 30 days by category.
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { renderOutcomes } from "../src/core/digest-outcomes.js";
import { autoFixRound, requestFixRound } from "../src/core/fix-rounds.js";
import { emptyLedger, type Ledger, parseLedger, serializeLedger, type Task } from "../src/core/ledger.js";
import { addTask, transition } from "../src/core/lifecycle.js";
import { OUTCOME_KEEP_DAYS, outcomeRows, recordPrEnd } from "../src/core/outcomes.js";
import { recordRevert } from "../src/core/rollback.js";
import { GitHub } from "../src/adapters/github.js";
import { LedgerStore } from "../src/adapters/ledger-store.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { pullRequestClosedEvent, runAction, scheduleEvent, workflowDispatchEvent } from "./harness/runner.js";
import { expectSuccess, ledgerOf, openIssue } from "./harness/scenario.js";
import { newTask } from "./harness/tasks.js";

const NOW = "2026-12-07T12:00:00Z";
const ago = (hours: number) =>
  new Date(Date.parse(NOW) - hours * 3_600_000).toISOString().replace(".000Z", "Z");

/** A task whose PR opened `openedHoursAgo`, with its cost and rounds. */
function withPr(
  ledger: Ledger,
  issue: number,
  opts: { category?: string; openedHoursAgo: number; costUsd?: number; rounds?: number },
): Task {
  const t = addTask(ledger, newTask(issue, { category: opts.category ?? "docs" }), "running", {
    actor: "test",
    reason: "seeded",
    now: ago(opts.openedHoursAgo + 1),
  });
  transition(t, { to: "pr-open", actor: "aegis", reason: "opened", now: ago(opts.openedHoursAgo) });
  t.pr = { number: 100 + issue, url: `https://github.example/pull/${100 + issue}` };
  t.costUsd = opts.costUsd ?? 0;
  if (opts.rounds) {
    t.fixRounds = opts.rounds;
    t.roundsBy = { review: opts.rounds };
  }
  return t;
}

describe("outcomes in the ledger", () => {
  it("records a PR's end once, keeps it past the task's archiving, and drops it after 35 days", () => {
    const ledger = emptyLedger(NOW);
    const t = withPr(ledger, 1, { openedHoursAgo: 10, costUsd: 1.5, rounds: 1 });
    recordPrEnd(ledger, t, "merged", ago(4), NOW);
    recordPrEnd(ledger, t, "merged", ago(2), NOW); // a retried write, or the sweep after the event
    expect(ledger.outcomes).toEqual([
      {
        taskId: t.id,
        issue: 1,
        pr: 101,
        category: "docs",
        openedAt: ago(10),
        endedAt: ago(4),
        ended: "merged",
        costUsd: 1.5,
        rounds: 1,
        roundsBy: { review: 1 },
      },
    ]);
    expect(t.pr).toMatchObject({ merged: true, ended: "merged" });
    // Written and read back as every ledger is.
    expect(parseLedger(serializeLedger(ledger), "test").outcomes).toEqual(ledger.outcomes);
    const later = new Date(Date.parse(NOW) + (OUTCOME_KEEP_DAYS + 1) * 86_400_000).toISOString();
    const u = withPr(ledger, 2, { openedHoursAgo: 1 });
    recordPrEnd(ledger, u, "closed", later, later);
    expect(ledger.outcomes!.map((o) => o.issue)).toEqual([2]);
  });

  it("each fix round is counted by what started it, and the counts go with the PR's outcome", () => {
    const config = parseConfig("review: { maxFixRounds: 3, autoFix: 1 }");
    const ledger = emptyLedger(NOW);
    const t = withPr(ledger, 1, { openedHoursAgo: 10 });
    expect(autoFixRound(t, config, { now: ago(9) })).toBe(1);
    transition(t, { to: "running", actor: "aegis", reason: "claimed", now: ago(8) });
    transition(t, { to: "pr-open", actor: "aegis", reason: "round done", now: ago(8) });
    const asked = requestFixRound(
      ledger,
      t.pr!.number,
      { login: "maya", permission: "maintain", isBot: false },
      { config, now: ago(7) },
    );
    expect(asked.kind).toBe("queued");
    expect(t.roundsBy).toEqual({ review: 1, label: 1 });
    transition(t, { to: "running", actor: "aegis", reason: "claimed", now: ago(6) });
    transition(t, { to: "pr-open", actor: "aegis", reason: "round done", now: ago(6) });
    recordPrEnd(ledger, t, "merged", ago(5), NOW);
    expect(ledger.outcomes![0]).toMatchObject({ rounds: 2, roundsBy: { review: 1, label: 1 } });
  });

  it("a revert marks the merged PR's outcome", () => {
    const ledger = emptyLedger(NOW);
    const t = withPr(ledger, 1, { openedHoursAgo: 30 });
    recordPrEnd(ledger, t, "merged", ago(20), NOW);
    recordRevert(ledger, t.id, { pr: 200, url: "u", at: ago(1), by: "maya", branch: "auto/revert/x" });
    expect(ledger.outcomes![0]!.revertedAt).toBe(ago(1));
    expect(outcomeRows(ledger, NOW, 7).at(-1)).toMatchObject({ merged: 1, reverted: 1 });
  });

  it("figures by category for 7 and 30 days: opened, merged, closed, reverted, rate, median, cost and rounds per merged PR", () => {
    const ledger = emptyLedger(NOW);
    // docs: two merged this week (2 h and 6 h to merge), one closed; one merged 20 days ago.
    recordPrEnd(
      ledger,
      withPr(ledger, 1, { openedHoursAgo: 30, costUsd: 1, rounds: 0 }),
      "merged",
      ago(28),
      NOW,
    );
    recordPrEnd(
      ledger,
      withPr(ledger, 2, { openedHoursAgo: 50, costUsd: 3, rounds: 2 }),
      "merged",
      ago(44),
      NOW,
    );
    recordPrEnd(ledger, withPr(ledger, 3, { openedHoursAgo: 10 }), "closed", ago(5), NOW);
    recordPrEnd(ledger, withPr(ledger, 4, { openedHoursAgo: 500, costUsd: 5 }), "merged", ago(480), NOW);
    // bug: one open, not ended.
    withPr(ledger, 5, { category: "bug", openedHoursAgo: 3 });
    const week = outcomeRows(ledger, NOW, 7);
    expect(week.map((r) => r.category)).toEqual(["docs", "bug", "all"]);
    expect(week[0]).toEqual({
      category: "docs",
      opened: 3,
      merged: 2,
      closed: 1,
      reverted: 0,
      mergeRate: 2 / 3,
      medianHoursToMerge: 4,
      costPerMerged: 2,
      roundsPerMerged: 1,
    });
    expect(week[1]).toEqual({ category: "bug", opened: 1, merged: 0, closed: 0, reverted: 0 });
    const month = outcomeRows(ledger, NOW, 30).at(-1)!;
    expect(month).toMatchObject({ opened: 5, merged: 3, closed: 1, medianHoursToMerge: 6, costPerMerged: 3 });

    const md = renderOutcomes(ledger, NOW).join("\n");
    expect(md).toContain("### Pull requests: last 7 days");
    expect(md).toContain("| docs | 3 | 2 | 1 | 0 | 67% | 4.0 h | $2.00 | 1.0 |");
    expect(md).toContain("| **all** | 4 | 2 | 1 | 0 | 67% | 4.0 h | $2.00 | 1.0 |");
    expect(md).toContain("### Pull requests: last 30 days");
    expect(renderOutcomes(emptyLedger(NOW), NOW)).toEqual([]);
  });
});

describe("outcomes end to end", () => {
  let fake: FakeGitHub | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it("a merged PR's event and a closed PR found by the sweep are recorded with GitHub's times and reach the digest", async () => {
    fake = await startFakeGitHub({ users: { maya: "maintain" } });
    const f = fake;
    const gh = { owner: f.owner, repo: f.repo };
    const client = new GitHub({ token: f.token, apiUrl: f.url, owner: f.owner, repo: f.repo });
    const { octokit } = client;
    const store = new LedgerStore({ gh: client, branch: "aegis-state", now: () => new Date().toISOString() });
    const opened: { issue: number; pr: number }[] = [];
    for (const [title, cost] of [
      ["Document the API", 0.4],
      ["Document the CLI", 0.2],
    ] as const) {
      const issue = openIssue(f, { title, labels: ["documentation"], by: "maya" });
      const branch = `auto/docs/${issue}-1`;
      await f.commitFile(branch, `${issue}.md`, `# ${title}\n`, title);
      const { data: pr } = await octokit.rest.pulls.create({
        ...gh,
        head: branch,
        base: "main",
        title,
        body: `Fixes #${issue}`,
      });
      await octokit.rest.issues.addLabels({ ...gh, issue_number: pr.number, labels: ["aegis"] });
      await store.update("seed", (ledger) => {
        const t = addTask(ledger, newTask(issue, { category: "docs" }), "running", {
          actor: "test",
          reason: "seeded",
          now: new Date().toISOString(),
        });
        transition(t, { to: "pr-open", actor: "aegis", reason: "opened", now: new Date().toISOString() });
        t.branch = branch;
        t.pr = { number: pr.number, url: pr.html_url };
        t.costUsd = cost;
        t.fixRounds = 1;
        t.roundsBy = { label: 1 };
      });
      opened.push({ issue, pr: pr.number });
    }
    const [a, b] = opened as [(typeof opened)[0], (typeof opened)[0]];
    await octokit.rest.pulls.merge({ ...gh, pull_number: a.pr });
    const mergedAt = (await octokit.rest.pulls.get({ ...gh, pull_number: a.pr })).data.merged_at!;
    const event = expectSuccess(
      await runAction({ mode: "plan", fake: f, event: await pullRequestClosedEvent(f, a.pr, "maya") }),
    );
    await event.cleanup();
    await octokit.rest.pulls.update({ ...gh, pull_number: b.pr, state: "closed" });
    const sweep = expectSuccess(await runAction({ mode: "plan", fake: f, event: scheduleEvent(f) }));
    await sweep.cleanup();

    const ledger = await ledgerOf(f);
    expect(ledger.outcomes).toEqual([
      expect.objectContaining({
        issue: a.issue,
        pr: a.pr,
        ended: "merged",
        endedAt: mergedAt.replace(".000Z", "Z"),
        rounds: 1,
        roundsBy: { label: 1 },
        costUsd: 0.4,
      }),
      expect.objectContaining({ issue: b.issue, pr: b.pr, ended: "closed" }),
    ]);
    expect(ledger.tasks.find((t) => t.issue === a.issue)!.pr).toMatchObject({
      ended: "merged",
      merged: true,
    });

    const digest = expectSuccess(
      await runAction({ mode: "digest", fake: f, event: workflowDispatchEvent(f) }),
    );
    await digest.cleanup();
    expect(digest.summary).toContain("### Pull requests: last 7 days");
    expect(digest.summary).toMatch(/\| docs \| 2 \| 1 \| 1 \| 0 \| 50% \| \d+ min \| \$0\.40 \| 1\.0 \|/);
  }, 120_000);
});
