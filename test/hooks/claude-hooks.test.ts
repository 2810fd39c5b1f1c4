// The real `claude` CLI, driven by the fake model, with hooks/settings.json: destructive commands
// never run, the model is told why, and ordinary commands still work.
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeBin, claudeEnv, startFakeAnthropic, type FakeAnthropic } from "../harness/fake-anthropic.js";
import { HOOKS_DIR } from "./spawn-hook.js";

const run = promisify(execFile);
let root: string;
let fake: FakeAnthropic | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "aegis-claude-hooks-"));
});
afterAll(async () => {
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});

const git = async (cwd: string, ...args: string[]): Promise<string> =>
  (await run("git", ["-C", cwd, ...args])).stdout.trim();

function runClaude(
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const args = [
      "-p",
      "Do the task.",
      "--output-format",
      "stream-json",
      "--verbose",
      "--max-turns",
      "10",
      "--settings",
      path.join(HOOKS_DIR, "settings.json"),
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "Bash,Edit,Write,Read",
    ];
    const child = spawn(claudeBin(), args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.split("\n").filter(Boolean) });
    });
  });
}

/**
 * A workspace with a remote and one local commit the remote lacks (a push would show), and an
 * empty home directory for the agent; names prefixed so tests do not share them.
 */
async function repoWithUnpushedCommit(prefix: string) {
  const remote = path.join(root, `${prefix}remote.git`);
  const ws = path.join(root, `${prefix}ws`);
  const home = path.join(root, `${prefix}home`);
  await mkdir(home);
  await run("git", ["init", "-q", "--bare", "-b", "main", remote]);
  await run("git", ["init", "-q", "-b", "main", ws]);
  await git(ws, "config", "user.name", "aegis test");
  await git(ws, "config", "user.email", "aegis@example.invalid");
  await writeFile(path.join(ws, "README.md"), "# demo\n");
  await git(ws, "add", ".");
  await git(ws, "commit", "-qm", "init");
  await git(ws, "remote", "add", "origin", remote);
  await git(ws, "push", "-q", "origin", "main");
  await writeFile(path.join(ws, "README.md"), "# changed locally\n");
  await git(ws, "commit", "-qam", "local change that must not reach the remote");
  return { remote, ws, home, remoteBefore: await git(remote, "rev-parse", "main") };
}

