// Review mode end to end: the real codex CLI against the fake OpenAI server, the fake GitHub with
// its real git repository, a workspace cloned like actions/checkout (persist-credentials: false).
//
// Two drivers run the same scenarios: in-process (the orchestrator called with a ModeContext built
// against the fake) and the bundle run like the Actions runner runs it. The bundle driver runs when
// dist/index.js (or AEGIS_REVIEW_ENTRY, a private build) dispatches mode review.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitHub } from "../src/adapters/github.js";
import { LedgerStore } from "../src/adapters/ledger-store.js";
import { authHeader } from "../src/adapters/git.js";
import { fetchRefspecs } from "../src/adapters/pr-checkout.js";
import { toolDir } from "../src/adapters/tool-install.js";
import { parseConfig } from "../src/config.js";
import { REVIEW_MARKER } from "../src/core/findings.js";
import { NEEDS_FIX_LABEL, REVIEW_FAILED_LABEL, REVIEWED_LABEL } from "../src/core/labels.js";
import { addTask } from "../src/core/lifecycle.js";
import { assess, reviewLabelChanges, taskSkipReason } from "../src/core/review-plan.js";
import { STATUS_MARKER } from "../src/core/status.js";
import { CODEX_PACKAGE, review } from "../src/modes/review.js";
import { makeSettings, readInputs, type RunContext } from "../src/settings.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import {
  codexBin,
  lastUserPrompt,
  requestText,
  startFakeOpenAI,
  structuredReviewAnswer,
  type FakeOpenAI,
  type Script,
} from "./harness/fake-openai.js";
import {
  checkout,
  DEFAULT_ENTRY,
  parseCommandFile,
  runAction,
  workflowDispatchEvent,
} from "./harness/runner.js";
import { ledgerOf } from "./harness/scenario.js";

const API_KEY = "sk-aegis-review-test-0123456789";
const MODEL = "gpt-review-test";
const BRANCH = "auto/bugfix/1-1";
const BASE_FILE = "def load(path):\n    return open(path).read()\n";
const HEAD_FILE = `${BASE_FILE}\ndef run(expr):\n    return eval(expr)\n`;

const ENTRY = process.env.AEGIS_REVIEW_ENTRY ?? DEFAULT_ENTRY;
// The orchestrator's CODEX_HOME folder name only appears in a bundle that includes mode review.
const bundleHasReview = existsSync(ENTRY) && readFileSync(ENTRY, "utf8").includes("aegis-codex-home");

interface Outcome {
  outputs: Record<string, string>;
  summary: string;
  exitCode: number;
  log: string;
  workspace: string;
}

type Driver = (f: FakeGitHub, inputs: Record<string, string>) => Promise<Outcome>;

let tmp: string;
let openai: FakeOpenAI | undefined;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "aegis-review-test-"));
  // The in-process review builds its room here: a test user the suite's teardown removes.
  process.env.AEGIS_ROOM_USER = "aegt-review-inproc";
  // @actions/core caches the summary path on first use: one file for the whole in-process run.
  process.env.GITHUB_STEP_SUMMARY = path.join(tmp, "summary.md");
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
afterEach(async () => {
  await openai?.close();
  openai = undefined;
});

