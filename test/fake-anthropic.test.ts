import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { claudeBin, claudeEnv, startFakeAnthropic, type FakeAnthropic } from "./harness/fake-anthropic.js";

interface Run {
  code: number | null;
  events: Record<string, unknown>[];
  stderr: string;
}

function runClaude(args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(claudeBin(), args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const events = out
        .split("\n")
        .filter((l) => l.trim().startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, events, stderr: err });
    });
  });
}

describe("fake Anthropic API with the real claude CLI", () => {
  let fake: FakeAnthropic | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    fake = undefined;
    dir = undefined;
  });

  it("plays a Bash tool call then a final text, and records the tool result", async () => {
    fake = await startFakeAnthropic([
      { toolUses: [{ name: "Bash", input: { command: "echo hello-from-bash", description: "say hello" } }] },
      { text: "All done.\nTASK_COMPLETE" },
    ]);
    dir = await mkdtemp(path.join(os.tmpdir(), "aegis-fake-"));
    const home = path.join(dir, "home");
    const work = path.join(dir, "work");
    await Promise.all([mkdir(home), mkdir(work)]);
    const settings = path.join(dir, "settings.json");
    await writeFile(settings, "{}\n");
    const run = await runClaude(
      [
        "-p",
        "say hello",
        "--output-format",
        "stream-json",
        "--verbose",
        "--max-turns",
        "5",
        "--settings",
        settings,
        "--permission-mode",
        "acceptEdits",
        "--allowedTools",
        "Bash",
      ],
      claudeEnv({ baseUrl: fake.url, home }),
      work,
    );
    expect(run.code, run.stderr).toBe(0);
    const result = run.events.find((e) => e.type === "result");
    expect(result).toMatchObject({ subtype: "success", is_error: false, num_turns: 2 });
    expect(String(result?.result)).toContain("TASK_COMPLETE");
    expect(typeof result?.total_cost_usd).toBe("number");

    // Two main-agent calls: the first with no assistant turn, the second carrying the tool result.
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[0]?.messages.filter((m) => m.role === "assistant")).toHaveLength(0);
    const results = fake.toolResults();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ isError: false });
    expect(results[0]?.text).toContain("hello-from-bash");
  });

  it("answers a scripted API error with the status and error body", async () => {
    fake = await startFakeAnthropic([{ error: { status: 401, message: "invalid x-api-key" } }]);
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      body: JSON.stringify({
        model: "m",
        tools: [{ name: "Bash" }],
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      type: "error",
      error: { type: "authentication_error", message: "invalid x-api-key" },
    });
  });

  it("chooses the step from a function script with the last user message's tool results", async () => {
    const seen: number[] = [];
    fake = await startFakeAnthropic((ctx) => {
      seen.push(ctx.step);
      return { text: `step ${ctx.step} saw ${ctx.toolResults.map((r) => r.text).join(",")}` };
    });
    const body = {
      model: "m",
      stream: false,
      tools: [{ name: "Bash" }],
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: {} }] },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "out" }] }],
        },
        // Appended by --max-budget-usd; must not hide the tool results.
        { role: "system", content: "budget note" },
      ],
    };
    const res = await fetch(`${fake.url}/v1/messages`, { method: "POST", body: JSON.stringify(body) });
    const msg = (await res.json()) as { content: { text: string }[] };
    expect(seen).toEqual([1]);
    expect(msg.content[0]?.text).toBe("step 1 saw out");
    // Side requests (no Bash tool) are answered but not recorded.
    await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      body: JSON.stringify({ model: "m", stream: false, messages: [{ role: "user", content: "title?" }] }),
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.sideRequests).toBe(1);
  });
});