describe("claude with the aegis hooks", () => {
  it("blocks push, .git deletion and a wrapped home deletion; runs an ordinary command", async () => {
    const { remote, ws, home, remoteBefore } = await repoWithUnpushedCommit("");
    await writeFile(path.join(home, "marker.txt"), "keep me\n");

    fake = await startFakeAnthropic([
      {
        toolUses: [{ name: "Bash", input: { command: "git push --force origin main", description: "push" } }],
      },
      { toolUses: [{ name: "Bash", input: { command: "rm -rf .git", description: "delete git" } }] },
      { toolUses: [{ name: "Bash", input: { command: 'bash -c "rm -rf ~"', description: "delete home" } }] },
      { toolUses: [{ name: "Bash", input: { command: "touch ok.txt", description: "touch" } }] },
      {
        toolUses: [{ name: "Write", input: { file_path: path.join(ws, "data.json"), content: "{ broken" } }],
      },
      { text: "Done." },
    ]);
    const result = await runClaude(
      ws,
      claudeEnv({ baseUrl: fake.url, home, extra: { AEGIS_HOOKS_DIR: HOOKS_DIR } }),
    );

    // Nothing destructive happened.
    expect(await git(remote, "rev-parse", "main")).toBe(remoteBefore);
    expect(existsSync(path.join(ws, ".git", "HEAD"))).toBe(true);
    expect(readFileSync(path.join(home, "marker.txt"), "utf8")).toBe("keep me\n");
    // The ordinary command and the write ran.
    expect(existsSync(path.join(ws, "ok.txt"))).toBe(true);
    expect(existsSync(path.join(ws, "data.json"))).toBe(true);

    // The model received each block as an error tool_result carrying the gate's reason.
    const results = fake.toolResults();
    expect(results.length).toBeGreaterThanOrEqual(5);
    const [push, gitDir, homeDir, touch, write] = results;
    expect(push?.isError).toBe(true);
    expect(push?.text).toMatch(/Blocked: git push/);
    expect(gitDir?.isError).toBe(true);
    expect(gitDir?.text).toMatch(/Blocked: recursive delete.*\.git/);
    expect(homeDir?.isError).toBe(true);
    expect(homeDir?.text).toMatch(/Blocked: recursive delete.*home directory/);
    expect(touch?.isError).toBe(false);
    expect(write?.isError).toBe(false);
    // The advisory syntax check reached the model without blocking the write.
    const lastRequest = JSON.stringify(fake.requests.at(-1)?.messages ?? []);
    expect(lastRequest).toMatch(/aegis syntax check: data\.json is not valid JSON/);

    const final = result.lines
      .map((l) => JSON.parse(l) as { type: string; permission_denials?: unknown[]; is_error?: boolean })
      .find((e) => e.type === "result");
    expect(final?.is_error).toBe(false);
    expect(final?.permission_denials?.length).toBe(3);
  }, 120_000);

  it("reads a script the model wrote before running it, and refuses one written in the same command", async () => {
    const { remote, ws, home, remoteBefore } = await repoWithUnpushedCommit("scripts-");
    const marker = path.join(ws, "keep");
    await mkdir(marker);
    await writeFile(path.join(marker, "marker.txt"), "keep me\n");

    const scripted = await startFakeAnthropic([
      {
        toolUses: [
          {
            name: "Write",
            input: {
              file_path: path.join(ws, "push.sh"),
              content: "#!/bin/sh\nrm -rf keep\ngit push --force origin main\nrm -rf ~\n",
            },
          },
        ],
      },
      { toolUses: [{ name: "Bash", input: { command: "bash push.sh", description: "run the script" } }] },
      {
        toolUses: [
          {
            name: "Bash",
            input: {
              command: "printf 'rm -rf keep\\n' > wipe.sh && sh wipe.sh",
              description: "write and run",
            },
          },
        ],
      },
      {
        toolUses: [
          { name: "Write", input: { file_path: path.join(ws, "ok.sh"), content: "touch ran-ok.txt\n" } },
        ],
      },
      {
        toolUses: [{ name: "Bash", input: { command: "bash ok.sh", description: "run a harmless script" } }],
      },
      { text: "Done." },
    ]);
    try {
      const result = await runClaude(
        ws,
        claudeEnv({ baseUrl: scripted.url, home, extra: { AEGIS_HOOKS_DIR: HOOKS_DIR } }),
      );

      // Neither script's commands ran: the remote, the marker directory and the wipe script are as before.
      expect(await git(remote, "rev-parse", "main")).toBe(remoteBefore);
      expect(readFileSync(path.join(marker, "marker.txt"), "utf8")).toBe("keep me\n");
      expect(existsSync(path.join(ws, "wipe.sh"))).toBe(false);
      // The harmless script ran.
      expect(existsSync(path.join(ws, "ran-ok.txt"))).toBe(true);

      const [writePush, runPush, writeAndRun, writeOk, runOk] = scripted.toolResults();
      expect(writePush?.isError).toBe(false);
      expect(runPush?.isError).toBe(true);
      expect(runPush?.text).toMatch(/Blocked: in the script push\.sh: git push/);
      expect(writeAndRun?.isError).toBe(true);
      expect(writeAndRun?.text).toMatch(
        /Blocked: the script wipe\.sh does not exist yet.*run it in a separate command/,
      );
      expect(writeOk?.isError).toBe(false);
      expect(runOk?.isError).toBe(false);

      const final = result.lines
        .map((l) => JSON.parse(l) as { type: string; permission_denials?: unknown[]; is_error?: boolean })
        .find((e) => e.type === "result");
      expect(final?.is_error).toBe(false);
      expect(final?.permission_denials?.length).toBe(2);
    } finally {
      await scripted.close();
    }
  }, 120_000);
});
