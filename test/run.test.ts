// Run mode end to end: the real bundle, run like the Actions runner runs it, with the real
// `claude` CLI (and the real hooks) against the scripted fake Anthropic API, pushing over real
// git smart-HTTP into the fake GitHub.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  claudeBin,
  startFakeAnthropic,
  type FakeAnthropic,
  type Script,
  type Turn,
} from "./harness/fake-anthropic.js";
import { startFakeCache } from "./harness/fake-cache.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { DEFAULT_ENTRY, type ActionRun, runAction, workflowDispatchEvent } from "./harness/runner.js";
import { expectSuccess, ledgerOf, mutateLedger, openIssue, planOnLabel } from "./harness/scenario.js";

const exec = promisify(execFile);
/** startFakeGitHub's default token: the value the action holds as `github-token`. */
const FAKE_TOKEN = "ghs_fakeToken0123456789";
const API_KEY = "sk-ant-api03-testKeyForTheFakeServer0123456789";
/** The committed bundle (`node scripts/build.mjs action`); another entry can be named for debugging. */
const ENTRY = process.env.AEGIS_RUN_ENTRY ?? DEFAULT_ENTRY;

let fake: FakeGitHub | undefined;
let model: FakeAnthropic | undefined;
const runs: ActionRun[] = [];

afterEach(async () => {
  fake?.assertClean();
  await fake?.close();
  await model?.close();
  for (const r of runs.splice(0)) await r.cleanup();
  fake = undefined;
  model = undefined;
});

beforeAll(async () => {
  if (!existsSync(ENTRY)) throw new Error(`no action entry at ${ENTRY}`);
});

const bash = (command: string): Turn => ({
  toolUses: [{ name: "Bash", input: { command, description: "step" } }],
});
const commitFile = (file: string, text: string, message = "Add a file") =>
  bash(
    `mkdir -p "$(dirname ${file})" && echo '${text}' > ${file} && git add ${file} && git commit -q -m '${message}'`,
  );

/** Writes a script file line by line through printf, so the Bash hook sees data, not code. */
const writeScript = (file: string, lines: string[]) =>
  bash(`printf '%s\\n' ${lines.map((l) => `"${l.replace(/"/g, '\\"')}"`).join(" ")} > ${file}`);

interface Setup {
  script: Script;
  config?: string;
  title?: string;
  body?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Repository files besides the defaults. */
  files?: Record<string, string>;
  /** Runs after plan claimed the task, before run mode. */
  before?: (f: FakeGitHub, taskId: string) => Promise<void>;
}

/** An approved docs issue claimed by plan, then run mode on its task. */
async function runScenario(s: Setup) {
  fake = await startFakeGitHub({
    users: { maya: "maintain" },
    files: { ...DEFAULT_FILES, ...s.files, ...(s.config ? { ".github/aegis.yml": s.config } : {}) },
  });
  model = await startFakeAnthropic(s.script);
  const n = openIssue(fake, {
    title: s.title ?? "Document the install steps",
    body: s.body ?? "The README should explain how to install the tool. Add a docs file for it.",
    labels: ["documentation"],
    by: "maya",
  });
  const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
  const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
  expect(taskId).toMatch(/^\d+-\d+$/);
  await planned.cleanup();
  await s.before?.(fake, taskId);
  fake.resetCalls();
  const run = await runAction({
    mode: "run",
    entry: ENTRY,
    inputs: {
      task: taskId,
      "claude-executable": claudeBin(),
      "anthropic-base-url": model.url,
      "anthropic-api-key": API_KEY,
    },
    event: workflowDispatchEvent(fake),
    fake,
    env: { CLAUDE_CODE_MAX_RETRIES: "0", ...s.env },
    timeoutMs: s.timeoutMs ?? 120_000,
  });
  runs.push(run);
  if (process.env.AEGIS_TEST_LOG)
    console.log(run.stdout, run.stderr, JSON.stringify(model.toolResults(), null, 1));
  const ledger = await ledgerOf(fake);
  const task = ledger.tasks.find((t) => t.id === taskId)!;
  return { n, taskId, run, ledger, task, fake, model };
}

