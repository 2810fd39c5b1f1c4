/**
 * The real codex CLI against the scripted fake Responses API, in a temporary git checkout shaped
 * like the review job's: the PR branch checked out, the base branch only as origin/main.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCodexReview, type CodexEvent, type CodexReviewOptions } from "../src/adapters/codex.js";
import { buildCodexEnv, CODEX_KEY_ENV } from "../src/core/review-prompt.js";
import { parseFindings, verdictOf, REVIEW_OUTPUT_SCHEMA } from "../src/core/findings.js";
import {
  codexBin,
  lastUserPrompt,
  requestText,
  startFakeOpenAI,
  structuredReviewAnswer,
  type FakeOpenAI,
  type Script,
} from "./harness/fake-openai.js";

const run = promisify(execFile);
const git = (cwd: string, ...args: string[]) => run("git", args, { cwd });

const API_KEY = "sk-aegis-test-key-0123456789";
const GH_TOKEN = "ghs_probeTokenThatMustNeverReachCodex42";

let tmp: string;
let checkout: string;
let fake: FakeOpenAI | undefined;
const timings: number[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "aegis-codex-test-"));
  const origin = path.join(tmp, "origin");
  await mkdir(path.join(origin, "src"), { recursive: true });
  await git(origin, "init", "-q", "-b", "main");
  await git(origin, "config", "user.email", "t@example.com");
  await git(origin, "config", "user.name", "t");
  await writeFile(path.join(origin, "src/app.py"), "def load(path):\n    return open(path).read()\n");
  await git(origin, "add", ".");
  await git(origin, "commit", "-qm", "base");
  await git(origin, "checkout", "-qb", "feature");
  await writeFile(
    path.join(origin, "src/app.py"),
    "def load(path):\n    return open(path).read()\n\ndef run(expr):\n    return eval(expr)\n",
  );
  await git(origin, "commit", "-qam", "add run");
  // Like actions/checkout of the PR head plus a fetch of the base: no local `main`, only origin/main.
  checkout = path.join(tmp, "checkout");
  await run("git", ["clone", "-q", "--branch", "feature", origin, checkout]);
});

afterAll(async () => {
  if (timings.length) console.log(`codex review runs (ms): ${timings.join(", ")}`);
  await rm(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function review(script: Script, extra: Partial<CodexReviewOptions> = {}) {
  fake = await startFakeOpenAI(script);
  const result = await runCodexReview({
    executable: codexBin(),
    cwd: checkout,
    baseRef: "main",
    baseUrl: fake.url,
    apiKey: API_KEY,
    timeoutMs: 30_000,
    codexHome: path.join(tmp, `codex-home-${Math.random().toString(36).slice(2)}`),
    ...extra,
  });
  timings.push(result.durationMs);
  return result;
}

const answer = (findings: { title: string; priority: 0 | 1 | 2 | 3; line: number; body?: string }[]) =>
  structuredReviewAnswer(findings.map((f) => ({ ...f, file: path.join(checkout, "src/app.py") })));

describe("runCodexReview with the real codex CLI", () => {
  it("turns a structured P1 answer into a critical finding", async () => {
    const events: CodexEvent[] = [];
    const result = await review(
      [
        {
          text: answer([
            {
              title: "[P1] Do not eval caller input",
              priority: 1,
              line: 5,
              body: "`eval(expr)` runs arbitrary code.",
            },
          ]),
        },
      ],
      {
        model: "gpt-review-test",
        onEvent: (e) => events.push(e),
      },
    );
    expect(result).toMatchObject({ ok: true, exitCode: 0, timedOut: false, diffTruncated: false });
    expect(result.error).toBeUndefined();
    expect(result.usage).toEqual({
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 20,
      reasoningOutputTokens: 0,
    });
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["thread.started", "turn.started", "item.completed", "turn.completed"]),
    );

    const parsed = parseFindings(result);
    expect(parsed.parsed).toBe(true);
    expect(parsed.findings).toEqual([
      {
        severity: "critical",
        title: "Do not eval caller input",
        body: "`eval(expr)` runs arbitrary code.",
        file: "src/app.py",
        line: 5,
        priority: 1,
      },
    ]);
    expect(verdictOf(parsed.findings, result.ok)).toBe("critical");

    // What codex sent: our schema as strict structured output, our model, our key, the diff in the prompt.
    expect(fake!.requests).toHaveLength(1);
    const req = fake!.requests[0]!;
    expect(req.model).toBe("gpt-review-test");
    expect(req.text?.format).toMatchObject({
      type: "json_schema",
      strict: true,
      schema: REVIEW_OUTPUT_SCHEMA,
    });
    expect(fake!.headers[0]!.authorization).toBe(`Bearer ${API_KEY}`);
    const prompt = lastUserPrompt(req);
    expect(prompt).toContain("+    return eval(expr)");
    expect(prompt).toContain("base branch `main`");
    expect(prompt).toMatch(/src\/app\.py \| 3 \+\+\+/);
  });

  it("reports a P3-only answer as non-critical and the verdict as clean", async () => {
    const result = await review([
      { text: answer([{ title: "Add a docstring to run", priority: 3, line: 4 }]) },
    ]);
    const parsed = parseFindings(result);
    expect(parsed.findings).toMatchObject([
      { severity: "non-critical", priority: 3, file: "src/app.py", line: 4 },
    ]);
    expect(verdictOf(parsed.findings, result.ok)).toBe("clean");
  });

  it("fails fast with the error on an API 500, without retrying", async () => {
    const result = await review([{ error: { status: 500, message: "upstream exploded" } }]);
    expect(result.ok).toBe(false);
    expect(result.exitCode).toBe(1);
    expect(result.timedOut).toBe(false);
    expect(result.error).toBeTruthy();
    expect(result.durationMs).toBeLessThan(10_000);
    expect(fake!.requests).toHaveLength(1);
    expect(verdictOf(parseFindings(result).findings, result.ok)).toBe("error");
  });

  it("reports an API 401 with codex's message", async () => {
    const result = await review([{ error: { status: 401, message: "Incorrect API key provided" } }]);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/401|Unauthorized|API key/i);
  });

  it("kills a hung session at the timeout", async () => {
    const result = await review([{ hangMs: Infinity, text: "never" }], { timeoutMs: 2_000 });
    expect(result.timedOut).toBe(true);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/timed out after 2 s/);
    expect(result.durationMs).toBeLessThan(2_000 + 2_000 + 3_000);
    // The whole process group is gone: nothing still runs from this CODEX_HOME.
    const { stdout } = await run("ps", ["-eo", "pid,args"]);
    expect(stdout).not.toContain(fake!.url);
  });

  it("keeps GITHUB_TOKEN, INPUT_* and the model key away from commands the model runs", async () => {
    const saved = { ...process.env };
    process.env.GITHUB_TOKEN = GH_TOKEN;
    process.env["INPUT_GITHUB-TOKEN"] = GH_TOKEN;
    process.env.ACTIONS_RUNTIME_TOKEN = GH_TOKEN;
    let envOutput = "";
    try {
      const result = await review((ctx) => {
        if (ctx.index === 0) {
          return {
            customToolCalls: [
              {
                name: "exec",
                input: 'text(JSON.stringify(await tools.exec_command({cmd: "env; echo ENV-PROBE-DONE"})))',
              },
            ],
          };
        }
        envOutput = ctx.toolOutputs.join("\n");
        return { text: answer([]) };
      });
      expect(result.ok).toBe(true);
    } finally {
      process.env = saved;
    }
    // The probe really ran inside the read-only sandbox, so an absent token is meaningful.
    expect(envOutput).toContain("ENV-PROBE-DONE");
    expect(envOutput).toContain("PATH=");
    expect(envOutput).not.toContain(GH_TOKEN);
    expect(envOutput).not.toContain(API_KEY);
    expect(envOutput).not.toMatch(/INPUT_|ACTIONS_/);
    for (const req of fake!.requests) expect(requestText(req)).not.toContain(GH_TOKEN);
  });

  it("reads a prose answer as unparsed, without inventing findings", async () => {
    const result = await review([
      { text: "I looked at the change; the eval might be a concern depending on callers." },
    ]);
    expect(result.ok).toBe(true);
    const parsed = parseFindings(result);
    expect(parsed).toMatchObject({ findings: [], parsed: false });
  });

  it("reports a missing base branch without calling the model", async () => {
    const result = await review([{ text: answer([]) }], { baseRef: "does-not-exist" });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/base branch "does-not-exist"/);
    expect(fake!.requests).toHaveLength(0);
  });

  it("reports a codex binary that cannot start", async () => {
    const result = await review([{ text: answer([]) }], { executable: path.join(tmp, "no-such-codex") });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/could not start codex/);
  });
});

describe("buildCodexEnv", () => {
  it("passes only allow-listed variables plus CODEX_HOME and the key", () => {
    const env = buildCodexEnv(
      {
        PATH: "/bin",
        HOME: "/home/runner",
        GITHUB_TOKEN: GH_TOKEN,
        "INPUT_GITHUB-TOKEN": GH_TOKEN,
        "INPUT_OPENAI-API-KEY": API_KEY,
        ACTIONS_RUNTIME_TOKEN: "x",
        ACTIONS_ID_TOKEN_REQUEST_URL: "https://example",
        OPENAI_API_KEY: "sk-other",
        HTTPS_PROXY: "http://proxy:3128",
      },
      { apiKey: API_KEY, codexHome: "/tmp/ch" },
    );
    expect(env).toEqual({
      PATH: "/bin",
      HOME: "/home/runner",
      LANG: "C.UTF-8",
      HTTPS_PROXY: "http://proxy:3128",
      CODEX_HOME: "/tmp/ch",
      [CODEX_KEY_ENV]: API_KEY,
    });
  });
});
