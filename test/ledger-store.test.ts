import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitHub } from "../src/adapters/github.js";
import { LedgerStore } from "../src/adapters/ledger-store.js";
import { emptyLedger, LedgerError, parseLedger, serializeLedger } from "../src/core/ledger.js";
import { addTask, openTaskForIssue } from "../src/core/lifecycle.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { newTask } from "./harness/tasks.js";

const run = promisify(execFile);
let fake: FakeGitHub;
const now = () => new Date().toISOString();
const storeFor = (f: FakeGitHub, extra: Partial<ConstructorParameters<typeof LedgerStore>[0]> = {}) => {
  const gh = new GitHub({ token: f.token, apiUrl: f.url, owner: f.owner, repo: f.repo });
  return { gh, store: new LedgerStore({ gh, branch: "aegis-state", now, baseDelayMs: 20, ...extra }) };
};
const addIssue = (issue: number) => (draft: ReturnType<typeof emptyLedger>) => {
  if (openTaskForIssue(draft, issue)) return "exists";
  addTask(draft, newTask(issue, { requestedBy: "t" }), "queued", { actor: "t", reason: "test", now: now() });
  return "added";
};

/** `count` processes at once, each adding the task of issue 100 + i through the real LedgerStore. */
const spawnWriters = (count: number) =>
  Promise.all(
    Array.from({ length: count }, (_, i) =>
      run(
        process.execPath,
        [
          "--import",
          "tsx",
          "test/harness/ledger-writer.ts",
          fake.url,
          fake.token,
          fake.owner,
          fake.repo,
          String(100 + i),
        ],
        { timeout: 120_000 },
      ),
    ),
  );

beforeAll(async () => {
  fake = await startFakeGitHub();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  fake.clearFaults();
  if (await fake.branchSha("aegis-state")) await fake.git(["update-ref", "-d", "refs/heads/aegis-state"]);
});

describe("ledger store on the fake GitHub", () => {
  it("creates the state branch as an orphan on first write, then reads it back", async () => {
    const { store, gh } = storeFor(fake);
    const first = await store.read();
    expect(first).toMatchObject({ sha: undefined, branchExists: false });
    const result = await store.update("add #1", addIssue(1));
    expect(result.written).toBe(true);
    const text = await fake.readFile("aegis-state", "state.json");
    expect(parseLedger(text!, "x").tasks.map((t) => t.id)).toEqual(["1-1"]);
    // Orphan: the state branch shares no history with main.
    const log = await fake.git(["log", "--format=%s", "aegis-state"]);
    expect(log.trim().split("\n")).toHaveLength(1);
    expect(await fake.git(["ls-tree", "--name-only", "aegis-state"])).toBe("state.json\n");
    // An unchanged mutation writes nothing.
    const calls = gh.calls;
    const again = await store.update("add #1 again", addIssue(1));
    expect(again).toMatchObject({ written: false, result: "exists" });
    expect(gh.calls - calls).toBe(1);
    fake.assertClean();
  });

  it("20 writers in separate processes at once: every task present, none lost, history intact", async () => {
    const writers = spawnWriters(20);
    const outputs = (await writers).map(
      (r) => JSON.parse(r.stdout.trim().split("\n").pop()!) as { result: string; conflicts: number },
    );
    expect(outputs.every((o) => o.result === "added")).toBe(true);
    const ledger = parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x");
    expect(ledger.tasks.map((t) => t.issue).sort()).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(new Set(ledger.tasks.map((t) => t.id)).size).toBe(20);
    expect(ledger.seq).toBe(20);
    for (const task of ledger.tasks) expect(task.history).toHaveLength(1);
    // Every successful write is one commit on the branch.
    const commits = (await fake.git(["rev-list", "--count", "aegis-state"])).trim();
    expect(Number(commits)).toBe(20);
    console.log(
      `concurrency: ${outputs.reduce((n, o) => n + o.conflicts, 0)} compare-and-swap retries across 20 writers`,
    );
    fake.assertClean();
  }, 180_000);

  it.each([
    ["an unknown version", JSON.stringify({ version: 99, tasks: [] }), "has version 99"],
    ["invalid JSON", "{ this is not json", "is not valid JSON"],
    [
      "a schema violation",
      JSON.stringify({ ...emptyLedger(now()), tasks: [{ id: 1 }] }),
      "failed validation",
    ],
  ])("a ledger with %s stops with a clear error and is never overwritten", async (_name, text, message) => {
    await fake.commitFile("aegis-state", "state.json", text);
    const before = await fake.branchSha("aegis-state");
    const { store } = storeFor(fake);
    await expect(store.update("add #1", addIssue(1))).rejects.toThrow(LedgerError);
    await expect(store.read()).rejects.toThrow(message);
    expect(await fake.branchSha("aegis-state")).toBe(before);
    expect(await fake.readFile("aegis-state", "state.json")).toBe(text);
  });

  it("completes through 502s and secondary rate limits, and never applies a write twice", async () => {
    const { store } = storeFor(fake);
    await store.update("seed", addIssue(1));
    // The write happens but the client sees a 502: the retry must not add the task twice.
    fake.inject({ method: "PUT", route: "/contents/{path}", status: 502, when: "after", times: 1 });
    fake.inject({ method: "GET", route: "/contents/{path}", status: 502, when: "before", times: 1 });
    fake.inject({
      method: "PUT",
      route: "/contents/{path}",
      status: 403,
      when: "before",
      times: 1,
      headers: { "retry-after": "1" },
      body: {
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      },
    });
    const result = await store.update("add #2", addIssue(2));
    expect(["added", "exists"]).toContain(result.result);
    const ledger = parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x");
    expect(ledger.tasks.map((t) => t.issue)).toEqual([1, 2]);
    expect(ledger.seq).toBe(2);
  }, 60_000);

  it("reads a ledger past the contents API's 1 MB inline limit in one call, and writes it back", async () => {
    const big = emptyLedger(now());
    for (let i = 1; i <= 3000; i++) addIssue(i)(big);
    const text = serializeLedger(big);
    expect(text.length).toBeGreaterThan(1_000_000);
    await fake.commitFile("aegis-state", "state.json", text);
    const { store } = storeFor(fake);
    fake.resetCalls();
    const snapshot = await store.read();
    expect(snapshot.ledger.tasks).toHaveLength(3000);
    expect(fake.calls.map((c) => c.method)).toEqual(["GET"]);
    // The blob sha computed from the bytes is the one GitHub checks the write against.
    const result = await store.update("add #3001", addIssue(3001), snapshot);
    expect(result).toMatchObject({ written: true, conflicts: 0 });
  });
});

