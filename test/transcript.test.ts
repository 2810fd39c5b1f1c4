// The session's transcript as a workflow artifact, through the real bundle, the real Claude Code
// against a scripted model, the fake GitHub and the fake artifact service (the real
// `@actions/artifact` protocol): uploaded once per session, secrets masked, the room's paths
// shortened, linked from the PR, the status comment, the step summary and the ledger.
import { link, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readableTranscript } from "../src/core/transcript.js";
import { projectDir } from "../src/room/session-store.js";
import { readSessionTranscript } from "../src/room/transcript-file.js";
import { claudeBin, type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { type FakeArtifacts, startFakeArtifacts } from "./harness/fake-artifacts.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { type ActionRun, runAction, workflowDispatchEvent } from "./harness/runner.js";
import { expectSuccess, ledgerOf, openIssue, planOnLabel } from "./harness/scenario.js";
import { sudoRunner } from "./harness/sudo-runner.js";

const API_KEY = "sk-ant-api03-transcriptKey0123456789abcdef";

let fake: FakeGitHub | undefined;
let artifacts: FakeArtifacts | undefined;
let model: FakeAnthropic | undefined;
const runs: ActionRun[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await model?.close();
  await artifacts?.close();
  await fake?.close();
  fake = artifacts = model = undefined;
});

const bash = (command: string): Turn => ({
  toolUses: [{ name: "Bash", input: { command, description: "step" } }],
});

/** A docs task claimed by plan and run with `turns`; the artifact service on unless `service` is false. */
async function session(
  turns: (token: string) => Turn[],
  opts: {
    service?: boolean;
    config?: string;
    arm?: (a: FakeArtifacts) => void;
    asUser?: { uid: number; gid: number };
  } = {},
) {
  fake = await startFakeGitHub({
    users: { maya: "maintain" },
    ...(opts.config ? { files: { ".github/aegis.yml": opts.config } } : {}),
  });
  artifacts = await startFakeArtifacts();
  opts.arm?.(artifacts);
  const script = turns(fake.token);
  model = await startFakeAnthropic((ctx) => script[ctx.step] ?? { text: "TASK_COMPLETE" });
  const n = openIssue(fake, {
    title: "Document the install steps",
    body: "Add an INSTALL.md that says how to install the tool.",
    labels: ["documentation"],
    by: "maya",
  });
  const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
  runs.push(planned);
  const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
  const runId = 4242;
  const run = await runAction({
    mode: "run",
    inputs: {
      task: taskId,
      "claude-executable": claudeBin(),
      "anthropic-base-url": model.url,
      "anthropic-api-key": API_KEY,
    },
    event: workflowDispatchEvent(fake),
    fake,
    runId,
    ...(opts.asUser ? { asUser: opts.asUser } : {}),
    env: { CLAUDE_CODE_MAX_RETRIES: "0", ...(opts.service === false ? {} : artifacts.envFor(fake.url)) },
    timeoutMs: 150_000,
  });
  runs.push(run);
  if (process.env.AEGIS_TEST_LOG) console.log(run.stdout, run.stderr);
  expectSuccess(run);
  const ledger = await ledgerOf(fake);
  return { n, taskId, runId, run, task: ledger.tasks.find((t) => t.id === taskId)! };
}

const WORK = (token: string): Turn[] => [
  // A tool result that shows a credential: the artifact must not.
  bash(`printf 'token=%s\\n' '${token}' && pwd`),
  bash("echo '# Install' > INSTALL.md && git add INSTALL.md && git commit -qm 'docs: install'"),
  { text: "Wrote INSTALL.md.\nTASK_COMPLETE" },
];

