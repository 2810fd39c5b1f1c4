// Section 6: the agent's room as the checkout grows. One `run` step through the real bundle, as a
// GitHub-hosted runner runs it (a user with passwordless sudo, a fresh RUNNER_NAME), with
// `run.testCommand` set so the tree is laid twice (the session's, then a fresh one for the
// branch's tests): on the fake's small repository, then on the same with what `npm ci` leaves in
// a mid-size project (100,000 generated files, ~500 MB, ignored by git). Figures: the step's time
// outside the session on each, their ratio, and the most disk the room took meanwhile.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, chmod, copyFile, mkdir, mkdtemp, rm, statfs, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findTask } from "../../src/core/lifecycle.js";
import type { Figure } from "./bench-report.js";
import { CONFIG, ENTRY, failureOf, USERS } from "./bench-env.js";
import { claudeBin, startFakeAnthropic, type Turn } from "./fake-anthropic.js";
import { DEFAULT_FILES, startFakeGitHub } from "./fake-github.js";
import { checkout, issueLabeledEvent, runAction, scheduleEvent, type ActionRun } from "./runner.js";
import { addLabelAs, ledgerOf, openIssue } from "./scenario.js";

const exec = promisify(execFile);
const SECTION = "6. The room as the checkout grows";
/** The big workspace's time outside the session, over the small one's. */
export const ROOM_SCALE_RATIO = 2;
/** The small workspace's time outside the session. */
export const SMALL_OVERHEAD_MS = 2000;
const BIG_FILES = 100_000;
const ROOMS = "/var/lib/aegis-room";

const SESSION: Turn[] = [
  { toolUses: [{ name: "Write", input: { file_path: "docs/usage.md", content: "# Usage\n" } }] },
  {
    toolUses: [{ name: "Bash", input: { command: "git add docs/usage.md && git commit -qm 'docs: usage'" } }],
  },
  { text: "Wrote docs/usage.md.\n\nTASK_COMPLETE" },
];

/** What `npm ci` leaves: 1,000 packages of 100 modules, 200 B to 16 KB each (≈ 520 MB). */
async function installDependencies(workspace: string, files: number): Promise<void> {
  const blob = randomBytes(1 << 20);
  const sizes = [200, 1000, 2000, 4000, 8000, 16000];
  for (let i = 0; i < files; i++) {
    const dir = path.join(workspace, "node_modules", `pkg${Math.floor(i / 100)}`, "lib");
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    const size = sizes[(i * 7919) % sizes.length]!;
    const at = (i * 104729) % (blob.length - size);
    await writeFile(path.join(dir, `m${i % 100}.js`), blob.subarray(at, at + size));
  }
  // Ignored as a project's .gitignore would: the agent's commit never takes it in.
  await appendFile(path.join(workspace, ".git", "info", "exclude"), "node_modules/\n");
}

/** The most the file system holding the rooms filled beyond `base` while `during` ran. */
async function peakDisk<T>(dir: string, during: () => Promise<T>): Promise<{ result: T; peakBytes: number }> {
  const used = async () => {
    const s = await statfs(dir);
    return (s.blocks - s.bfree) * s.bsize;
  };
  const base = await used();
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, (await used()) - base);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { result: await during(), peakBytes: peak };
  } finally {
    running = false;
    await sampler;
  }
}

interface Measured {
  outsideMs: number;
  peakBytes: number;
  how: string;
}

interface Runner {
  uid: number;
  gid: number;
  /** The runner's own node and Claude Code, which it owns (as in its externals and tool cache). */
  node: string;
  claude: string;
  remove(): Promise<void>;
}