const inProcess = async (
  f: FakeGitHub,
  inputs: Record<string, string>,
  prepare?: (context: RunContext) => Promise<void>,
): Promise<Outcome> => {
  const root = await mkdtemp(path.join(tmp, "run-"));
  const workspace = await checkout(f, path.join(root, "workspace"));
  const output = path.join(root, "output");
  await writeFile(output, "");
  await writeFile(process.env.GITHUB_STEP_SUMMARY!, "");
  process.env.GITHUB_OUTPUT = output;
  const defaults: Record<string, string> = {
    "state-branch": "aegis-state",
    "config-path": ".github/aegis.yml",
    "claude-version": "2.1.330",
    "codex-version": "0.169.0",
  };
  const all: Record<string, string> = { ...defaults, mode: "review", "github-token": f.token, ...inputs };
  const context: RunContext = {
    owner: f.owner,
    repo: f.repo,
    eventName: "workflow_dispatch",
    payload: {},
    runId: "4242",
    runAttempt: 1,
    workspace,
    apiUrl: f.url,
    serverUrl: f.url,
    runnerTemp: path.join(root, "temp"),
    toolCache: path.join(root, "tools"),
    actionPath: path.resolve("."),
  };
  await mkdir(context.runnerTemp, { recursive: true });
  await prepare?.(context);
  const settings = makeSettings(
    readInputs((n) => all[n] ?? ""),
    context,
    parseConfig(undefined),
  );
  const gh = new GitHub({ token: f.token, apiUrl: f.url, owner: f.owner, repo: f.repo });
  const now = () => new Date().toISOString();
  await review({ settings, gh, store: new LedgerStore({ gh, branch: "aegis-state", now }), now });
  return {
    outputs: parseCommandFile(await readFile(output, "utf8")),
    summary: await readFile(process.env.GITHUB_STEP_SUMMARY!, "utf8"),
    exitCode: 0,
    log: "",
    workspace,
  };
};

const viaBundle: Driver = async (f, inputs) => {
  const run = await runAction({
    mode: "review",
    inputs,
    event: workflowDispatchEvent(f),
    fake: f,
    entry: ENTRY,
    timeoutMs: 90_000,
  });
  return {
    outputs: run.outputs,
    summary: run.summary,
    exitCode: run.exitCode ?? -1,
    log: run.stdout + run.stderr,
    workspace: run.workspace,
  };
};

/** Seeds: base file on main, a feature branch with one commit, the issue, its PR, and a pr-open task. */
async function seedPrTask(f: FakeGitHub, opts: { withPr?: boolean } = {}) {
  await f.commitFile("main", "src/app.py", BASE_FILE, "base");
  await f.commitFile(BRANCH, "src/app.py", HEAD_FILE, "add run()");
  const issue = f.seedIssue({ title: "Add a run helper", labels: ["aegis", "bug", "aegis:pr-open"] }).number;
  const gh = new GitHub({ token: f.token, apiUrl: f.url, owner: f.owner, repo: f.repo });
  const statusCommentId = await gh.createComment(issue, `${STATUS_MARKER}\nstatus`);
  let pr: { number: number; url: string } | undefined;
  if (opts.withPr !== false) {
    const { data } = await gh.octokit.rest.pulls.create({
      owner: f.owner,
      repo: f.repo,
      head: BRANCH,
      base: "main",
      title: "Add a run helper",
      body: `Fixes #${issue}`,
    });
    pr = { number: data.number, url: data.html_url };
  }
  const now = new Date().toISOString();
  const store = new LedgerStore({ gh, branch: "aegis-state", now: () => now });
  const { result: taskId } = await store.update("seed", (draft) => {
    const task = addTask(
      draft,
      {
        issue,
        title: "Add a run helper",
        category: "bugfix",
        authority: "proposed",
        priority: 2,
        requestedBy: "maya",
        needsApproval: false,
        dependsOn: [],
        predictedFiles: [],
      },
      pr ? "pr-open" : "running",
      { actor: "test", reason: "seeded", now },
    );
    task.statusCommentId = statusCommentId;
    task.branch = BRANCH;
    if (pr) task.pr = pr;
    return task.id;
  });
  f.resetCalls();
  return { issue, pr, taskId };
}

async function withCodex(script: Script) {
  openai = await startFakeOpenAI(script);
  return {
    "codex-executable": codexBin(),
    "openai-base-url": openai.url,
    "openai-api-key": API_KEY,
    "review-model": MODEL,
  };
}

const reviewComments = (f: FakeGitHub, pr: number) =>
  f.comments(pr).filter((c) => c.body.includes(REVIEW_MARKER));
// Relative paths: the workspace is only known inside the run (a real model answers with absolute ones).
const answer = (list: { title: string; priority: 0 | 1 | 2 | 3; line: number }[]) =>
  structuredReviewAnswer(list.map((x) => ({ ...x, file: "src/app.py" })));
const apiCalls = (f: FakeGitHub) => f.calls.filter((c) => !c.route.toUpperCase().startsWith("GIT "));

