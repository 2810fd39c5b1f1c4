// Session resume across attempts, for real: the `claude` CLI against the fake Anthropic API, its
// transcript saved by the real `@actions/cache` into the fake cache service, the agent's HOME
// deleted (a new job), restored, and continued with `--resume`.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as cache from "@actions/cache";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runClaudeSession, type ClaudeSessionOptions } from "../src/adapters/claude.js";
import {
  projectDir,
  projectKey,
  restoreKeys,
  restoreSession,
  saveSession,
  sessionHome,
  sessionKey,
  stagePath,
  relocateTranscript,
  wholeLines,
} from "../src/room/session-store.js";
import type { CacheLike } from "../src/adapters/tool-install.js";
import {
  claudeBin,
  claudeEnv,
  startFakeAnthropic,
  type Turn,
  type TurnContext,
} from "./harness/fake-anthropic.js";
import { startFakeCache, type FakeCache } from "./harness/fake-cache.js";

const run = promisify(execFile);
const ENV_KEYS = [
  "ACTIONS_CACHE_URL",
  "ACTIONS_RUNTIME_TOKEN",
  "ACTIONS_CACHE_SERVICE_V2",
  "ACTIONS_RESULTS_URL",
  "RUNNER_TEMP",
];
const savedEnv: Record<string, string | undefined> = {};
let root: string;

beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), "aegis-session-store-")));
  // No hooks: the hooks have their own suite; this one is about the transcript.
  await writeFile(path.join(root, "settings.json"), "{}\n");
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
});
afterAll(async () => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await rm(root, { recursive: true, force: true });
});

describe("pure helpers", () => {
  it("names keys per task and attempt, restoring the previous attempt then the newest of the task", () => {
    expect(sessionKey("12-3", 1)).toBe("aegis-session-12-3-1");
    expect(restoreKeys("12-3", 2)).toEqual({
      primary: "aegis-session-12-3-1",
      fallback: ["aegis-session-12-3-"],
    });
    // The fallback prefix of task 12-3 must not cover task 12-31.
    expect(sessionKey("12-31", 1).startsWith(restoreKeys("12-3", 2).fallback[0] as string)).toBe(false);
  });

  it("escapes the cwd as Claude Code 2.1.330 names its project folder", () => {
    // Observed from the real CLI: every character outside [A-Za-z0-9] becomes "-".
    expect(projectKey("/tmp/sr/a/my.repo_x/sub dir")).toBe("-tmp-sr-a-my-repo-x-sub-dir");
    expect(projectKey("/home/runner/work/aegis/aegis")).toBe("-home-runner-work-aegis-aegis");
    expect(projectDir("/h", "/w/r")).toBe("/h/.claude/projects/-w-r");
    const long = `/${"a".repeat(250)}`;
    expect(projectKey(long)).toMatch(new RegExp(`^-${"a".repeat(199)}-[0-9a-z]+$`));
    expect(projectKey(long)).not.toBe(projectKey(`/${"a".repeat(251)}`));
  });

  it("keeps the HOME under RUNNER_TEMP at a fixed name", () => {
    expect(sessionHome("/home/runner/work/_temp")).toBe("/home/runner/work/_temp/aegis-claude-home");
    expect(stagePath("42-1", "/home/runner")).toEqual({
      pattern: "~/.aegis-session/42-1",
      dir: "/home/runner/.aegis-session/42-1",
    });
  });

  it("relocates a transcript's paths into another room, whole path prefixes only", () => {
    const from = {
      home: "/var/lib/aegis-room/aegis-agent-1/home",
      cwd: "/var/lib/aegis-room/aegis-agent-1/work",
    };
    const to = {
      home: "/var/lib/aegis-room/aegis-agent-2/home",
      cwd: "/var/lib/aegis-room/aegis-agent-2/work",
    };
    const oldProject = projectDir(from.home, from.cwd);
    const line = JSON.stringify({
      cwd: from.cwd,
      file: `${from.cwd}/src/a.ts`,
      saved: `${oldProject}/s1/tool-results/t.txt`,
      other: `${from.cwd}work/x`,
    });
    const moved = JSON.parse(relocateTranscript(`${line}\n`, from, to)) as Record<string, string>;
    expect(moved).toEqual({
      cwd: to.cwd,
      file: `${to.cwd}/src/a.ts`,
      saved: `${projectDir(to.home, to.cwd)}/s1/tool-results/t.txt`,
      other: `${from.cwd}work/x`,
    });
  });

  it("drops a record cut off by a killed process", () => {
    expect(wholeLines('{"a":1}\n{"b":')).toBe('{"a":1}\n');
    expect(wholeLines('{"a":1}\n')).toBe('{"a":1}\n');
    expect(wholeLines('{"a":')).toBe("");
  });
});

