import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  assertNoBare,
  buildClaudeArgs,
  runClaudeSession,
  type ClaudeSessionOptions,
} from "../src/adapters/claude.js";
import { sanitizeAgentEnv } from "../src/core/agent-env.js";
import {
  claudeBin,
  claudeEnv,
  startFakeAnthropic,
  type FakeAnthropic,
  type Turn,
} from "./harness/fake-anthropic.js";

const run = promisify(execFile);
let root: string;
let fake: FakeAnthropic | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "aegis-claude-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

let n = 0;
async function workspace(): Promise<{ cwd: string; home: string; settings: string; hooksDir: string }> {
  const base = path.join(root, `s${++n}`);
  const cwd = path.join(base, "repo");
  const home = path.join(base, "home");
  const hooksDir = path.join(base, "hooks");
  await Promise.all([
    mkdir(cwd, { recursive: true }),
    mkdir(home, { recursive: true }),
    mkdir(hooksDir, { recursive: true }),
  ]);
  await run("git", ["init", "-q", "-b", "main", cwd]);
  await run("git", ["-C", cwd, "config", "user.name", "aegis test"]);
  await run("git", ["-C", cwd, "config", "user.email", "aegis@example.invalid"]);
  await writeFile(path.join(cwd, "README.md"), "# demo\n");
  await run("git", ["-C", cwd, "add", "."]);
  await run("git", ["-C", cwd, "commit", "-qm", "init"]);
  // No hooks: these tests are about the runner; the hooks have their own suite.
  const settings = path.join(base, "settings.json");
  await writeFile(settings, "{}\n");
  return { cwd, home, settings, hooksDir };
}

async function session(
  script: Turn[],
  over: Partial<ClaudeSessionOptions> = {},
  extraEnv: Record<string, string> = {},
) {
  fake = await startFakeAnthropic(script);
  const ws = await workspace();
  const lines: string[] = [];
  const opts: ClaudeSessionOptions = {
    executable: claudeBin(),
    cwd: ws.cwd,
    prompt: "Do the task.",
    maxTurns: 10,
    settingsPath: ws.settings,
    hooksDir: ws.hooksDir,
    env: claudeEnv({ baseUrl: fake.url, home: ws.home, extra: extraEnv }),
    timeoutMs: 60_000,
    killGraceMs: 1000,
    onEvent: (l) => lines.push(l),
    ...over,
  };
  const result = await runClaudeSession(opts);
  return { result, ws, lines };
}

/** Pids whose environment carries `name=value` (the processes a session left behind). */
async function processesWithEnv(name: string, value: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const env = (await readFile(`/proc/${e}/environ`, "utf8")).split("\0");
      if (env.includes(`${name}=${value}`)) out.push(Number(e));
    } catch {
      // gone or not readable
    }
  }
  return out;
}

