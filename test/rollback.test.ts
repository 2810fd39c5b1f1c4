// Rollback: `aegis-revert` on a merged aegis PR. Pure decisions, then end to end: the real bundle
// in plan mode against the fake GitHub, with real git fetch, revert and push over smart-HTTP.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GitHub } from "../src/adapters/github.js";
import { LedgerStore } from "../src/adapters/ledger-store.js";
import { emptyLedger, type Ledger } from "../src/core/ledger.js";
import { addTask } from "../src/core/lifecycle.js";
import {
  judgeRevert,
  type PullFacts,
  recordRevert,
  revertOf,
  revertPullBody,
  taskIdFromHead,
} from "../src/core/rollback.js";
import { type FakeGitHub, runGit, startFakeGitHub } from "./harness/fake-github.js";
import {
  BOT_EMAIL,
  DEFAULT_ENTRY,
  pullRequestLabeledEvent,
  runAction,
  scheduleEvent,
  type RunActionOptions,
} from "./harness/runner.js";
import { addLabelAs, expectSuccess, ledgerOf } from "./harness/scenario.js";
import { newTask } from "./harness/tasks.js";

/** dist/index.js, or a private build (AEGIS_ROLLBACK_ENTRY) while dist/ is being rebuilt by others. */
const ENTRY = process.env.AEGIS_ROLLBACK_ENTRY ?? DEFAULT_ENTRY;
const NOW = "2026-11-24T10:00:00Z";

function seedTask(ledger: Ledger, issue: number, extra: { branch?: string; pr?: number } = {}) {
  const task = addTask(ledger, newTask(issue, { title: "Update the guide" }), "done", {
    actor: "test",
    reason: "seeded",
    now: NOW,
  });
  if (extra.branch) task.branch = extra.branch;
  if (extra.pr) task.pr = { number: extra.pr, url: `https://example.test/pull/${extra.pr}`, merged: true };
  return task;
}

/** A done task whose PR (guide edited, a file added) was merged with a real merge commit. */
async function mergedTaskOn(fake: FakeGitHub, gh: GitHub, opts: { merge?: boolean } = {}) {
  const issue = fake.seedIssue({ title: "Update the guide", labels: ["documentation"] }).number;
  const store = new LedgerStore({ gh, branch: "aegis-state", now: () => new Date().toISOString() });
  const { result: taskId } = await store.update("seed", (draft) => seedTask(draft, issue).id);
  const branch = `auto/docs/${taskId}`;
  await fake.commitFile(branch, "docs/guide.md", "# Guide\n\nversion two\n", "Update the guide");
  await fake.commitFile(branch, "docs/new.md", "A new page.\n", "Add a page");
  const { data: pr } = await gh.octokit.rest.pulls.create({
    owner: fake.owner,
    repo: fake.repo,
    head: branch,
    base: "main",
    title: "Update the guide",
    body: `Fixes #${issue}`,
  });
  if (opts.merge !== false)
    await gh.octokit.rest.pulls.merge({ owner: fake.owner, repo: fake.repo, pull_number: pr.number });
  await store.update("pr", (draft) => {
    const task = draft.tasks.find((t) => t.id === taskId)!;
    task.branch = branch;
    task.pr = { number: pr.number, url: pr.html_url, merged: opts.merge !== false };
  });
  fake.resetCalls();
  return { issue, taskId, pr: pr.number, branch };
}