describe("without a working cache", () => {
  const base = { home: "/tmp/aegis-none/home", cwd: "/tmp/aegis-none/ws", taskId: "5-1" };
  it("no cache service: not restored and not saved, without throwing", async () => {
    const none: CacheLike = {
      isFeatureAvailable: () => false,
      restoreCache: () => Promise.reject(new Error("must not be called")),
      saveCache: () => Promise.reject(new Error("must not be called")),
    };
    expect(await restoreSession({ ...base, cache: none, attempt: 2 })).toEqual({
      restored: false,
      reason: "no cache service",
    });
    const saved = await saveSession({
      ...base,
      cache: none,
      attempt: 1,
      sessionId: "0b5e8d8e-1111-4222-8333-444455556666",
    });
    expect(saved).toMatchObject({ saved: false, reason: "no cache service" });
  });

  it("a cache that throws is a miss, and the first attempt never looks", async () => {
    let calls = 0;
    const broken: CacheLike = {
      isFeatureAvailable: () => true,
      restoreCache: () => {
        calls++;
        return Promise.reject(new Error("socket hang up"));
      },
      saveCache: () => Promise.reject(new Error("socket hang up")),
    };
    expect(await restoreSession({ ...base, cache: broken, attempt: 1 })).toEqual({
      restored: false,
      reason: "first attempt",
    });
    expect(calls).toBe(0);
    const r = await restoreSession({ ...base, cache: broken, attempt: 2 });
    expect(r).toEqual({ restored: false, reason: "socket hang up" });
  });

  it("refuses ids that would leave the project folder", async () => {
    const cacheOk: CacheLike = {
      isFeatureAvailable: () => true,
      restoreCache: async () => undefined,
      saveCache: async () => 1,
    };
    const r = await saveSession({ ...base, cache: cacheOk, attempt: 1, sessionId: "../../etc/passwd" });
    expect(r.saved).toBe(false);
    expect((await restoreSession({ ...base, cache: cacheOk, taskId: "5/../x", attempt: 2 })).restored).toBe(
      false,
    );
  });
});

