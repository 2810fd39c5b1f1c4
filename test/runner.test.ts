// The runner emulator, exercised with a throwaway script (not the bundle) that uses the real
// @actions/core: inputs in, outputs/summary/annotations out, a clean environment, timeouts.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import {
  inputEnvName,
  issueLabeledEvent,
  parseAnnotations,
  parseCommandFile,
  runAction,
  scheduleEvent,
  workflowDispatchEvent,
} from "./harness/runner.js";

const CORE = pathToFileURL(path.resolve("node_modules/@actions/core/lib/core.js")).href;

let fake: FakeGitHub;
let dir: string;
let script: string;
let actionYml: string;

beforeAll(async () => {
  fake = await startFakeGitHub();
  dir = await mkdtemp(path.join(os.tmpdir(), "runner-test-"));
  script = path.join(dir, "step.mjs");
  await writeFile(
    script,
    `import * as core from ${JSON.stringify(CORE)};
import { readFileSync, existsSync } from "node:fs";
const event = JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH, "utf8"));
const res = await fetch(process.env.GITHUB_API_URL + "/repos/" + process.env.GITHUB_REPOSITORY + "/issues/" + event.issue.number, { headers: { authorization: "token " + core.getInput("github-token") } });
const issue = await res.json();
core.setOutput("greeting", "hello " + core.getInput("who", { required: true }));
core.setOutput("multi", "line one\\nline two");
core.setOutput("issue-title", issue.title);
core.setOutput("leaked", String(Boolean(process.env.SECRET_FROM_PARENT)));
core.setOutput("checked-out", String(existsSync("README.md")));
core.exportVariable("AEGIS_SEEN", "1");
core.saveState("phase", "done");
core.warning("careful: 50%", { file: "a.ts", startLine: 3 });
await core.summary.addHeading("Plan").addRaw("mode=" + core.getInput("mode")).write();
`,
  );
  actionYml = path.join(dir, "action.yml");
  await writeFile(
    actionYml,
    "inputs:\n  mode:\n    required: true\n  who:\n    default: world\n  github-token:\n    default: ${{ github.token }}\n",
  );
});

afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("runAction", () => {
  it("runs a script like the runner: inputs, defaults, outputs, summary, annotations, checkout", async () => {
    process.env.SECRET_FROM_PARENT = "must not leak";
    const issue = fake.seedIssue({ title: "Fix the docs", labels: ["aegis"] });
    const run = await runAction({
      mode: "plan",
      event: issueLabeledEvent(fake, issue.number, "aegis"),
      fake,
      entry: script,
      actionYml,
      timeoutMs: 30_000,
    });
    delete process.env.SECRET_FROM_PARENT;
    try {
      expect(run.stderr).toBe("");
      expect(run.exitCode).toBe(0);
      expect(run.outputs).toMatchObject({
        greeting: "hello world",
        multi: "line one\nline two",
        "issue-title": "Fix the docs",
        leaked: "false",
        "checked-out": "true",
      });
      expect(run.exportedEnv).toEqual({ AEGIS_SEEN: "1" });
      expect(run.state).toEqual({ phase: "done" });
      expect(run.summary).toContain("<h1>Plan</h1>");
      expect(run.summary).toContain("mode=plan");
      expect(run.annotations).toEqual([
        { level: "warning", message: "careful: 50%", properties: { file: "a.ts", line: "3" } },
      ]);
      expect(run.env[inputEnvName("github-token")]).toBe(fake.token);
      expect(Object.keys(run.env)).not.toContain("SECRET_FROM_PARENT");
      expect(fake.callsTo("issues/get")).toHaveLength(1);
      expect(fake.validationErrors).toEqual([]);
    } finally {
      await run.cleanup();
    }
  });

  it("kills the process group on timeout and reports it", async () => {
    const hang = path.join(dir, "hang.mjs");
    await writeFile(
      hang,
      `import { spawn } from "node:child_process";\nspawn("sleep", ["30"], { stdio: "ignore" });\nsetInterval(() => {}, 1000);\n`,
    );
    const run = await runAction({
      event: scheduleEvent(fake),
      fake,
      entry: hang,
      actionYml,
      timeoutMs: 1500,
    });
    await run.cleanup();
    expect(run.timedOut).toBe(true);
    expect(run.signal).toBe("SIGKILL");
    expect(run.durationMs).toBeLessThan(10_000);
  });

  it("builds dispatch payloads and reports a failing step", async () => {
    const fail = path.join(dir, "fail.mjs");
    await writeFile(
      fail,
      `import * as core from ${JSON.stringify(CORE)};\ncore.setFailed("no token: add permissions");\n`,
    );
    const run = await runAction({
      event: workflowDispatchEvent(fake, { reason: "manual" }),
      fake,
      entry: fail,
      actionYml,
      inputs: { mode: "digest" },
    });
    await run.cleanup();
    expect(run.exitCode).toBe(1);
    expect(run.annotations).toEqual([
      { level: "error", message: "no token: add permissions", properties: {} },
    ]);
  });
});

describe("command file and annotation parsing", () => {
  it("parses both forms and refuses an unterminated heredoc", () => {
    expect(parseCommandFile("a=1\nb<<EOF\nx\ny=z\nEOF\nc=\n")).toEqual({ a: "1", b: "x\ny=z", c: "" });
    expect(() => parseCommandFile("b<<EOF\nx\n")).toThrow(/closing delimiter/);
    expect(parseAnnotations("::error file=a%2Cb.ts::bad%0Aline\nplain\n")).toEqual([
      { level: "error", message: "bad\nline", properties: { file: "a,b.ts" } },
    ]);
  });
});

describe("event payloads", () => {
  it("match GitHub's webhook schemas", async () => {
    const { validateWebhookPayload } = await import("./harness/runner.js");
    const issue = fake.seedIssue({ title: "payload", labels: ["aegis"], user: "alice" });
    expect(
      await validateWebhookPayload("issues", issueLabeledEvent(fake, issue.number, "aegis", "alice").payload),
    ).toEqual([]);
    expect(await validateWebhookPayload("workflow_dispatch", workflowDispatchEvent(fake).payload)).toEqual(
      [],
    );
    expect(await validateWebhookPayload("issues", { action: "labeled" })).not.toEqual([]);
    expect(await validateWebhookPayload("schedule", scheduleEvent(fake).payload)).toBeUndefined();
  });
});