describe("rollback decisions", () => {
  const maintainer = { login: "maya", permission: "maintain" as const };
  const pull = (over: Partial<PullFacts> = {}): PullFacts => ({
    number: 9,
    title: "Update the guide",
    state: "closed",
    merged: true,
    mergeCommitSha: "a".repeat(40),
    headRef: "auto/docs/3-1",
    url: "https://example.test/pull/9",
    ...over,
  });

  it("reads the task id from run branches only", () => {
    expect(taskIdFromHead("auto/docs/3-1")).toBe("3-1");
    expect(taskIdFromHead("auto/bugfix/12-40")).toBe("12-40");
    expect(taskIdFromHead("auto/revert/3-1")).toBeUndefined();
    expect(taskIdFromHead("feature/3-1")).toBeUndefined();
    expect(taskIdFromHead("auto/docs/3-1/extra")).toBeUndefined();
  });

  it("refuses outsiders first, then foreign and unmerged PRs, and honours a merged aegis PR once", () => {
    const ledger = emptyLedger(NOW);
    const task = seedTask(ledger, 3, { branch: "auto/docs/3-1", pr: 9 });
    expect(task.id).toBe("3-1");
    expect(
      judgeRevert(ledger, pull(), { login: "rick", permission: "triage" }, "aegis-revert"),
    ).toMatchObject({
      kind: "refuse",
      line: "@rick has triage permission",
    });
    expect(judgeRevert(ledger, pull({ headRef: "feature/x" }), maintainer, "aegis-revert")).toMatchObject({
      kind: "refuse",
      line: "not an aegis pull request (head feature/x)",
    });
    // A branch named like a task but neither its branch nor its PR is not the task's work.
    const stranger = emptyLedger(NOW);
    seedTask(stranger, 3, { branch: "auto/docs/3-9", pr: 77 });
    expect(judgeRevert(stranger, pull(), maintainer, "aegis-revert").kind).toBe("refuse");
    expect(
      judgeRevert(
        ledger,
        pull({ merged: false, state: "open", mergeCommitSha: null }),
        maintainer,
        "aegis-revert",
      ),
    ).toMatchObject({ kind: "refuse", line: "not merged (open)" });
    expect(judgeRevert(ledger, pull(), maintainer, "aegis-revert")).toMatchObject({
      kind: "revert",
      mergeSha: "a".repeat(40),
    });

    const record = { pr: 10, url: "u", at: NOW, by: "maya", branch: "auto/revert/3-1" };
    expect(recordRevert(ledger, "3-1", record)).toEqual(record);
    // A second record (a concurrent run) never replaces the first.
    expect(recordRevert(ledger, "3-1", { ...record, pr: 11 })).toEqual(record);
    expect(revertOf(ledger.tasks[0]!)?.pr).toBe(10);
    expect(judgeRevert(ledger, pull(), maintainer, "aegis-revert")).toMatchObject({ kind: "already" });
  });

  it("links the original PR and the issue without closing keywords", () => {
    const ledger = emptyLedger(NOW);
    const task = seedTask(ledger, 3, { branch: "auto/docs/3-1", pr: 9 });
    const body = revertPullBody(
      { pull: pull(), task, by: "maya", mergeSha: "b".repeat(40), label: "aegis-revert" },
      ["docs/guide.md"],
    );
    expect(body).toContain("Reverts #9");
    expect(body).toContain("Refs #3");
    expect(body).toContain("`docs/guide.md`");
    expect(body).not.toMatch(/\b(fixes|closes|resolves)\s+#/i);
  });
});

describe("rollback end to end", () => {
  let fake: FakeGitHub;
  let gh: GitHub;
  let scratch: string[] = [];
  beforeEach(async () => {
    fake = await startFakeGitHub({
      users: { maya: "maintain", rick: "read" },
      files: {
        "README.md": "# sandbox\n",
        "docs/guide.md": "# Guide\n\nversion one\n",
      },
    });
    gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
  });
  afterEach(async () => {
    fake.assertClean();
    await fake.close();
    await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
    scratch = [];
  });

  const run = (opts: Omit<RunActionOptions, "fake" | "mode">) =>
    runAction({ mode: "plan", fake, entry: ENTRY, timeoutMs: 60_000, ...opts });

  const mergedTask = (opts: { merge?: boolean } = {}) => mergedTaskOn(fake, gh, opts);

  const revertPulls = () => fake.pulls().filter((p) => p.pull?.head.startsWith("auto/revert/"));
  const apiCalls = () => fake.calls.filter((c) => !c.route.startsWith("GIT"));

  async function labelEvent(pr: number, login: string) {
    addLabelAs(fake, pr, "aegis-revert", login);
    return run({ event: await pullRequestLabeledEvent(fake, pr, "aegis-revert", login) });
  }

  it("opens one revert PR for a merged task; git shows the change undone; a second event opens none", async () => {
    const { issue, taskId, pr } = await mergedTask();
    const mainBefore = await fake.branchSha("main");
    const first = expectSuccess(await labelEvent(pr, "maya"));
    const routes = apiCalls().map((c) => `${c.method} ${c.route}`);
    const gitCalls = fake.calls.filter((c) => c.route.startsWith("GIT")).map((c) => `${c.method} ${c.path}`);
    console.log(`revert via label event: ${routes.length} API calls\n  ${routes.join("\n  ")}`);
    console.log(`git requests (the first is the job's own checkout):\n  ${gitCalls.join("\n  ")}`);

    expect(revertPulls()).toHaveLength(1);
    const revert = revertPulls()[0]!;
    expect(revert.pull!.head).toBe(`auto/revert/${taskId}`);
    expect(revert.pull!.base).toBe("main");
    expect(revert.title).toBe('Revert "Update the guide"');
    expect(revert.body).toContain(`Reverts #${pr}`);
    expect(revert.body).toContain(`Refs #${issue}`);
    expect(
      fake.comments(pr).some((c) => c.body.includes(`#${revert.number} reverts this pull request`)),
    ).toBe(true);
    expect(first.summary).toContain("revert opened");

    // The branch: one commit on top of main, by github-actions[bot], whose tree is main's before the merge.
    const branchSha = (await fake.branchSha(`auto/revert/${taskId}`))!;
    expect((await fake.git(["rev-parse", `${branchSha}^`])).trim()).toBe(mainBefore);
    expect(await fake.readFile(`auto/revert/${taskId}`, "docs/guide.md")).toBe("# Guide\n\nversion one\n");
    expect(await fake.readFile(`auto/revert/${taskId}`, "docs/new.md")).toBeNull();
    expect(await fake.readFile("main", "docs/new.md")).toBe("A new page.\n");
    const mergeParent = (await fake.git(["rev-parse", `${mainBefore}^1`])).trim();
    expect((await fake.git(["rev-parse", `${branchSha}^{tree}`])).trim()).toBe(
      (await fake.git(["rev-parse", `${mergeParent}^{tree}`])).trim(),
    );
    expect((await fake.git(["log", "-1", "--format=%an <%ae>|%s", branchSha])).trim()).toBe(
      `github-actions[bot] <${BOT_EMAIL}>|Revert "Update the guide"`,
    );
    // No credential was left in the workspace's git config.
    const config = await runGit(first.workspace, ["config", "--get-regexp", "extraheader"], {
      allowFail: true,
    });
    expect(config.stdout.toString("utf8")).toBe("");

    const task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
    expect(task.state).toBe("done");
    expect(revertOf(task)).toMatchObject({ pr: revert.number, by: "maya", branch: `auto/revert/${taskId}` });
    await first.cleanup();

    // The label removed and added again, then the hourly sweep: neither opens a second PR.
    const comments = fake.comments(pr).length;
    const second = expectSuccess(await labelEvent(pr, "maya"));
    expect(second.summary).toContain("already reverted");
    const sweep = expectSuccess(await run({ event: scheduleEvent(fake) }));
    expect(revertPulls()).toHaveLength(1);
    expect(fake.comments(pr)).toHaveLength(comments);
    expect(fake.labelsOf(pr)).toContain("aegis-revert");
    await Promise.all([second.cleanup(), sweep.cleanup()]);
  }, 120_000);

  it("removes an outsider's label with a comment and touches nothing else", async () => {
    const { pr } = await mergedTask();
    const result = expectSuccess(await labelEvent(pr, "rick"));
    expect(revertPulls()).toHaveLength(0);
    expect(fake.labelsOf(pr)).not.toContain("aegis-revert");
    expect(
      fake.comments(pr).some((c) => c.body.includes("only people with write, maintain or admin permission")),
    ).toBe(true);
    // Refused before any git work: nothing fetched beyond the job's own checkout, nothing pushed.
    expect(fake.calls.filter((c) => c.route === "GIT git-receive-pack")).toHaveLength(0);
    expect(fake.callsTo("repos/get-content")).toHaveLength(1); // the plan's own ledger read only
    expect(result.summary).toContain("revert refused");
    await result.cleanup();
  }, 60_000);

  it("reports a conflicting revert with the files, opens no PR, and takes the label off", async () => {
    const { pr, taskId } = await mergedTask();
    await fake.commitFile("main", "docs/guide.md", "# Guide\n\nversion three\n", "Later edit");
    const result = expectSuccess(await labelEvent(pr, "maya"));
    expect(revertPulls()).toHaveLength(0);
    expect(await fake.branchSha(`auto/revert/${taskId}`)).toBeNull();
    const comment = fake.comments(pr).find((c) => c.body.includes("revert conflicts"));
    expect(comment?.body).toContain("`docs/guide.md`");
    expect(comment?.body).not.toContain("docs/new.md");
    expect(fake.labelsOf(pr)).not.toContain("aegis-revert");
    expect(revertOf((await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!)).toBeUndefined();
    // The workspace is left clean, back on its branch.
    const out = async (args: string[]) =>
      (await runGit(result.workspace, args)).stdout.toString("utf8").trim();
    expect(await out(["status", "--porcelain"])).toBe("");
    expect(await out(["rev-parse", "--abbrev-ref", "HEAD"])).toBe("main");
    await result.cleanup();
  }, 60_000);

  it("after a run died between push and PR, opens the PR from the branch it finds, without force", async () => {
    const { pr, taskId } = await mergedTask();
    const earlier = await fake.commitFile(
      `auto/revert/${taskId}`,
      "docs/guide.md",
      "# Guide\n\nversion one\n",
    );
    const result = expectSuccess(await labelEvent(pr, "maya"));
    expect(revertPulls()).toHaveLength(1);
    expect(revertPulls()[0]!.pull!.head).toBe(`auto/revert/${taskId}`);
    expect(await fake.branchSha(`auto/revert/${taskId}`)).toBe(earlier);
    expect(revertOf((await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!)?.pr).toBe(
      revertPulls()[0]!.number,
    );
    await result.cleanup();
  }, 60_000);

  it("explains that an unmerged PR has nothing to revert", async () => {
    const { pr } = await mergedTask({ merge: false });
    const result = expectSuccess(await labelEvent(pr, "maya"));
    expect(revertPulls()).toHaveLength(0);
    expect(fake.comments(pr).some((c) => c.body.includes("still open"))).toBe(true);
    expect(fake.labelsOf(pr)).not.toContain("aegis-revert");
    await result.cleanup();
  }, 60_000);

  it("the hourly sweep finds a label whose event was missed, from a shallow checkout", async () => {
    const { pr, taskId } = await mergedTask();
    // Another commit on main, so the merge commit is below a depth-1 clone's horizon.
    await fake.commitFile("main", "README.md", "# sandbox\n\nmore\n", "Unrelated");
    addLabelAs(fake, pr, "aegis-revert", "maya");
    const dir = await mkdtemp(path.join(os.tmpdir(), "aegis-shallow-"));
    scratch.push(dir);
    const workspace = path.join(dir, "ws");
    await runGit(dir, ["clone", "--quiet", "--depth=1", fake.cloneUrl, workspace]);
    fake.resetCalls();
    const result = expectSuccess(await run({ event: scheduleEvent(fake), workspace }));
    const routes = apiCalls().map((c) => `${c.method} ${c.route}`);
    console.log(`plan sweep with one revert: ${routes.length} API calls\n  ${routes.join("\n  ")}`);
    expect(revertPulls()).toHaveLength(1);
    // Deepened by sha, not unshallowed: the job's checkout stays cheap.
    const shallow = await runGit(workspace, ["rev-parse", "--is-shallow-repository"]);
    expect(shallow.stdout.toString("utf8").trim()).toBe("true");
    expect(await fake.readFile(`auto/revert/${taskId}`, "docs/guide.md")).toBe("# Guide\n\nversion one\n");
    expect(await fake.readFile(`auto/revert/${taskId}`, "README.md")).toBe("# sandbox\n\nmore\n");
    expect(result.summary).toContain("revert opened");
    await result.cleanup();
  }, 60_000);
});

// Exactly once under faults, for the rollback: every write endpoint a fault-free revert used (from
// the calls it recorded) is struck by each fault in turn; the end state must be the fault-free one:
// one revert PR, one comment on the original PR, the revert recorded once on the task.
describe("rollback under faults", () => {
  type Fault = import("./harness/fake-github/faults.js").FaultSpec;
  const FAULTS: [string, (op: string) => Fault][] = [
    ["a 502 before it lands", (op) => ({ route: op, status: 502, when: "before" })],
    ["a 502 after it landed", (op) => ({ route: op, status: 502, when: "after" })],
    ["a connection reset after it landed", (op) => ({ route: op, status: 0, when: "after" })],
    [
      "a secondary rate limit with retry-after",
      (op) => ({ route: op, status: 403, when: "before", headers: { "retry-after": "1" } }),
    ],
  ];

  async function revertOnce(fault?: Fault) {
    const f = await startFakeGitHub({
      users: { maya: "maintain" },
      files: { "README.md": "# sandbox\n", "docs/guide.md": "# Guide\n\nversion one\n" },
    });
    try {
      const client = new GitHub({ token: f.token, apiUrl: f.url, owner: f.owner, repo: f.repo });
      const { taskId, pr } = await mergedTaskOn(f, client);
      addLabelAs(f, pr, "aegis-revert", "maya");
      const armed = fault ? f.inject(fault) : undefined;
      const r = await runAction({
        mode: "plan",
        fake: f,
        entry: ENTRY,
        timeoutMs: 60_000,
        event: await pullRequestLabeledEvent(f, pr, "aegis-revert", "maya"),
      });
      await r.cleanup();
      expectSuccess(r);
      const task = (await ledgerOf(f)).tasks.find((t) => t.id === taskId)!;
      const reverts = f.pulls().filter((p) => p.pull?.head.startsWith("auto/revert/"));
      const end = {
        revertPulls: reverts.map((p) => `${p.state} ${p.pull!.head}`),
        comments: f.comments(pr).map((c) => c.body.replace(/#\d+/g, "#N").slice(0, 80)),
        recorded: revertOf(task)?.pr === reverts[0]?.number,
        state: task.state,
        transitions: task.history.length,
      };
      const writes = f.calls
        .filter((c) => ["POST", "PUT", "PATCH", "DELETE"].includes(c.method) && !c.route.startsWith("GIT"))
        .map((c) => c.operationId);
      return { end, writes: [...new Set(writes)], hits: armed?.hits ?? 0 };
    } finally {
      await f.close();
    }
  }

  it("every write of a revert, struck by each fault, leaves one revert PR and one comment", async () => {
    const baseline = await revertOnce();
    expect(baseline.end.revertPulls).toHaveLength(1);
    expect(baseline.end.recorded).toBe(true);
    expect(baseline.writes.length).toBeGreaterThanOrEqual(2);
    for (const op of baseline.writes)
      for (const [name, make] of FAULTS) {
        const { end, hits } = await revertOnce(make(op));
        expect(hits, `${op}: ${name}`).toBe(1);
        expect(end, `${op}: ${name}`).toEqual(baseline.end);
      }
  }, 600_000);
});