describe("runClaudeSession with the real CLI", () => {
  it("writes a file, commits it through Bash, and reports TASK_COMPLETE with turns and cost", async () => {
    const t0 = Date.now();
    const { result, ws, lines } = await session([
      { toolUses: [{ name: "Write", input: { file_path: "HELLO.md", content: "hello\n" } }] },
      {
        toolUses: [
          {
            name: "Bash",
            input: { command: "git add HELLO.md && git commit -qm 'docs: add HELLO' && echo ok" },
          },
        ],
      },
      { text: "Added HELLO.md.\nTASK_COMPLETE", usage: { input_tokens: 1000, output_tokens: 50 } },
    ]);
    console.log(`scripted session: ${Date.now() - t0} ms (CLI reported ${result.durationMs} ms)`);
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    expect(result.result).toMatchObject({ subtype: "success", is_error: false, num_turns: 3 });
    expect(result.result?.result).toMatch(/^TASK_COMPLETE$/m);
    expect(result.costUsd).toBeGreaterThan(0);
    expect(result.result?.total_cost_usd).toBe(result.costUsd);
    expect(result.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.init?.tools).toContain("Bash");
    expect(result.toolCalls).toBe(2);
    expect(result.permissionDenials).toEqual([]);
    expect(lines.some((l) => l.includes('"type":"result"'))).toBe(true);
    const log = await run("git", ["-C", ws.cwd, "log", "--format=%s", "main"]);
    expect(log.stdout.trim().split("\n")).toEqual(["docs: add HELLO", "init"]);
    expect(await readFile(path.join(ws.cwd, "HELLO.md"), "utf8")).toBe("hello\n");
    expect(fake?.toolResults().every((r) => !r.isError)).toBe(true);
  });

  it("denies git push by permission rule, alone and chained", async () => {
    const { result } = await session([
      { toolUses: [{ name: "Bash", input: { command: "git push origin main" } }] },
      { toolUses: [{ name: "Bash", input: { command: "git status && git push --force" } }] },
      { text: "TASK_BLOCKED: cannot push" },
    ]);
    expect(result.permissionDenials.map((d) => d.tool_input)).toEqual([
      { command: "git push origin main" },
      { command: "git status && git push --force" },
    ]);
    expect(fake?.toolResults().map((r) => r.isError)).toEqual([true, true]);
  });

  it("reports max turns as error_max_turns", async () => {
    const call: Turn = { toolUses: [{ name: "Bash", input: { command: "echo step" } }] };
    const { result } = await session([call, call, call, call], { maxTurns: 2 });
    expect(result.exitCode).toBe(1);
    expect(result.result).toMatchObject({ subtype: "error_max_turns", is_error: true });
    expect(result.result?.result).toBeUndefined();
  });

  it.each([
    [500, "api_error"],
    [401, "authentication_error"],
  ])("reports an API %i as is_error with the status", async (status, type) => {
    const { result } = await session([{ error: { status, message: "scripted failure" } }]);
    expect(result.exitCode).toBe(1);
    expect(result.result).toMatchObject({ is_error: true, api_error_status: status, api_error_type: type });
  });

  it("kills a hanging session at the timeout, with the background child it started", async () => {
    const mark = `hang-${Date.now()}`;
    const { result, ws } = await session(
      [
        // Claude Code refuses `sleep N &`; `tail -f` is an ordinary long-running child instead.
        {
          toolUses: [
            { name: "Bash", input: { command: "tail -f /dev/null >/dev/null 2>&1 & echo $! > bg.pid" } },
          ],
        },
        { hangMs: 600_000 },
      ],
      { timeoutMs: 4000 },
      { AEGIS_TEST_MARK: mark },
    );
    expect(result.timedOut).toBe(true);
    expect(result.result).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(4000);
    expect(result.durationMs).toBeLessThan(15_000);
    const bgPid = Number(await readFile(path.join(ws.cwd, "bg.pid"), "utf8"));
    expect(bgPid).toBeGreaterThan(0);
    expect(await processesWithEnv("AEGIS_TEST_MARK", mark)).toEqual([]);
  });

  it("stops background processes left by a session that ended normally", async () => {
    const mark = `bg-${Date.now()}`;
    const { result } = await session(
      [
        {
          toolUses: [
            { name: "Bash", input: { command: "tail -f /dev/null >/dev/null 2>&1 & echo started" } },
          ],
        },
        { text: "TASK_COMPLETE" },
      ],
      {},
      { AEGIS_TEST_MARK: mark },
    );
    expect(result.result?.is_error).toBe(false);
    expect(await processesWithEnv("AEGIS_TEST_MARK", mark)).toEqual([]);
  });

  it("gives the agent only the sanitized environment", async () => {
    const parent = {
      ...process.env,
      GITHUB_TOKEN: "ghs_parenttokenvalue000000000000000000",
      "INPUT_GITHUB-TOKEN": "ghs_inputtokenvalue0000000000000000000",
      INPUT_MODE: "run",
      ACTIONS_RUNTIME_TOKEN: "runtime-token",
      ACTIONS_ID_TOKEN_REQUEST_URL: "http://example.invalid/oidc",
      GH_TOKEN: "gh-token",
      NPM_TOKEN: "npm-token",
      GIT_ASKPASS: "/bin/echo",
    };
    fake = await startFakeAnthropic([
      { toolUses: [{ name: "Bash", input: { command: "printenv > probe.txt" } }] },
      { text: "TASK_COMPLETE" },
    ]);
    const ws = await workspace();
    const env = sanitizeAgentEnv(parent, { extra: claudeEnv({ baseUrl: fake.url, home: ws.home }) });
    const result = await runClaudeSession({
      executable: claudeBin(),
      cwd: ws.cwd,
      prompt: "probe",
      maxTurns: 5,
      settingsPath: ws.settings,
      hooksDir: ws.hooksDir,
      env,
      timeoutMs: 60_000,
    });
    expect(result.result?.is_error).toBe(false);
    const probe = await readFile(path.join(ws.cwd, "probe.txt"), "utf8");
    const names = probe.split("\n").map((l) => l.split("=")[0]);
    expect(names).toContain("PATH");
    expect(names).toContain("AEGIS_HOOKS_DIR");
    expect(probe).not.toMatch(/GITHUB_TOKEN|^INPUT_|^ACTIONS_|GH_TOKEN|NPM_TOKEN|GIT_ASKPASS/m);
    expect(probe).not.toContain("ghs_");
  });

  it("never passes --bare", () => {
    expect(() => assertNoBare(["-p", "x", "--bare"])).toThrow(/--bare/);
    const args = buildClaudeArgs({
      executable: "claude",
      cwd: "/tmp",
      prompt: "Fix it.",
      maxTurns: 3,
      settingsPath: "/s.json",
      hooksDir: "/h",
      env: {},
      timeoutMs: 1,
      model: "m",
      maxBudgetUsd: 2,
      resumeSessionId: "0b5f6a8e-8f7c-4b3e-9d7a-1c2b3d4e5f60",
      appendSystemPrompt: "sys",
    });
    expect(args.slice(0, 2)).toEqual(["-p", "Fix it."]);
    expect(args).not.toContain("--bare");
    // Even as a value: how a CLI parser reads "--bare" after another option is not worth betting on.
    const base = {
      executable: "c",
      cwd: "/",
      settingsPath: "s",
      hooksDir: "h",
      env: {},
      timeoutMs: 1,
      maxTurns: 3,
    };
    expect(() => buildClaudeArgs({ ...base, prompt: "--bare" })).toThrow(/--bare/);
    expect(() => buildClaudeArgs({ ...base, prompt: "p", model: "--bare" })).toThrow();
    expect(args).toContain("--strict-mcp-config");
    expect(args.join(" ")).toContain("--disallowedTools=Bash(git push:*)");
    expect(args.slice(args.indexOf("--resume"), args.indexOf("--resume") + 2)).toEqual([
      "--resume",
      "0b5f6a8e-8f7c-4b3e-9d7a-1c2b3d4e5f60",
    ]);
    expect(() => buildClaudeArgs({ ...base, prompt: "p", maxTurns: 0 })).toThrow(/maxTurns/);
  });
});