async function sudoRunner(): Promise<Runner> {
  const name = `aegt-bench-${randomBytes(3).toString("hex")}`;
  await exec("useradd", ["--system", "--no-create-home", "--user-group", name]);
  const sudoers = `/etc/sudoers.d/${name}`;
  await writeFile(sudoers, `${name} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
  const id = async (flag: string) => Number((await exec("id", [flag, name])).stdout.trim());
  const uid = await id("-u");
  const gid = await id("-g");
  // Owned by the runner, so the room stages them by a hard link as on a hosted runner (a file of
  // root's cannot be linked by another user, and would be copied: 300 ms of a 200 MB binary).
  const tools = await mkdtemp(path.join(os.tmpdir(), "aegis-bench-tools-"));
  await chmod(tools, 0o755);
  await copyFile(process.execPath, path.join(tools, "node"));
  await chmod(path.join(tools, "node"), 0o755);
  await exec("cp", ["-a", path.dirname(path.dirname(claudeBin())), path.join(tools, "claude-code")]);
  await exec("chown", ["-R", `${uid}:${gid}`, tools]);
  return {
    uid,
    gid,
    node: path.join(tools, "node"),
    claude: path.join(
      tools,
      "claude-code",
      path.relative(path.dirname(path.dirname(claudeBin())), claudeBin()),
    ),
    async remove() {
      await rm(tools, { recursive: true, force: true });
      await rm(sudoers, { force: true });
      await exec("userdel", [name]).catch(() => undefined);
    },
  };
}

async function measure(files: number, runner: Runner, env: Record<string, string> = {}): Promise<Measured> {
  const fake = await startFakeGitHub({
    users: { ...USERS },
    files: { ...DEFAULT_FILES, ".github/aegis.yml": 'run:\n  testCommand: "node -e 0"\n' },
  });
  const anthropic = await startFakeAnthropic((ctx) => SESSION[ctx.step] ?? { text: "TASK_COMPLETE" });
  const models = {
    "claude-executable": runner.claude,
    "anthropic-base-url": anthropic.url,
    "anthropic-api-key": "sk-ant-bench",
  };
  const runs: ActionRun[] = [];
  const root = await mkdtemp(path.join(os.tmpdir(), "aegis-bench-room-"));
  try {
    const n = openIssue(fake, { title: "Document the usage", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    const plan = await runAction({
      mode: "plan",
      event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya"),
      fake,
      entry: ENTRY,
    });
    runs.push(plan);
    const taskId = (JSON.parse(plan.outputs.tasks ?? "[]") as string[])[0];
    if (plan.exitCode !== 0 || !taskId) throw new Error(`the intake claimed nothing: ${failureOf(plan)}`);
    // The job's checkout and what its `npm ci` installed, before the step (and its disk figure).
    await chmod(root, 0o755);
    const workspace = await checkout(fake, path.join(root, "workspace"));
    if (files) await installDependencies(workspace, files);
    await exec("chown", ["-R", `${runner.uid}:${runner.gid}`, workspace]);
    await mkdir(ROOMS, { recursive: true });
    const { result: run, peakBytes } = await peakDisk(ROOMS, () =>
      runAction({
        mode: "run",
        inputs: { ...models, task: taskId },
        event: scheduleEvent(fake),
        fake,
        entry: ENTRY,
        workspace,
        asUser: runner,
        node: runner.node,
        env,
        timeoutMs: 300_000,
      }),
    );
    runs.push(run);
    if (run.exitCode !== 0 || !run.outputs["pr-number"])
      throw new Error(`the run opened no PR: ${failureOf(run)}`);
    const attempt = findTask(await ledgerOf(fake), taskId)?.attempts.at(-1);
    const sessionMs = attempt?.durationMs ?? 0;
    if (!sessionMs) throw new Error("the attempt recorded no session duration");
    const how = (/The checkout in the agent's room: ([^\n]*)/.exec(run.stdout)?.[1] ?? "not said").replace(
      /\.$/,
      "",
    );
    return { outsideMs: run.durationMs - sessionMs, peakBytes, how };
  } finally {
    for (const r of runs) await r.cleanup();
    await rm(root, { recursive: true, force: true });
    await anthropic.close();
    await fake.close();
  }
}

export async function benchRoom(): Promise<Figure[]> {
  if (process.getuid?.() !== 0)
    return [
      {
        id: "room.scale",
        section: SECTION,
        label: "run's time outside the session, 100,000 files ÷ 100",
        value: null,
        unit: "×",
        target: { op: "<=", limit: ROOM_SCALE_RATIO },
        note: "needs root (to make the sudo runner and the room's users)",
      },
    ];
  const runner = await sudoRunner();
  try {
    // Warm both once so neither figure carries a first start (the CLIs' pages, the user's creation).
    await measure(0, runner);
    const small = await measure(0, runner);
    const big = await measure(BIG_FILES, runner);
    // The same tree copied, as before the view (and where a runner's kernel allows none).
    const copied = await measure(BIG_FILES, runner, { AEGIS_CHECKOUT_VIEW: "copy" });
    const mb = (b: number) => Math.round(b / 1e6);
    return [
      {
        id: "room.small-overhead-ms",
        section: SECTION,
        label: "run's time outside the session, small repository (sudo runner, tests on)",
        value: Math.round(small.outsideMs),
        unit: "ms",
        target: { op: "<=", limit: SMALL_OVERHEAD_MS },
        note: `tree: ${small.how}`,
      },
      {
        id: "room.big-overhead-ms",
        section: SECTION,
        label: `the same with ${BIG_FILES.toLocaleString("en")} installed files (~520 MB)`,
        value: Math.round(big.outsideMs),
        unit: "ms",
        note: `tree: ${big.how}`,
      },
      {
        id: "room.scale",
        section: SECTION,
        label: `run's time outside the session, ${BIG_FILES.toLocaleString("en")} files ÷ small`,
        value: Math.round((big.outsideMs / small.outsideMs) * 100) / 100,
        unit: "×",
        target: { op: "<=", limit: ROOM_SCALE_RATIO },
      },
      {
        id: "room.big-disk-mb",
        section: SECTION,
        label: "most disk the room took during that run (the checkout: ~660 MB on disk)",
        value: mb(big.peakBytes),
        unit: "MB",
        note: "sampled every 100 ms on the rooms' file system",
      },
      {
        id: "room.big-copied-ms",
        section: SECTION,
        label: "the 100,000 files copied instead (AEGIS_CHECKOUT_VIEW=copy): time outside the session",
        value: Math.round(copied.outsideMs),
        unit: "ms",
        note: `tree: ${copied.how}; most disk ${mb(copied.peakBytes)} MB`,
      },
    ];
  } finally {
    await runner.remove();
  }
}