const drivers: [string, Driver, boolean][] = [
  ["in-process", inProcess, true],
  ["bundle", viaBundle, bundleHasReview],
];

for (const [name, drive, enabled] of drivers) {
  describe.runIf(enabled)(`review (${name})`, () => {
    let fake: FakeGitHub;
    beforeEach(async () => {
      fake = await startFakeGitHub({ users: { maya: "maintain" } });
    });
    afterEach(async () => {
      expect(fake.validationErrors).toEqual([]);
      fake.assertClean();
      await fake.close();
    });

    it("a CRITICAL finding labels needs-fix, posts one comment and moves the task to reviewed", async () => {
      const { issue, pr, taskId } = await seedPrTask(fake);
      const inputs = await withCodex([
        { text: answer([{ title: "Do not eval caller input", priority: 1, line: 5 }]) },
      ]);
      const out = await drive(fake, { ...inputs, task: taskId });
      expect(out.exitCode, out.log).toBe(0);
      expect(out.outputs).toMatchObject({
        "review-verdict": "critical",
        "pr-number": String(pr!.number),
        "pr-url": pr!.url,
        "task-status": "reviewed",
      });

      const comments = reviewComments(fake, pr!.number);
      expect(comments).toHaveLength(1);
      expect(comments[0]!.body).toContain("#### CRITICAL");
      expect(comments[0]!.body).toContain("Do not eval caller input");
      expect(comments[0]!.body).toContain("`src/app.py:5`");
      expect(fake.labelsOf(pr!.number)).toContain(NEEDS_FIX_LABEL);
      expect(fake.labelsOf(pr!.number)).not.toContain(REVIEWED_LABEL);

      const task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      expect(task.state).toBe("reviewed");
      expect(task.history.at(-1)).toMatchObject({
        from: "pr-open",
        to: "reviewed",
        reason: expect.stringContaining("critical"),
      });
      expect(task.review).toMatchObject({
        verdict: "critical",
        critical: 1,
        findings: 1,
        commentId: comments[0]!.id,
        model: MODEL,
      });
      expect(task.review!.headSha).toBe(await fake.branchSha(BRANCH));
      // The issue mirrors the task: state label swapped, status comment edited (not duplicated).
      expect(fake.labelsOf(issue)).toContain("aegis:reviewed");
      expect(fake.labelsOf(issue)).not.toContain("aegis:pr-open");
      expect(fake.comments(issue).filter((c) => c.body.includes(STATUS_MARKER))).toHaveLength(1);

      // Codex saw the PR's diff, our model and key; no GitHub token went anywhere near it.
      expect(lastUserPrompt(openai!.requests[0]!)).toContain("+    return eval(expr)");
      expect(openai!.requests[0]!.model).toBe(MODEL);
      expect(openai!.headers[0]!.authorization).toBe(`Bearer ${API_KEY}`);
      for (const req of openai!.requests) expect(requestText(req)).not.toContain(fake.token);
      // The token was passed for the fetch only: nothing of it was written into the checkout.
      const gitConfig = await readFile(path.join(out.workspace, ".git/config"), "utf8");
      expect(gitConfig).not.toContain(fake.token);
      expect(gitConfig).not.toMatch(/extraheader/i);
      expect(fake.callsTo("GIT git-upload-pack").length).toBeGreaterThan(0);

      expect(out.summary).toContain(`[#${pr!.number}](${pr!.url})`);
      expect(out.summary).toContain("`critical`");
      expect(out.summary).toMatch(/\| CRITICAL \| \[P1\] Do not eval caller input \| `src\/app\.py:5` \|/);
      expect(out.summary).toMatch(/Codex \d+\.\d s/);
      expect(out.summary).toContain("100 input (0 cached) / 20 output tokens");

      const calls = apiCalls(fake).map((c) => `${c.method} ${c.route} ${c.status}`);
      console.log(`[${name}] first review: ${calls.length} API calls\n  ${calls.join("\n  ")}`);
      expect(calls.length).toBeLessThanOrEqual(9);
    });

    it("only NON-CRITICAL findings label codex-reviewed; a second review edits the same comment", async () => {
      const { pr, taskId } = await seedPrTask(fake);
      let inputs = await withCodex([
        { text: answer([{ title: "Do not eval caller input", priority: 0, line: 5 }]) },
      ]);
      expect((await drive(fake, { ...inputs, task: taskId })).outputs["review-verdict"]).toBe("critical");
      // The fake edits its comment record in place: keep copies.
      const first = { ...reviewComments(fake, pr!.number)[0]! };
      await openai!.close();

      inputs = await withCodex([
        { text: answer([{ title: "Add a docstring to run", priority: 3, line: 4 }]) },
      ]);
      fake.resetCalls();
      const out = await drive(fake, { ...inputs, task: taskId });
      expect(out.outputs).toMatchObject({ "review-verdict": "clean", "task-status": "reviewed" });
      const comments = reviewComments(fake, pr!.number);
      expect(comments).toHaveLength(1);
      expect(comments[0]!.id).toBe(first.id);
      expect(comments[0]!.body).not.toBe(first.body);
      expect(comments[0]!.body).toContain("#### NON-CRITICAL");
      expect(comments[0]!.body).toContain("Add a docstring to run");
      expect(comments[0]!.body).not.toContain("Do not eval");
      expect(fake.labelsOf(pr!.number)).toContain(REVIEWED_LABEL);
      expect(fake.labelsOf(pr!.number)).not.toContain(NEEDS_FIX_LABEL);
      // The stored comment id spared the search: no comment list on the re-review.
      expect(fake.callsTo("GET /repos/{owner}/{repo}/issues/{issue_number}/comments")).toHaveLength(0);
      const task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      expect(task.history.slice(-2).map((h) => `${h.from}->${h.to}`)).toEqual([
        "pr-open->reviewed",
        "reviewed->reviewed",
      ]);
      expect(task.review).toMatchObject({ verdict: "clean", critical: 0, findings: 1, commentId: first.id });
      const calls = apiCalls(fake).map((c) => `${c.method} ${c.route} ${c.status}`);
      console.log(`[${name}] re-review: ${calls.length} API calls\n  ${calls.join("\n  ")}`);
      expect(calls.length).toBeLessThanOrEqual(7);
    });

    it("an API error is reported on the PR, labelled codex-review-failed, and the step stays green", async () => {
      const { pr, taskId } = await seedPrTask(fake);
      const inputs = await withCodex([{ error: { status: 500, message: "upstream exploded" } }]);
      const out = await drive(fake, { ...inputs, task: taskId });
      expect(out.exitCode, out.log).toBe(0);
      expect(out.outputs).toMatchObject({
        "review-verdict": "error",
        "task-status": "pr-open",
        "pr-number": String(pr!.number),
      });
      const comments = reviewComments(fake, pr!.number);
      expect(comments).toHaveLength(1);
      expect(comments[0]!.body).toContain("could not complete");
      const task0 = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      // Codex words a 500 in its own way; the comment carries what it said.
      expect(comments[0]!.body).toContain(`The review failed: ${String(task0.review!.error)}`);
      expect(fake.labelsOf(pr!.number)).toEqual([REVIEW_FAILED_LABEL]);
      const task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      // Not reviewed: the PR still waits for a review; the failure is recorded.
      expect(task.state).toBe("pr-open");
      expect(task.review).toMatchObject({
        verdict: "error",
        critical: 0,
        findings: 0,
        error: expect.any(String),
      });
      expect(out.summary).toContain("could not complete");

      // The next review that succeeds takes the failure label off and edits the same comment.
      await openai!.close();
      const retry = await withCodex([{ text: answer([]) }]);
      const again = await drive(fake, { ...retry, task: taskId });
      expect(again.outputs["review-verdict"]).toBe("clean");
      expect(fake.labelsOf(pr!.number)).toEqual([REVIEWED_LABEL]);
      expect(reviewComments(fake, pr!.number).map((c) => c.id)).toEqual([comments[0]!.id]);
      expect(reviewComments(fake, pr!.number)[0]!.body).toContain("no findings");
    });

    it("a task without a PR is skipped without calling Codex", async () => {
      const { taskId } = await seedPrTask(fake, { withPr: false });
      const inputs = await withCodex([{ text: answer([]) }]);
      const out = await drive(fake, { ...inputs, task: taskId });
      expect(out.exitCode, out.log).toBe(0);
      expect(out.outputs).toMatchObject({
        "review-verdict": "skipped",
        "pr-number": "",
        "task-status": "running",
      });
      expect(out.summary).toContain("has no pull request");
      expect(openai!.requests).toHaveLength(0);
      expect(apiCalls(fake)).toHaveLength(1); // the ledger read
    });
  });
}

