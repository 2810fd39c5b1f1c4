import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { ConfigError } from "../src/config.js";
import { INPUT_NAMES, InputError, loadConfig, readContext, readInputs } from "../src/settings.js";

const actionInputs = parse(readFileSync("action.yml", "utf8")).inputs as Record<string, { default?: string }>;
const defaults = (overrides: Record<string, string>) => (name: string) =>
  overrides[name] ?? (name === "github-token" ? "ghs_test" : String(actionInputs[name]?.default ?? ""));

describe("inputs", () => {
  it("every input of action.yml is read, and only those", () => {
    expect(Object.values(INPUT_NAMES).sort()).toEqual(Object.keys(actionInputs).sort());
  });

  it("applies action.yml's defaults", () => {
    const inputs = readInputs(defaults({ mode: "plan" }));
    expect(inputs).toMatchObject({
      mode: "plan",
      task: "",
      configPath: ".github/aegis.yml",
      stateBranch: "aegis-state",
      claudeVersion: "2.1.330",
      codexVersion: "0.169.0",
      dryRun: false,
    });
  });

  it.each([
    [{ mode: "deploy" }, 'input `mode`: expected one of plan, run, review, digest, got "deploy"'],
    [{ mode: "run" }, "input `task`: mode run needs a task id"],
    [{ mode: "run", task: "../x" }, "input `task`: expected a task id"],
    [{ mode: "plan", "dry-run": "yes" }, "input `dry-run`: expected true or false"],
    [
      { mode: "plan", "claude-version": "latest" },
      "input `claude-version`: expected an exact version like 2.1.330",
    ],
    [
      { mode: "plan", "anthropic-base-url": "http://x/v1" },
      "input `anthropic-base-url`: expected the API root without /v1",
    ],
    [
      { mode: "plan", "openai-base-url": "http://x" },
      "input `openai-base-url`: expected a URL ending in /v1",
    ],
    [{ mode: "plan", "state-branch": "-rf" }, "input `state-branch`: expected a branch name"],
    [
      { mode: "plan", "config-path": "../etc/passwd" },
      "input `config-path`: expected a path inside the repository",
    ],
    [{ mode: "plan", "github-token": "" }, "input `github-token`: expected a token"],
  ])("%j is refused", (overrides, message) => {
    expect(() => readInputs(defaults(overrides))).toThrow(InputError);
    expect(() => readInputs(defaults(overrides))).toThrow(message);
  });

  it("never echoes a secret in an error", () => {
    expect(() => readInputs(defaults({ mode: "nope", "github-token": "ghs_secret" }))).not.toThrow(
      /ghs_secret/,
    );
  });

  it("accepts dry-run in any case", () => {
    expect(readInputs(defaults({ mode: "plan", "dry-run": "TRUE" })).dryRun).toBe(true);
  });
});

describe("context", () => {
  it("reads the runner's variables and the event payload", () => {
    const dir = mkdtempSync(join(tmpdir(), "aegis-ctx-"));
    writeFileSync(join(dir, "event.json"), JSON.stringify({ action: "labeled" }));
    const context = readContext({
      GITHUB_REPOSITORY: "o/r",
      GITHUB_EVENT_NAME: "issues",
      GITHUB_EVENT_PATH: join(dir, "event.json"),
      GITHUB_RUN_ID: "42",
      GITHUB_RUN_ATTEMPT: "2",
      GITHUB_WORKSPACE: dir,
      GITHUB_API_URL: "http://127.0.0.1:1",
    });
    expect(context).toMatchObject({
      owner: "o",
      repo: "r",
      eventName: "issues",
      payload: { action: "labeled" },
      runId: "42",
      runAttempt: 2,
      workspace: dir,
    });
  });

  it("refuses a missing repository and an unreadable payload", () => {
    expect(() => readContext({})).toThrow("GITHUB_REPOSITORY must be owner/name");
    expect(() => readContext({ GITHUB_REPOSITORY: "o/r", GITHUB_EVENT_PATH: "/nonexistent.json" })).toThrow(
      "event payload",
    );
  });
});

describe("config loading", () => {
  const fetchNever = async () => {
    throw new Error("must not fetch");
  };

  it("reads the file from a checkout, and defaults when the checkout has none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aegis-cfg-"));
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
    expect((await loadConfig(dir, ".github/aegis.yml", fetchNever)).caps.running).toBe(2);
    mkdirSync(join(dir, ".github"));
    writeFileSync(join(dir, ".github", "aegis.yml"), "caps: { running: 1 }\n");
    expect((await loadConfig(dir, ".github/aegis.yml", fetchNever)).caps.running).toBe(1);
  });

  it("fetches from the repository when the job did not check out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aegis-cfg-"));
    const config = await loadConfig(dir, ".github/aegis.yml", async () => "caps: { pendingPerRepo: 9 }");
    expect(config.caps.pendingPerRepo).toBe(9);
  });

  it("a bad file stops with the field named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aegis-cfg-"));
    await expect(
      loadConfig(dir, ".github/aegis.yml", async () => "caps: { pendingPerRepo: five }"),
    ).rejects.toThrow(ConfigError);
    await expect(
      loadConfig(dir, ".github/aegis.yml", async () => "caps: { pendingPerRepo: five }"),
    ).rejects.toThrow('caps.pendingPerRepo: expected a positive integer, got "five"');
  });
});