describe("a HOME the agent shaped", () => {
  const sessionId = "0b5e8d8e-1111-4222-8333-444455556666";
  const capture = () => {
    const saved: string[][] = [];
    const cache: CacheLike = {
      isFeatureAvailable: () => true,
      restoreCache: async () => undefined,
      saveCache: async (paths) => {
        saved.push(paths);
        return 1;
      },
    };
    return { cache, saved };
  };

  it("a transcript or sidecar that links outside HOME is not followed into the cache", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "aegis-shaped-"));
    try {
      const home = path.join(root, "home");
      const cwd = path.join(root, "ws");
      const outside = path.join(root, "outside");
      await mkdir(cwd, { recursive: true });
      await mkdir(path.join(outside, sessionId), { recursive: true });
      await writeFile(path.join(outside, "secret.jsonl"), '{"what":"a file the agent cannot read"}\n');
      await writeFile(path.join(outside, sessionId, "x.txt"), "also not the agent's\n");
      const project = projectDir(home, await realpath(cwd));
      await mkdir(project, { recursive: true });
      // The transcript is a link to a file outside: not saved at all.
      await symlink(path.join(outside, "secret.jsonl"), path.join(project, `${sessionId}.jsonl`));
      const { cache, saved } = capture();
      const r = await saveSession({ cache, home, cwd, taskId: "5-1", attempt: 1, sessionId });
      expect(r).toMatchObject({ saved: false, reason: "no transcript" });
      expect(saved).toEqual([]);

      // A real transcript with a sidecar folder that is a link outside: the transcript alone.
      await rm(path.join(project, `${sessionId}.jsonl`));
      await writeFile(path.join(project, `${sessionId}.jsonl`), '{"type":"user"}\n');
      await symlink(path.join(outside, sessionId), path.join(project, sessionId));
      const second = capture();
      const r2 = await saveSession({ cache: second.cache, home, cwd, taskId: "5-1", attempt: 1, sessionId });
      expect(r2).toMatchObject({ saved: true, sidecar: false });
      expect(second.saved).toHaveLength(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("resume with the real claude CLI and the real @actions/cache", () => {
  let fakeCache: FakeCache;
  let runnerTemp: string;

  beforeEach(async () => {
    runnerTemp = await mkdtemp(path.join(root, "runner-temp-"));
  });

  async function withCache<T>(fn: () => Promise<T>): Promise<T> {
    fakeCache = await startFakeCache();
    delete process.env.ACTIONS_RESULTS_URL;
    Object.assign(process.env, fakeCache.env, { RUNNER_TEMP: runnerTemp });
    try {
      return await fn();
    } finally {
      await fakeCache.close();
    }
  }

  async function repo(name: string): Promise<string> {
    const cwd = path.join(root, name);
    await mkdir(cwd, { recursive: true });
    await run("git", ["init", "-q", "-b", "main", cwd]);
    await run("git", ["-C", cwd, "config", "user.name", "aegis test"]);
    await run("git", ["-C", cwd, "config", "user.email", "aegis@example.invalid"]);
    await writeFile(path.join(cwd, "README.md"), "# demo\n");
    await run("git", ["-C", cwd, "add", "."]);
    await run("git", ["-C", cwd, "commit", "-qm", "init"]);
    return cwd;
  }

  it("attempt 2 continues attempt 1's conversation after the HOME was deleted", async () => {
    await withCache(async () => {
      const cwd = await repo("ws-resume");
      const home = sessionHome(runnerTemp);
      const settings = path.join(root, "settings.json");
      const marker = "BRIEF-MARKER-7f3a91";
      // The model keeps working until it has seen its own commit in `git log`, however many
      // sessions that takes; a fresh session would start at step 0 again.
      const script = (ctx: TurnContext): Turn => {
        switch (ctx.step) {
          case 0:
            return {
              text: "Writing the note.",
              toolUses: [
                { name: "Write", input: { file_path: path.join(cwd, "NOTE.md"), content: "note\n" } },
              ],
            };
          case 1:
            return {
              text: "Committing.",
              toolUses: [
                { name: "Bash", input: { command: "git add NOTE.md && git commit -qm 'Add note'" } },
              ],
            };
          case 2:
            return {
              text: "Checking the history.",
              toolUses: [{ name: "Bash", input: { command: "git log --oneline -1" } }],
            };
          default:
            return { text: "Done. TASK_COMPLETE" };
        }
      };
      const fake = await startFakeAnthropic(script);
      try {
        const opts = (over: Partial<ClaudeSessionOptions>): ClaudeSessionOptions => ({
          executable: claudeBin(),
          cwd,
          prompt: `Add a note. ${marker}`,
          maxTurns: 2,
          settingsPath: settings,
          hooksDir: root,
          env: claudeEnv({ baseUrl: fake.url, home }),
          timeoutMs: 90_000,
          killGraceMs: 1000,
          ...over,
        });

        // Attempt 1: a fresh HOME, as run mode prepares it; ends at max turns after committing.
        await rm(home, { recursive: true, force: true });
        await mkdir(home, { recursive: true });
        const first = await runClaudeSession(opts({}));
        expect(first.result?.subtype).toBe("error_max_turns");
        const sessionId = first.sessionId as string;
        expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
        const transcript = path.join(projectDir(home, cwd), `${sessionId}.jsonl`);
        expect((await stat(transcript)).size).toBeGreaterThan(0);
        const attempt1Requests = fake.requests.length;
        expect(attempt1Requests).toBe(2);

        // A transcript that shows a value the run holds never reaches the cache.
        const refused = await saveSession({
          cache,
          home,
          cwd,
          taskId: "42-1",
          attempt: 1,
          sessionId,
          knownSecrets: [marker],
        });
        expect(refused).toMatchObject({ saved: false, reason: "the transcript holds a secret value" });
        expect(fakeCache.entries()).toHaveLength(0);

        const saved = await saveSession({
          cache,
          home,
          cwd,
          taskId: "42-1",
          attempt: 1,
          sessionId,
          knownSecrets: ["sk-ant-not-in-it-000"],
        });
        expect(saved).toMatchObject({ saved: true, key: "aegis-session-42-1-1" });
        expect(fakeCache.entries().map((e) => [e.key, e.committed])).toEqual([
          ["aegis-session-42-1-1", true],
        ]);
        // Staging is cleaned up: HOME holds only Claude Code's own files.
        await expect(stat(stagePath("42-1").dir)).rejects.toThrow();

        // A new job: nothing of the old HOME is left.
        await rm(home, { recursive: true, force: true });
        const restored = await restoreSession({ cache, home, cwd, taskId: "42-1", attempt: 2 });
        expect(restored).toEqual({ restored: true, sessionId, key: "aegis-session-42-1-1", fromAttempt: 1 });
        expect(await readFile(transcript, "utf8")).toContain(marker);

        // Attempt 2 resumes with more turns and finishes.
        const second = await runClaudeSession(
          opts({ resumeSessionId: sessionId, maxTurns: 6, prompt: "Continue the task." }),
        );
        expect(second.result?.subtype).toBe("success");
        expect(second.result?.is_error).toBe(false);
        expect(second.result?.result).toContain("TASK_COMPLETE");
        expect(second.sessionId).toBe(sessionId);

        // The resumed session's first request carries attempt 1's turns: its brief, both tool
        // calls and the Write's result.
        const resumedFirst = fake.requests[attempt1Requests];
        expect(resumedFirst).toBeDefined();
        const body = JSON.stringify(resumedFirst?.messages);
        expect(body).toContain(marker);
        expect(body).toContain("Continue the task.");
        const earlierIds = fake.requests
          .slice(0, attempt1Requests)
          .flatMap((r) => r.messages)
          .flatMap((m) =>
            Array.isArray(m.content) ? (m.content as { type?: string; tool_use_id?: string }[]) : [],
          )
          .filter((b) => b.type === "tool_result")
          .map((b) => b.tool_use_id as string);
        expect(earlierIds.length).toBeGreaterThan(0);
        for (const id of earlierIds) expect(body).toContain(id);
        expect(resumedFirst?.messages.filter((m) => m.role === "assistant").length).toBe(2);
        // It went on from step 2, not from the beginning: the note was written once.
        expect(
          fake.requests
            .slice(attempt1Requests)
            .every((r) => r.messages.filter((m) => m.role === "assistant").length >= 2),
        ).toBe(true);
        const log = await run("git", ["-C", cwd, "log", "--oneline"]);
        expect(log.stdout.match(/Add note/g)).toHaveLength(1);

        // Attempt 2 saves its own entry; a later attempt whose predecessor saved nothing takes
        // the newest entry of the task through the prefix.
        expect(await saveSession({ cache, home, cwd, taskId: "42-1", attempt: 2, sessionId })).toMatchObject({
          saved: true,
        });
        // Entries are immutable: the same attempt cannot be saved twice.
        expect(await saveSession({ cache, home, cwd, taskId: "42-1", attempt: 2, sessionId })).toMatchObject({
          saved: false,
        });
        await rm(home, { recursive: true, force: true });
        const later = await restoreSession({ cache, home, cwd, taskId: "42-1", attempt: 4 });
        expect(later).toMatchObject({ restored: true, key: "aegis-session-42-1-2", fromAttempt: 2 });
        const full = await readFile(transcript, "utf8");
        expect(full).toContain("TASK_COMPLETE");

        // No entry for another task (whose id only shares a prefix): a clean miss.
        expect(await restoreSession({ cache, home, cwd, taskId: "42-11", attempt: 2 })).toEqual({
          restored: false,
          reason: "no entry",
        });
        expect(await restoreSession({ cache, home, cwd, taskId: "7-1", attempt: 2 })).toEqual({
          restored: false,
          reason: "no entry",
        });
      } finally {
        await fake.close();
      }
    });
  });

  it("finds the transcript where the real CLI writes it for a long, symlinked cwd", async () => {
    const real = path.join(root, "d".repeat(120), "e".repeat(120));
    await mkdir(real, { recursive: true });
    const link = path.join(root, "link-to-long");
    await run("ln", ["-s", real, link]);
    const home = path.join(root, "home-long");
    await mkdir(home, { recursive: true });
    const fake = await startFakeAnthropic([{ text: "TASK_COMPLETE" }]);
    try {
      const r = await runClaudeSession({
        executable: claudeBin(),
        cwd: link,
        prompt: "Say done.",
        maxTurns: 2,
        settingsPath: path.join(root, "settings.json"),
        hooksDir: root,
        env: { ...claudeEnv({ baseUrl: fake.url, home }), PWD: link },
        timeoutMs: 60_000,
        killGraceMs: 1000,
      });
      expect(r.result?.subtype).toBe("success");
      const dirs = await readdir(path.join(home, ".claude", "projects"));
      // Named after the real path, cut at 200 characters plus a hash.
      expect(dirs).toContain(projectKey(real));
      expect(projectKey(real).length).toBeGreaterThan(200);
      expect(await readdir(projectDir(home, real))).toContain(`${r.sessionId}.jsonl`);
    } finally {
      await fake.close();
    }
  });
});
