// Contention after a run: two open aegis PRs on the fake GitHub touching the same file.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GitHub } from "../src/adapters/github.js";
import { LedgerStore } from "../src/adapters/ledger-store.js";
import { findOverlaps, recordedFiles } from "../src/core/contention.js";
import { emptyLedger, type Task } from "../src/core/ledger.js";
import { addTask } from "../src/core/lifecycle.js";
import { checkContention } from "../src/modes/contention.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { newTask } from "./harness/tasks.js";

describe("contention decisions", () => {
  it("finds the shared files per other PR, sorted, and none for disjoint PRs", () => {
    const others = [
      { taskId: "7-2", issue: 7, pr: 12, files: ["b.md", "src/x.ts", "a.md"] },
      { taskId: "5-1", issue: 5, pr: 10, files: ["c.md"] },
      { taskId: "6-3", issue: 6, pr: 11, files: ["src/x.ts"] },
    ];
    expect(findOverlaps(["a.md", "src/x.ts", "z.md"], others)).toEqual([
      { taskId: "6-3", issue: 6, pr: 11, files: ["src/x.ts"] },
      { taskId: "7-2", issue: 7, pr: 12, files: ["a.md", "src/x.ts"] },
    ]);
    expect(findOverlaps(["z.md"], others)).toEqual([]);
  });

  it("uses the files run mode recorded, as the union of attempts", () => {
    const ledger = emptyLedger("2026-11-24T10:00:00Z");
    const task = addTask(ledger, newTask(1, { title: "t", requestedBy: "m" }), "pr-open", {
      actor: "t",
      reason: "t",
      now: "2026-11-24T10:00:00Z",
    });
    expect(recordedFiles(task)).toBeUndefined();
    task.attempts.push(
      { number: 1, runId: "1/1", startedAt: "2026-11-24T10:00:00Z", files: ["a.md"] },
      { number: 2, runId: "2/1", startedAt: "2026-11-24T10:00:00Z", files: ["a.md", "b.md"] },
    );
    expect(recordedFiles(task)).toEqual(["a.md", "b.md"]);
  });
});

describe("checkContention on the fake GitHub", () => {
  let fake: FakeGitHub;
  let gh: GitHub;
  let store: LedgerStore;
  beforeEach(async () => {
    fake = await startFakeGitHub({
      files: { "README.md": "# sandbox\n", "docs/shared.md": "shared\n", "src/lib.ts": "export {};\n" },
    });
    gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
    store = new LedgerStore({ gh, branch: "aegis-state", now: () => new Date().toISOString() });
  });
  afterEach(async () => {
    fake.assertClean();
    await fake.close();
  });

  /** A task in pr-open whose branch changes `files`, with its PR open on the fake. */
  async function openTaskPr(title: string, files: string[], recorded?: string[]): Promise<Task> {
    const issue = fake.seedIssue({ title, labels: ["documentation"] }).number;
    const { result: id } = await store.update("seed", (draft) => {
      const now = new Date().toISOString();
      return addTask(draft, newTask(issue, { title }), "running", { actor: "test", reason: "seeded", now })
        .id;
    });
    const branch = `auto/docs/${id}`;
    for (const file of files) await fake.commitFile(branch, file, `${title}: ${file}\n`, `edit ${file}`);
    const { data } = await gh.octokit.rest.pulls.create({
      owner: fake.owner,
      repo: fake.repo,
      head: branch,
      base: "main",
      title,
      body: `Fixes #${issue}`,
    });
    const { ledger } = await store.update("pr", (draft) => {
      const task = draft.tasks.find((t) => t.id === id)!;
      task.state = "pr-open";
      task.branch = branch;
      task.pr = { number: data.number, url: data.html_url };
      if (recorded)
        task.attempts.push({ number: 1, runId: "1/1", startedAt: new Date().toISOString(), files: recorded });
    });
    return ledger.tasks.find((t) => t.id === id)!;
  }

  it("labels and comments on both PRs naming the shared file and the other PR", async () => {
    const first = await openTaskPr("Edit the shared page", ["docs/shared.md", "docs/first.md"]);
    const unrelated = await openTaskPr("Touch the library", ["src/lib.ts"], ["src/lib.ts"]);
    const second = await openTaskPr("Rework the shared page", ["docs/shared.md", "docs/second.md"]);
    fake.resetCalls();

    const overlaps = await checkContention({ gh, store }, second, second.pr!.number);
    expect(overlaps).toEqual([
      { taskId: first.id, issue: first.issue, pr: first.pr!.number, files: ["docs/shared.md"] },
    ]);
    for (const pr of [first.pr!.number, second.pr!.number])
      expect(fake.labelsOf(pr)).toContain("aegis:contention");
    expect(fake.labelsOf(unrelated.pr!.number)).not.toContain("aegis:contention");

    const onNew = fake.comments(second.pr!.number);
    expect(onNew).toHaveLength(1);
    expect(onNew[0]!.body).toContain(`#${first.pr!.number}`);
    expect(onNew[0]!.body).toContain("`docs/shared.md`");
    expect(onNew[0]!.body).not.toContain("docs/second.md");
    const onOld = fake.comments(first.pr!.number);
    expect(onOld).toHaveLength(1);
    expect(onOld[0]!.body).toContain(`#${second.pr!.number}`);
    expect(onOld[0]!.body).toContain("`docs/shared.md`");
    // The unrelated PR's recorded files saved its list-files call: only the new and the first PR's.
    expect(fake.callsTo("pulls/list-files").map((c) => c.path)).toEqual([
      expect.stringContaining(`/pulls/${second.pr!.number}/files`),
      expect.stringContaining(`/pulls/${first.pr!.number}/files`),
    ]);

    // Called again (a retried run for the same PR): the comments are edited, not repeated.
    await checkContention({ gh, store }, second, second.pr!.number);
    expect(fake.comments(second.pr!.number)).toHaveLength(1);
    expect(fake.comments(first.pr!.number)).toHaveLength(1);
  });

  it("does nothing, in one call, when no other aegis PR is open", async () => {
    const only = await openTaskPr("Alone", ["docs/shared.md"]);
    fake.resetCalls();
    expect(await checkContention({ gh, store }, only, only.pr!.number)).toEqual([]);
    expect(fake.calls.map((c) => c.operationId)).toEqual(["repos/get-content"]);
    expect(fake.labelsOf(only.pr!.number)).not.toContain("aegis:contention");
  });
});