describe("the archive of finished tasks", () => {
  const DAY = 86_400_000;
  const at = (ms: number) => new Date(ms).toISOString();
  /** A ledger whose first `finished` tasks were merged `daysAgo` days ago (in October). */
  const seed = async (finished: number, daysAgo: number, open = 2) => {
    const ledger = emptyLedger(now());
    for (let i = 1; i <= finished + open; i++) addIssue(i)(ledger);
    const ended = at(Date.parse("2026-10-20T12:00:00Z"));
    for (const task of ledger.tasks.slice(0, finished))
      Object.assign(task, { state: "done", updatedAt: ended, costUsd: 0.25 });
    await fake.commitFile("aegis-state", "state.json", serializeLedger(ledger));
    return { clock: () => at(Date.parse(ended) + daysAgo * DAY) };
  };
  const archiveIds = async (month: string) =>
    ((await fake.readFile("aegis-state", `archive/${month}.jsonl`)) ?? "")
      .split("\n")
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { id: string }).id);

  it("moves a full batch to archive/<month>.jsonl with every record whole, and keeps the daily counts", async () => {
    const { clock } = await seed(30, 9);
    const { store } = storeFor(fake, { now: clock });
    const result = await store.update("add #100", addIssue(100));
    expect(result.written).toBe(true);
    const state = parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x");
    expect(state.tasks.map((t) => t.issue)).toEqual([31, 32, 100]);
    expect(state.rollups["2026-10-20"]).toMatchObject({ done: 30, costUsd: 7.5 });
    expect(await archiveIds("2026-10")).toHaveLength(30);
    const record = JSON.parse((await fake.readFile("aegis-state", "archive/2026-10.jsonl"))!.split("\n")[0]!);
    expect(record).toMatchObject({ id: "1-1", issue: 1, state: "done", history: [{ to: "queued" }] });
  });

  it("8 writers at once while a batch is due: each task archived once, counted once, none lost", async () => {
    // The writers use the real clock: these tasks ended 20 days before it.
    const ledger = emptyLedger(now());
    for (let i = 1; i <= 30; i++) addIssue(i)(ledger);
    const ended = at(Date.now() - 20 * DAY);
    for (const task of ledger.tasks) Object.assign(task, { state: "done", updatedAt: ended, costUsd: 0.1 });
    await fake.commitFile("aegis-state", "state.json", serializeLedger(ledger));
    await spawnWriters(8);
    const state = parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x");
    expect(state.tasks.map((t) => t.issue).sort()).toEqual(Array.from({ length: 8 }, (_, i) => 100 + i));
    expect(state.rollups[ended.slice(0, 10)]).toMatchObject({ done: 30, costUsd: 3 });
    const ids = await archiveIds(ended.slice(0, 7));
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
  }, 180_000);

  it("waits while the batch is small and young", async () => {
    const { clock } = await seed(10, 9);
    const { store } = storeFor(fake, { now: clock });
    await store.update("add #100", addIssue(100));
    expect(await fake.readFile("aegis-state", "archive/2026-10.jsonl")).toBeNull();
    expect(parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x").tasks).toHaveLength(13);
  });

  it("a write that conflicts after archiving starts over and archives no task twice", async () => {
    const { clock } = await seed(30, 9);
    const { store } = storeFor(fake, { now: clock });
    // The archive goes in, then the ledger write loses its compare-and-swap once.
    fake.inject({
      method: "PUT",
      route: "/contents/{path}",
      status: 409,
      when: "before",
      times: 1,
      path: /state\.json$/,
    });
    const result = await store.update("add #100", addIssue(100));
    expect(result).toMatchObject({ written: true, conflicts: 1 });
    expect(await archiveIds("2026-10")).toEqual(Array.from({ length: 30 }, (_, i) => `${i + 1}-${i + 1}`));
    expect(parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x").tasks).toHaveLength(3);
  });

  it("an archive file it cannot read is left alone, and the tasks stay live", async () => {
    const { clock } = await seed(30, 20);
    await fake.commitFile("aegis-state", "archive/2026-10.jsonl", "a note somebody wrote\n");
    const { store } = storeFor(fake, { now: clock });
    const result = await store.update("add #100", addIssue(100));
    expect(result.written).toBe(true);
    expect(await fake.readFile("aegis-state", "archive/2026-10.jsonl")).toBe("a note somebody wrote\n");
    expect(parseLedger((await fake.readFile("aegis-state", "state.json"))!, "x").tasks).toHaveLength(33);
  });
});