/** A pre-push check refused the work: the task failed, nothing was pushed, no PR. The comment's text. */
async function refusedBeforePush(s: Awaited<ReturnType<typeof runScenario>>): Promise<string> {
  expectSuccess(s.run);
  expect(s.task.state).toBe("failed");
  expect(await s.fake.branchSha(branchOf(s.taskId))).toBeNull();
  expect(s.fake.pulls()).toHaveLength(0);
  const failure = s.fake.comments(s.n).find((c) => c.body.includes("<!-- aegis:run-failure -->"));
  expect(failure).toBeDefined();
  return failure!.body;
}

const apiCalls = (f: FakeGitHub) => f.calls.filter((c) => !c.route.startsWith("GIT"));
const branchOf = (taskId: string) => `auto/docs/${taskId}`;

describe("run mode", () => {
  it("a session that commits and says TASK_COMPLETE opens a PR with Fixes #N and labels", async () => {
    const {
      n,
      taskId,
      run,
      task,
      fake: f,
      ledger,
      model: m,
    } = await runScenario({
      config: "models:\n  docs: claude-docs-model\n  default: claude-default-model\n",
      script: [
        commitFile("docs/install.md", "Run npm install.", "Document the install"),
        { text: "Documented the install steps.\nTASK_COMPLETE" },
      ],
      env: {},
    });
    expectSuccess(run);
    expect(run.outputs["task-status"]).toBe("pr-open");
    expect(task.state).toBe("pr-open");
    const pulls = f.pulls();
    expect(pulls).toHaveLength(1);
    const pr = pulls[0]!;
    expect(pr.body).toContain(`Fixes #${n}`);
    expect(pr.body).toContain("Documented the install steps.");
    expect(pr.body).not.toContain("TASK_COMPLETE");
    expect(f.labelsOf(pr.number)).toEqual(expect.arrayContaining(["aegis", "docs"]));
    expect(run.outputs["pr-number"]).toBe(String(pr.number));
    expect(task.pr?.number).toBe(pr.number);
    expect(await f.readFile(branchOf(taskId), "docs/install.md")).toBe("Run npm install.\n");
    const attempt = task.attempts[0]!;
    expect(attempt).toMatchObject({
      outcome: "complete",
      commits: 1,
      files: ["docs/install.md"],
      resumed: false,
    });
    expect(attempt.endedAt).toBeDefined();
    expect(attempt.turns).toBeGreaterThan(0);
    // Cost-aware routing: the category's model from the config.
    expect(m.requests[0]!.model).toBe("claude-docs-model");
    expect(attempt.model).toBe("claude-docs-model");
    expect(ledger.breaker.consecutiveInfraFailures).toBe(0);
    expect(f.labelsOf(n)).toContain("aegis:pr-open");
    expect(f.labelsOf(n)).not.toContain("aegis:running");
    const status = f.comments(n).find((c) => c.body.includes("<!-- aegis:status -->"))!;
    expect(status.body).toContain(`#${pr.number}`);
    expect(run.summary).toContain("Action overhead");
    expect(Number(run.outputs["cost-usd"])).toBeGreaterThanOrEqual(0);
    // Measurement for the report: the API calls one run costs, by route, and the overhead.
    const byRoute = new Map<string, number>();
    for (const c of apiCalls(f)) byRoute.set(c.route, (byRoute.get(c.route) ?? 0) + 1);
    console.log(
      `run: ${apiCalls(f).length} API calls\n${[...byRoute].map(([r, k]) => `  ${k} × ${r}`).join("\n")}`,
    );
    console.log(`run: wall ${run.durationMs} ms, session ${attempt.durationMs} ms`);
    expect(apiCalls(f).length).toBeLessThanOrEqual(10);
  });

  it("workflow commands in what the agent runs reach the log defused, in both forms", async () => {
    const { run } = await runScenario({
      script: [
        bash(`echo '##[save-state name=aegis-room;]{"sandbox":"none"}'`),
        bash("true # ::set-output name=pr-number::1"),
        commitFile("docs/a.md", "A.", "Add a"),
        { text: "Done.\nTASK_COMPLETE" },
      ],
      env: {},
    });
    expectSuccess(run);
    const lines = `${run.stdout}\n${run.stderr}`.split(/\r\n|\r|\n/);
    // The runner would obey any of these; the guard let only aegis's own through.
    const foreign = lines.filter(
      (l) =>
        l.includes("##[") ||
        /^[\s\u0085]*::(?!(group|endgroup|debug|notice|warning|error|add-mask)[\s:])/i.test(l),
    );
    expect(foreign).toEqual([]);
    expect(run.stdout).toContain("#\u00b7#[save-state name=aegis-room;]");
  });

  it("TASK_BLOCKED puts the task in blocked with the reason on the issue; a second run does nothing", async () => {
    const {
      n,
      taskId,
      run,
      task,
      fake: f,
      model: m,
    } = await runScenario({
      script: [{ text: "I looked around.\nTASK_BLOCKED: the issue does not say which platform" }],
    });
    expectSuccess(run);
    expect(task.state).toBe("blocked");
    expect(f.pulls()).toHaveLength(0);
    expect(f.labelsOf(n)).toContain("aegis:blocked");
    const status = f.comments(n).find((c) => c.body.includes("<!-- aegis:status -->"))!;
    expect(status.body).toContain("the issue does not say which platform");

    // The task is no longer running: a stray second job reports why and changes nothing.
    const again = (id: string) =>
      runAction({
        mode: "run",
        entry: ENTRY,
        inputs: {
          task: id,
          "claude-executable": claudeBin(),
          "anthropic-base-url": m.url,
          "anthropic-api-key": API_KEY,
        },
        event: workflowDispatchEvent(f),
        fake: f,
      });
    const second = expectSuccess(await again(taskId));
    runs.push(second);
    expect(second.outputs["task-status"]).toBe("blocked");
    expect(second.summary).toContain("not running");
    expect(m.requests).toHaveLength(1);
    // An id that is not in the ledger is a wiring error: the step fails and says so.
    const unknown = await again("999-99");
    runs.push(unknown);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.annotations.map((a) => a.message).join("\n")).toContain("not in the ledger");
  });

  it("commits without the marker are an implicit complete: PR opened, counted apart", async () => {
    const {
      run,
      task,
      fake: f,
    } = await runScenario({
      script: [commitFile("notes.md", "notes"), { text: "Wrote notes." }],
    });
    expectSuccess(run);
    expect(task.state).toBe("pr-open");
    expect(task.attempts[0]!.outcome).toBe("implicit-complete");
    expect(f.pulls()).toHaveLength(1);
  });

  it("max turns without commits fails the task and opens no PR", async () => {
    const {
      n,
      run,
      task,
      fake: f,
    } = await runScenario({
      config: "run:\n  maxTurns: 2\n",
      script: () => bash("ls"),
    });
    expectSuccess(run);
    expect(task.attempts[0]!.outcome).toBe("max-turns");
    expect(task.state).toBe("failed");
    expect(f.pulls()).toHaveLength(0);
    const status = f.comments(n).find((c) => c.body.includes("<!-- aegis:status -->"))!;
    expect(status.body).toContain("max turns");
  });

  it("a hanging session is killed at the timeout, leaving no process behind", async () => {
    const marker = `${9000 + Math.floor(Math.random() * 900)}`;
    const {
      n,
      run,
      task,
      fake: f,
      model: m,
    } = await runScenario({
      script: [
        bash(`nohup sleep ${marker} > /dev/null 2>&1 &`),
        // Only the matching lines: a busy machine's full process list overflows the tool result.
        bash(`ps -eo args | grep -F "sleep ${marker}" | grep -v grep`),
        { hangMs: 120_000, text: "late" },
      ],
      env: { AEGIS_SESSION_TIMEOUT_MS: "4000" },
    });
    expectSuccess(run);
    // The background process really ran during the session…
    expect(m.toolResults()[1]?.text).toContain(`sleep ${marker}`);
    expect(task.attempts[0]!.outcome).toBe("timeout");
    expect(task.state).toBe("failed");
    expect(f.pulls()).toHaveLength(0);
    const status = f.comments(n).find((c) => c.body.includes("<!-- aegis:status -->"))!;
    expect(status.body).toContain("timeout");
    // …and is gone after it.
    const ps = await exec("ps", ["-eo", "args"]);
    expect(ps.stdout).not.toContain(`sleep ${marker}`);
  });

  it("a session that writes the GitHub token into a file pushes nothing and the comment names the check", async () => {
    const scenario = await runScenario({
      script: [commitFile("leak.txt", FAKE_TOKEN, "leak"), { text: "done\nTASK_COMPLETE" }],
    });
    const failure = await refusedBeforePush(scenario);
    expect(failure).toContain("known-secret");
    expect(failure).not.toContain(scenario.fake.token);
  });

  it("a workflow file written through Bash (past the file hook) is stopped by the pre-push check", async () => {
    const scenario = await runScenario({
      script: [
        // The Bash gate reads gen.py, but a program that writes files is ordinary work to it; the
        // file hook never sees a path built at run time. The pre-push check is the backstop.
        writeScript("gen.py", [
          "import os",
          "d = '.git' + 'hub/work' + 'flows'",
          "os.makedirs(d, exist_ok=True)",
          "open(d + '/x.yml', 'w').write('on: push')",
        ]),
        bash("python3 gen.py && rm gen.py && git add -A && git commit -q -m x"),
        { text: "done\nTASK_COMPLETE" },
      ],
    });
    expect(scenario.model.toolResults().map((r) => r.isError)).toEqual([false, false]);
    const failure = await refusedBeforePush(scenario);
    expect(failure).toContain("protected-path");
    expect(failure).toContain(".github/workflows/x.yml");
  });

  it("a secret-like file and a token-shaped line are refused before the push; an example env file is not", async () => {
    const scenario = await runScenario({
      script: [
        bash(
          "echo 'DB_PASSWORD=hunter2hunter2' > .env && echo 'DB_PASSWORD=' > .env.example && git add .env .env.example && git commit -q -m env",
        ),
        // Split so no literal token sits in this file; the agent's shell joins the halves.
        bash(
          'mkdir -p docs && a=AKIA && b=IOSFODNN7EXAMPLE && echo "key: $a$b" > docs/aws.md && git add docs && git commit -q -m aws',
        ),
        { text: "done\nTASK_COMPLETE" },
      ],
    });
    expect(scenario.model.toolResults().map((r) => r.isError)).toEqual([false, false]);
    const failure = await refusedBeforePush(scenario);
    expect(failure).toContain("secret-file");
    expect(failure).toMatch(/\.env\b.*environment file/);
    expect(failure).not.toContain(".env.example");
    expect(failure).toContain("token-pattern");
    expect(failure).toContain("AWS access key id");
    expect(failure).not.toContain("hunter2");
  });

  it("a change past the file and byte limits is refused before the push, naming both limits", async () => {
    const failure = await refusedBeforePush(
      await runScenario({
        config: "run:\n  maxChangedFiles: 3\n  maxDiffBytes: 4000\n",
        script: [
          bash(
            "mkdir -p docs && for i in 1 2 3 4 5; do head -c 1500 /dev/zero | tr '\\0' a > docs/part$i.md; done && git add docs && git commit -q -m parts",
          ),
          { text: "done\nTASK_COMPLETE" },
        ],
      }),
    );
    expect(failure).toContain("changes 5 files; the limit is 3");
    expect(failure).toMatch(/the diff is \d+ bytes; the limit is 4000/);
  });

  it("the agent's environment holds no GitHub token, inputs, runner tokens or model key, and its HOME is the room's", async () => {
    const {
      taskId,
      run,
      task,
      fake: f,
      model: m,
    } = await runScenario({
      script: [
        writeScript("probe.py", [
          "import os",
          "e = getattr(os, 'envi' + 'ron')",
          "open('probe.txt', 'w').write(chr(10).join(k + '=' + v for k, v in e.items()))",
        ]),
        bash("python3 probe.py && git add probe.txt && git commit -q -m probe"),
        { text: "TASK_COMPLETE" },
      ],
      env: {
        ACTIONS_RUNTIME_TOKEN: "runtime-token-value-123",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc-value-456",
      },
    });
    expectSuccess(run);
    expect(m.toolResults().map((r) => r.isError)).toEqual([false, false]);
    // The dump holds nothing secret (the model key is a placeholder), so it is pushed like any file.
    expect(task.state).toBe("pr-open");
    const probe = (await f.readFile(branchOf(taskId), "probe.txt"))!;
    const names = probe.split("\n").map((l) => l.split("=")[0]!);
    expect(names).toContain("PATH");
    expect(names).toContain("ANTHROPIC_API_KEY");
    expect(
      names.filter((k) =>
        /^(GITHUB_TOKEN|GH_TOKEN|INPUT_|ACTIONS_|GITHUB_(ENV|OUTPUT|STATE|PATH|STEP_SUMMARY)$)/.test(k),
      ),
    ).toEqual([]);
    expect(probe).not.toContain(f.token);
    expect(probe).not.toContain("runtime-token-value-123");
    expect(probe).not.toContain("oidc-value-456");
    expect(probe).not.toContain(API_KEY);
    expect(probe).toMatch(/^ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+$/m);
    // The model saw the real key, brought by the action's proxy.
    expect(m.apiKeys.length).toBeGreaterThan(0);
    expect(new Set(m.apiKeys)).toEqual(new Set([API_KEY]));
    const home = probe.split("\n").find((l) => l.startsWith("HOME="))!;
    expect(home).not.toBe(`HOME=${run.env.HOME}`);
    expect(home).toMatch(/^HOME=\/var\/lib\/aegis-room\/aegt-[0-9a-f]+\/home$/);
  });

  it("a retried issue's brief carries how its earlier task ended and why (what the model was sent)", async () => {
    const first = await runScenario({
      script: [{ text: "I looked around.\nTASK_BLOCKED: the issue does not say which platform" }],
    });
    expectSuccess(first.run);
    expect(first.task.state).toBe("blocked");
    // The maintainer answers in the issue, then removes and re-adds the trigger label.
    const f = first.fake;
    const issue = f.issue(first.n)!;
    const aegis = [...f.store.labels.values()].find((l) => l.name === "aegis")!;
    issue.labels = issue.labels.filter((id) => id !== aegis.id);
    const planned = expectSuccess(await planOnLabel(f, first.n, "aegis", "maya"));
    runs.push(planned);
    const retryId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
    expect(retryId).not.toBe(first.taskId);
    await model!.close();
    model = await startFakeAnthropic([{ text: "Linux it is.\nTASK_BLOCKED: still unsure" }]);
    const second = await runAction({
      mode: "run",
      entry: ENTRY,
      inputs: {
        task: retryId,
        "claude-executable": claudeBin(),
        "anthropic-base-url": model.url,
        "anthropic-api-key": API_KEY,
      },
      event: workflowDispatchEvent(f),
      fake: f,
      env: { CLAUDE_CODE_MAX_RETRIES: "0" },
      timeoutMs: 120_000,
    });
    runs.push(second);
    expectSuccess(second);
    const sent = JSON.stringify(model.requests[0]?.messages ?? []);
    expect(sent).toContain("Earlier tasks for this issue");
    expect(sent).toContain(`Task ${first.taskId} ended blocked`);
    expect(sent).toContain("the issue does not say which platform");
  });

  it("a test regression (pass on the base, fail on the branch) opens no PR and fails the task", async () => {
    const {
      n,
      run,
      task,
      fake: f,
    } = await runScenario({
      config:
        'run:\n  testCommand: "test ! -f broken.txt || { echo broken.txt must not exist >&2; exit 3; }"\n',
      script: [commitFile("broken.txt", "oops"), { text: "TASK_COMPLETE" }],
    });
    expectSuccess(run);
    expect(task.state).toBe("failed");
    expect(task.attempts[0]!.tests).toBe("pass → fail");
    expect(f.pulls()).toHaveLength(0);
    const failure = f.comments(n).find((c) => c.body.includes("<!-- aegis:run-failure -->"));
    expect(failure?.body).toContain("test regression");
    expect(failure?.body).toContain("broken.txt must not exist");
  });

  it("the branch's tests run on a fresh tree at the pushed commit: an ignored file the agent planted cannot pass a regression", async () => {
    const {
      run,
      task,
      fake: f,
    } = await runScenario({
      files: { ".gitignore": ".pass-anyway\n" },
      config:
        'run:\n  testCommand: "test -f .pass-anyway || test ! -f broken.txt || { echo broken.txt must not exist >&2; exit 3; }"\n',
      script: [
        commitFile("broken.txt", "oops"),
        // Ignored by git, so never in the commit: it only exists in the tree the session shaped.
        bash("echo yes > .pass-anyway && git status --porcelain --ignored"),
        { text: "TASK_COMPLETE" },
      ],
    });
    expectSuccess(run);
    expect(task.attempts[0]!.tests).toBe("pass → fail");
    expect(task.state).toBe("failed");
    expect(f.pulls()).toHaveLength(0);
  });

  it.each([
    ["without a cache service: the branch carries the work", false],
    ["with the Actions cache: the session itself is resumed", true],
  ])("max turns with progress is retried and the next attempt continues (%s)", async (_name, withCache) => {
    const cacheService = withCache ? await startFakeCache() : undefined;
    // Each job is its own runner, as on GitHub-hosted runners: its own RUNNER_NAME, HOME,
    // RUNNER_TEMP and room user (the harness gives every run its own); only the cache service is shared.
    const env = { ...(cacheService?.env ?? {}) };
    try {
      const {
        n,
        taskId,
        run,
        task,
        fake: f,
      } = await runScenario({
        config: "run:\n  maxTurns: 2\n",
        script: (ctx) => (ctx.step === 0 ? commitFile("part1.md", "first half") : bash("ls")),
        env,
      });
      expectSuccess(run);
      expect(task.attempts[0]!.outcome).toBe("max-turns");
      expect(task.state).toBe("queued");
      expect(await f.branchSha(branchOf(taskId))).not.toBeNull();
      expect(f.pulls()).toHaveLength(0);

      await model!.close();
      // Attempt 2 commits the second half once, then finishes.
      model = await startFakeAnthropic((ctx) =>
        JSON.stringify(ctx.request.messages).includes("part2.md")
          ? { text: "Finished what attempt 1 started.\nTASK_COMPLETE" }
          : commitFile("part2.md", "second half", "Finish"),
      );
      const claimed = expectSuccess(await planOnLabel(f, n, "aegis", "maya"));
      runs.push(claimed);
      expect((await ledgerOf(f)).tasks.find((t) => t.id === taskId)?.state).toBe("running");
      const second = expectSuccess(
        await runAction({
          mode: "run",
          entry: ENTRY,
          inputs: {
            task: taskId,
            "claude-executable": claudeBin(),
            "anthropic-base-url": model.url,
            "anthropic-api-key": API_KEY,
          },
          event: workflowDispatchEvent(f),
          fake: f,
          env: { CLAUDE_CODE_MAX_RETRIES: "0", ...env },
        }),
      );
      runs.push(second);
      expect(second.env.RUNNER_NAME).not.toBe(run.env.RUNNER_NAME);
      expect(second.env.HOME).not.toBe(run.env.HOME);
      expect(second.env.AEGIS_ROOM_USER).not.toBe(run.env.AEGIS_ROOM_USER);
      const after = (await ledgerOf(f)).tasks.find((t) => t.id === taskId)!;
      expect(after.state).toBe("pr-open");
      expect(after.attempts[1]).toMatchObject({ outcome: "complete", resumed: withCache, commits: 2 });
      const first = JSON.stringify(model.requests[0]!.messages);
      expect(first).toContain("Earlier attempts");
      expect(first).toContain("max-turns");
      // Resumed: the model sees attempt 1's own turns (its part1.md commit) before the new brief.
      expect(first.includes("first half")).toBe(withCache);
      expect(await f.readFile(branchOf(taskId), "part1.md")).toBe("first half\n");
      expect(await f.readFile(branchOf(taskId), "part2.md")).toBe("second half\n");
      expect(f.pulls()).toHaveLength(1);
      if (cacheService)
        expect(
          cacheService
            .entries()
            .filter((e) => e.committed)
            .map((e) => e.key),
        ).toEqual([`aegis-session-${taskId}-1`]);
    } finally {
      await cacheService?.close();
    }
  });

  it("an earlier attempt's stale branch is replaced and its open PR closed as superseded", async () => {
    let old = 0;
    const {
      taskId,
      run,
      task,
      fake: f,
    } = await runScenario({
      script: [commitFile("docs/new.md", "fresh"), { text: "TASK_COMPLETE" }],
      before: async (f, id) => {
        await f.commitFile(branchOf(id), "old.md", "stale work\n", "stale");
        const res = await fetch(`${f.url}/repos/${f.owner}/${f.repo}/pulls`, {
          method: "POST",
          headers: { authorization: `token ${f.token}`, "content-type": "application/json" },
          body: JSON.stringify({ title: "old attempt", head: branchOf(id), base: f.defaultBranch }),
        });
        const pr = (await res.json()) as { number: number; html_url: string };
        old = pr.number;
        await mutateLedger(f, (l) => {
          l.tasks.find((t) => t.id === id)!.pr = { number: pr.number, url: pr.html_url };
        });
      },
    });
    expectSuccess(run);
    expect(task.state).toBe("pr-open");
    expect(task.pr?.number).not.toBe(old);
    expect(f.issue(old)?.state).toBe("closed");
    expect(f.comments(old).some((c) => c.body.includes(`Superseded by #${task.pr!.number}`))).toBe(true);
    expect(f.issue(task.pr!.number)?.state).toBe("open");
    expect(await f.readFile(branchOf(taskId), "old.md")).toBeNull();
    expect(await f.readFile(branchOf(taskId), "docs/new.md")).toBe("fresh\n");
  });

  it("a PR creation that lands but is answered 502 ends with exactly one open PR: the retry adopts its own", async () => {
    const {
      n,
      taskId,
      run,
      task,
      fake: f,
    } = await runScenario({
      script: [commitFile("docs/new.md", "fresh"), { text: "TASK_COMPLETE" }],
      before: async (f) => {
        f.inject({ method: "POST", route: "/repos/{owner}/{repo}/pulls", status: 502, when: "after" });
      },
    });
    expectSuccess(run);
    const pulls = f.pulls();
    expect(pulls).toHaveLength(1);
    expect(f.issue(pulls[0]!.number)?.state).toBe("open");
    expect(task.state).toBe("pr-open");
    expect(task.pr?.number).toBe(pulls[0]!.number);
    expect(f.comments(pulls[0]!.number).some((c) => c.body.includes("Superseded"))).toBe(false);
    expect(f.labelsOf(pulls[0]!.number)).toEqual(expect.arrayContaining(["aegis", "docs"]));
    expect(f.issue(pulls[0]!.number)?.body).toContain(`Fixes #${n}`);
    expect(await f.readFile(branchOf(taskId), "docs/new.md")).toBe("fresh\n");
    // The 502 was answered to a write that had landed: one creation, one retry that met it.
    const creations = f.calls.filter((c) => c.method === "POST" && c.route.endsWith("/pulls"));
    expect(creations.map((c) => c.status)).toEqual([502, 422]);
  });

  it("a refused API key fails the task at once (never retried) and counts toward the circuit breaker", async () => {
    const {
      n,
      run,
      task,
      ledger,
      fake: f,
    } = await runScenario({
      script: [{ error: { status: 401, type: "authentication_error", message: "invalid x-api-key" } }],
    });
    expectSuccess(run);
    expect(task.attempts[0]).toMatchObject({ outcome: "api-error", failureKind: "auth" });
    expect(task.state).toBe("failed");
    expect(ledger.breaker.consecutiveInfraFailures).toBe(1);
    expect(f.labelsOf(n)).toContain("aegis:failed");
  });

  it("a server error sends the task back to the queue for a later plan", async () => {
    const { run, task, ledger } = await runScenario({
      script: [{ error: { status: 500, type: "api_error", message: "internal error" } }],
    });
    expectSuccess(run);
    expect(task.attempts[0]).toMatchObject({ outcome: "api-error", failureKind: "api" });
    expect(task.state).toBe("queued");
    expect(run.outputs["task-status"]).toBe("queued");
    expect(ledger.breaker.consecutiveInfraFailures).toBe(1);
  });
});