describe("the session's transcript as a workflow artifact", () => {
  it("is uploaded once with the tool calls, no secret and short paths, and linked from the PR, the status comment and the summary", async () => {
    // As GitHub-hosted runners run it: a runner user with sudo, which takes the room's HOME back
    // before it reads the transcript (as root, on self-hosted runners, the other tests).
    const asUser = process.getuid?.() === 0 ? await sudoRunner(cleanups) : undefined;
    const { n, taskId, runId, run, task } = await session(WORK, asUser ? { asUser } : {});
    expect(task.state).toBe("pr-open");
    const uploaded = artifacts!.artifacts();
    expect(uploaded).toHaveLength(1);
    const a = uploaded[0]!;
    expect(a.name).toBe(`aegis-transcript-${taskId}-attempt-1.jsonl`);
    expect(a.finalized).toBe(true);
    const text = a.content!.toString("utf8");
    const records = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(3);
    // (Booleans: a failure should not print a transcript of megabytes.)
    expect(text.includes('"name":"Bash"')).toBe(true);
    expect(text.includes("INSTALL.md")).toBe(true);
    expect(text.includes(fake!.token)).toBe(false);
    expect(text.includes(API_KEY)).toBe(false);
    expect(text.includes("token=***")).toBe(true);
    // `pwd` printed the room's checkout; the reader sees it by name, not by the job's paths.
    expect(text.includes("<checkout>")).toBe(true);
    expect(text.match(/.{0,60}aegis-room.{0,60}/)?.[0]).toBeUndefined();

    const page = `http://github.localhost:${new URL(fake!.url).port}/${fake!.owner}/${fake!.repo}/actions/runs/${runId}/artifacts/${a.id}`;
    expect(task.attempts[0]!.transcript).toBe(page);
    expect(fake!.pulls()[0]!.body).toContain(`](${page})`);
    const status = fake!.comments(n).find((c) => c.body.includes("aegis:status"))!.body;
    expect(status).toContain(`](${page})`);
    expect(run.summary).toContain(`](${page})`);
    expect(run.stdout).toMatch(/masked in the artifact/);
  });

  it("a CreateArtifact whose answer was lost is neither doubled nor lost: one finished artifact, linked", async () => {
    // The first CreateArtifact lands and answers 500; the library's retry is refused as a
    // duplicate name, and the created-but-unfinished artifact can never be finished.
    const { run, task } = await session(WORK, { arm: (a) => a.failNext("CreateArtifact", "after") });
    const done = artifacts!.artifacts().filter((a) => a.finalized);
    expect(done).toHaveLength(1);
    expect(done[0]!.name).toMatch(/\.retry\.jsonl$/);
    expect(task.attempts[0]!.transcript).toMatch(new RegExp(`/artifacts/${done[0]!.id}$`));
    expect(run.summary).toContain(`/artifacts/${done[0]!.id})`);
  });

  it("a FinalizeArtifact whose answer was lost links the artifact it finished", async () => {
    const { task } = await session(WORK, { arm: (a) => a.failNext("FinalizeArtifact", "after") });
    const done = artifacts!.artifacts().filter((a) => a.finalized);
    expect(done).toHaveLength(1);
    expect(task.attempts[0]!.transcript).toMatch(new RegExp(`/artifacts/${done[0]!.id}$`));
  });

  it("without an artifact service the summary says why there is none, and run.transcript: false uploads nothing", async () => {
    const missing = await session(WORK, { service: false });
    expect(missing.task.state).toBe("pr-open");
    expect(missing.run.summary).toMatch(/Transcript \| none \(no artifact service on this runner\)/);
    expect(missing.task.attempts[0]!.transcript).toBeUndefined();
    await missing.run.cleanup();

    for (const r of runs.splice(0)) await r.cleanup();
    await model?.close();
    await artifacts?.close();
    await fake?.close();
    fake = artifacts = model = undefined;
    const off = await session(WORK, { config: "run:\n  transcript: false\n" });
    expect(off.task.state).toBe("pr-open");
    expect(artifacts!.artifacts()).toHaveLength(0);
    expect(off.run.summary).not.toContain("Transcript");
  });
});

describe("what the artifact holds", () => {
  const SECRET = "ghs_transcriptUnitSecret0123456789";
  it("masks a secret plainly, base64-encoded at any offset and JSON-escaped, and shortens the room's paths", () => {
    const quoted = 'p"q\\r' + SECRET;
    const raw = [
      JSON.stringify({ out: `token ${SECRET}` }),
      JSON.stringify({ out: Buffer.from(`x:${SECRET}`).toString("base64") }),
      JSON.stringify({ out: quoted }),
      JSON.stringify({ cwd: "/var/lib/room/work", home: "/var/lib/room/home/.claude" }),
    ].join("\n");
    const out = readableTranscript(`${raw}\n`, {
      secrets: [SECRET, quoted],
      paths: [
        { from: "/var/lib/room", to: "<room>" },
        { from: "/var/lib/room/work", to: "<checkout>" },
        { from: "/var/lib/room/home", to: "~" },
      ],
    });
    expect(out.text).not.toContain(SECRET);
    expect(out.text).not.toContain(Buffer.from(SECRET).toString("base64").slice(4, 30));
    expect(out.masked).toBeGreaterThanOrEqual(3);
    expect(out.text).toContain('"cwd":"<checkout>","home":"~/.claude"');
  });

  it("a transcript past the cap is cut at a whole line, and says so", () => {
    const line = `${JSON.stringify({ x: "a".repeat(100) })}\n`;
    const out = readableTranscript(line.repeat(50), { secrets: [], paths: [], maxBytes: 1000 });
    expect(out.truncated).toBe(true);
    const lines = out.text.trim().split("\n");
    for (const l of lines) JSON.parse(l);
    expect(lines.at(-1)).toContain("transcript cut at 1000 bytes");
  });

  it("a transcript that is a symbolic or a hard link is not read", async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), "aegis-transcript-"));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const cwd = path.join(home, "work");
    await mkdir(cwd);
    const dir = projectDir(home, await realpath(cwd));
    await mkdir(dir, { recursive: true });
    const outside = path.join(home, "..", `${path.basename(home)}-secret`);
    await writeFile(outside, "the action's file\n");
    cleanups.push(() => rm(outside, { force: true }));
    const sid = "0b5f7c1e-8a2d-4c3b-9e1f-2a3b4c5d6e7f";
    await symlink(outside, path.join(dir, `${sid}.jsonl`));
    expect(await readSessionTranscript(home, cwd, sid)).toEqual({
      reason: expect.stringMatching(/not a regular file/),
    });
    await rm(path.join(dir, `${sid}.jsonl`));
    await link(outside, path.join(dir, `${sid}.jsonl`));
    expect(await readSessionTranscript(home, cwd, sid)).toEqual({
      reason: expect.stringMatching(/hard link/),
    });
    await rm(path.join(dir, `${sid}.jsonl`));
    await writeFile(path.join(dir, `${sid}.jsonl`), '{"type":"user"}\n{"cut');
    expect(await readSessionTranscript(home, cwd, sid)).toEqual({ text: '{"type":"user"}\n' });
  });
});