describe("review in-process: other answers and edge cases", () => {
  let fake: FakeGitHub;
  beforeAll(async () => {
    fake = await startFakeGitHub();
  });
  afterAll(async () => {
    expect(fake.validationErrors).toEqual([]);
    fake.assertClean();
    await fake.close();
  });
  // One fake for the group; each case gets its own PR by closing the previous one first.
  let seeded: Awaited<ReturnType<typeof seedPrTask>> | undefined;
  beforeEach(async () => {
    if (seeded?.pr) {
      await new GitHub({
        token: fake.token,
        apiUrl: fake.url,
        owner: fake.owner,
        repo: fake.repo,
      }).octokit.rest.pulls.update({
        owner: fake.owner,
        repo: fake.repo,
        pull_number: seeded.pr.number,
        state: "closed",
      });
    }
    seeded = await seedPrTask(fake);
  });

  it("plain prose is not read as findings: verdict error, the answer quoted, nothing invented", async () => {
    const prose = "I looked at the change; the eval might be a concern depending on callers.";
    const inputs = await withCodex([{ text: prose }]);
    const out = await inProcess(fake, { ...inputs, task: seeded!.taskId });
    expect(out.outputs["review-verdict"]).toBe("error");
    const body = reviewComments(fake, seeded!.pr!.number)[0]!.body;
    expect(body).toContain(prose);
    expect(body).not.toContain("#### CRITICAL");
    expect(fake.labelsOf(seeded!.pr!.number)).toEqual([REVIEW_FAILED_LABEL]);
  });

  it("markdown with CRITICAL and NON-CRITICAL sections is classified by section", async () => {
    const text =
      "## CRITICAL\n- Code injection: `eval(expr)` runs caller input (src/app.py:5)\n\n## NON-CRITICAL\n- Missing docstring: run() has none\n";
    const inputs = await withCodex([{ text }]);
    const out = await inProcess(fake, { ...inputs, task: seeded!.taskId });
    expect(out.outputs["review-verdict"]).toBe("critical");
    expect(fake.labelsOf(seeded!.pr!.number)).toEqual([NEEDS_FIX_LABEL]);
    expect(out.summary).toMatch(/\| CRITICAL \| Code injection \| `src\/app\.py:5` \|/);
    expect(out.summary).toMatch(/\| non-critical \| Missing docstring \|/);
  });

  it("a plain 'no issues found' is clean", async () => {
    const inputs = await withCodex([{ text: "Looks good to me: no issues found." }]);
    const out = await inProcess(fake, { ...inputs, task: seeded!.taskId });
    expect(out.outputs["review-verdict"]).toBe("clean");
    expect(fake.labelsOf(seeded!.pr!.number)).toEqual([REVIEWED_LABEL]);
  });

  it("a closed PR is skipped", async () => {
    const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
    await gh.octokit.rest.pulls.update({
      owner: fake.owner,
      repo: fake.repo,
      pull_number: seeded!.pr!.number,
      state: "closed",
    });
    const inputs = await withCodex([{ text: answer([]) }]);
    const out = await inProcess(fake, { ...inputs, task: seeded!.taskId });
    expect(out.outputs).toMatchObject({ "review-verdict": "skipped", "task-status": "pr-open" });
    expect(out.summary).toContain("is closed");
    expect(openai!.requests).toHaveLength(0);
    seeded = { ...seeded!, pr: undefined };
  });

  it("a codex binary that cannot start is a reported error, not a failed step", async () => {
    const inputs = await withCodex([{ text: answer([]) }]);
    const out = await inProcess(fake, {
      ...inputs,
      "codex-executable": path.join(tmp, "no-such-codex"),
      task: seeded!.taskId,
    });
    expect(out.outputs["review-verdict"]).toBe("error");
    expect(reviewComments(fake, seeded!.pr!.number)[0]!.body).toContain("could not start codex");
  });

  it("without codex-executable, the pinned CLI is found in the runner's tool cache", async () => {
    const inputs = await withCodex([
      { text: answer([{ title: "Add a docstring to run", priority: 2, line: 4 }]) },
    ]);
    const { "codex-executable": bin, ...rest } = inputs;
    const out = await inProcess(fake, { ...rest, task: seeded!.taskId }, async (context) => {
      // What an earlier job on a self-hosted runner left: the pinned package under RUNNER_TOOL_CACHE.
      const binDir = path.join(toolDir(context.toolCache, CODEX_PACKAGE, "0.169.0"), "node_modules", ".bin");
      await mkdir(binDir, { recursive: true });
      await symlink(realpathSync(bin), path.join(binDir, "codex"));
    });
    expect(out.outputs["review-verdict"]).toBe("clean");
    expect(openai!.requests).toHaveLength(1);
  });

  it("a corrupt ledger fails the mode (it is not a Codex failure)", async () => {
    await fake.commitFile("aegis-state", "state.json", "{ not json");
    const inputs = await withCodex([{ text: answer([]) }]);
    await expect(inProcess(fake, { ...inputs, task: seeded!.taskId })).rejects.toThrow(/not valid JSON/);
    await fake.git(["update-ref", "-d", "refs/heads/aegis-state"]);
  });
});

describe("review decisions (pure)", () => {
  it("labels: critical swaps in needs-fix, error only adds the failure label", () => {
    expect(reviewLabelChanges(["codex-reviewed", "codex-review-failed", "bug"], "critical")).toEqual({
      add: [NEEDS_FIX_LABEL],
      remove: [REVIEWED_LABEL, REVIEW_FAILED_LABEL],
    });
    expect(reviewLabelChanges(["needs-fix"], "clean")).toEqual({
      add: [REVIEWED_LABEL],
      remove: [NEEDS_FIX_LABEL],
    });
    expect(reviewLabelChanges(["codex-reviewed"], "clean")).toEqual({ add: [], remove: [] });
    expect(reviewLabelChanges(["needs-fix"], "error")).toEqual({ add: [REVIEW_FAILED_LABEL], remove: [] });
  });

  it("assess: a failed run, an empty answer and prose are errors; findings are counted", () => {
    expect(assess({ ok: false, error: "timed out", lastMessage: "", agentMessages: [] })).toMatchObject({
      verdict: "error",
      error: "timed out",
    });
    expect(assess({ ok: true, lastMessage: "", agentMessages: [] })).toMatchObject({
      verdict: "error",
      error: /without an answer/,
    });
    expect(assess({ ok: true, lastMessage: "Hmm, maybe.", agentMessages: [] })).toMatchObject({
      verdict: "error",
      findings: [],
    });
    const a = assess({
      ok: true,
      lastMessage: answer([
        { title: "x injection", priority: 1, line: 1 },
        { title: "nit", priority: 3, line: 2 },
      ]),
      agentMessages: [],
    });
    expect(a).toMatchObject({ verdict: "critical", critical: 1 });
    expect(a.findings).toHaveLength(2);
  });

  it("skip reasons name the task and its state", () => {
    expect(taskSkipReason(undefined, "9-9")).toMatch(/no task 9-9/);
  });

  it("the fetch header is the one actions/checkout sends; refspecs map to origin", () => {
    expect(authHeader("abc")).toBe(
      `AUTHORIZATION: basic ${Buffer.from("x-access-token:abc").toString("base64")}`,
    );
    expect(fetchRefspecs("f", "main")).toEqual([
      "+refs/heads/f:refs/remotes/origin/f",
      "+refs/heads/main:refs/remotes/origin/main",
    ]);
  });
});
