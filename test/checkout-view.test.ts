// The room's tree of a checkout as a view (checkout-view.ts): the room's user works in it as in
// a copy of its own — edits, adds and removes files, the installed dependencies included — while
// the runner's checkout stays as it was, the scrub holds, the layers stay out of the room's
// reach, a renewed tree is fresh, and nothing stays mounted once the room is gone.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { planScrub } from "../src/room/checkout-copy.js";
import { mountsUnder, viewUnavailable } from "../src/room/checkout-view.js";
import { openRoom } from "../src/room/room.js";
import { type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import type { ActionRun } from "./harness/runner.js";
import { expectSuccess, planThenRun } from "./harness/scenario.js";

const exec = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const TOKEN = `ghs_${"V1ewT0kenAbc".repeat(3)}`;
const asRoot = process.getuid?.() === 0;

async function gitRepo(dir: string): Promise<void> {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@x",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@x",
  };
  await mkdir(dir, { recursive: true });
  await exec("git", ["-C", dir, "init", "-q", "-b", "main"], { env });
  await writeFile(path.join(dir, "README.md"), "original\n");
  await writeFile(path.join(dir, ".gitignore"), "node_modules/\n");
  await exec("git", ["-C", dir, "add", "."], { env });
  await exec("git", ["-C", dir, "commit", "-q", "-m", "first"], { env });
  const header = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`;
  await exec("git", ["-C", dir, "config", "http.https://github.com/.extraheader", header]);
  await mkdir(path.join(dir, "node_modules", "dep"), { recursive: true });
  await writeFile(path.join(dir, "node_modules", "dep", "index.js"), "module.exports = 1;\n");
  await writeFile(path.join(dir, "gha-creds-abc.json"), `{"token":"x"}\n`);
  await writeFile(path.join(dir, "leaked.txt"), `token ${TOKEN}\n`);
}

describe.skipIf(!asRoot || viewUnavailable() !== undefined)("the checkout's view in the room", () => {
  it("is the room's to change, leaves the runner's checkout as it was, and goes with the room", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "aegis-view-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const ws = path.join(root, "ws");
    await gitRepo(ws);
    const name = `aegt-v${randomBytes(4).toString("hex")}`;
    cleanups.push(() => exec("userdel", [name]));
    const room = await openRoom({
      sandbox: "user",
      runnerTemp: root,
      userName: name,
      egress: { kind: "open" },
    });
    cleanups.push(async () => {
      await room.reap();
      await room.dispose();
    });

    const plan = await planScrub(ws, { secrets: [TOKEN], scratch: root });
    expect(plan.leftOut.map((l) => l.path).sort()).toEqual(["gha-creds-abc.json", "leaked.txt"]);
    expect(await room.takeCheckout(ws, plan, root)).toEqual({ kind: "view" });
    await room.handOver();

    const inRoom = async (script: string) => {
      const cmd = room.launch("/bin/bash", ["-c", script], { PATH: "/usr/bin:/bin", HOME: room.home });
      return (await exec(cmd.file, cmd.args, { env: cmd.env, cwd: room.work })).stdout;
    };
    const layers = path.join(room.base, "layers");
    const seen = await inRoom(
      [
        "id -u",
        "cat README.md",
        "ls gha-creds-abc.json leaked.txt 2>/dev/null | wc -l",
        "grep -c extraheader .git/config || true",
        "git -c safe.directory='*' rev-parse --verify -q HEAD >/dev/null && echo repo",
        `ls '${layers}' >/dev/null 2>&1 && echo layers-open || echo layers-closed`,
        "echo changed > README.md",
        "echo new > node_modules/dep/new.js",
        "rm node_modules/dep/index.js",
        "git -c safe.directory='*' -c user.name=a -c user.email=a@b commit -qam edit && echo committed",
      ].join("; "),
    );
    expect(seen.trim().split("\n")).toEqual([
      String(room.user!.uid),
      "original",
      "0",
      "0",
      "repo",
      "layers-closed",
      "committed",
    ]);
    // The runner's checkout: as it was, its credentials included.
    expect(await readFile(path.join(ws, "README.md"), "utf8")).toBe("original\n");
    expect(existsSync(path.join(ws, "node_modules", "dep", "index.js"))).toBe(true);
    expect(existsSync(path.join(ws, "node_modules", "dep", "new.js"))).toBe(false);
    expect(await readFile(path.join(ws, ".git", "config"), "utf8")).toContain("extraheader");
    const log = await exec("git", ["-C", ws, "log", "--oneline"]);
    expect(log.stdout.trim().split("\n")).toHaveLength(1);

    // A renewed tree is fresh: none of the room's changes, the scrub again.
    await room.reap();
    await room.renew(room.work);
    expect(await mountsUnder(room.work)).toEqual([]);
    expect(await room.takeCheckout(ws, plan, root)).toEqual({ kind: "view" });
    await room.handOver();
    expect((await inRoom("cat README.md; ls node_modules/dep")).trim().split("\n")).toEqual([
      "original",
      "index.js",
    ]);

    await room.reap();
    await room.dispose();
    expect(await mountsUnder(room.base)).toEqual([]);
    expect(existsSync(room.base)).toBe(false);
    expect(await readFile(path.join(ws, "node_modules", "dep", "index.js"), "utf8")).toBe(
      "module.exports = 1;\n",
    );
  });
});

describe.skipIf(!asRoot || viewUnavailable() !== undefined)("what the runner cannot read", () => {
  let fake: FakeGitHub | undefined;
  let model: FakeAnthropic | undefined;
  const runs: ActionRun[] = [];
  afterEach(async () => {
    for (const r of runs.splice(0)) await r.cleanup();
    await model?.close();
    await fake?.close();
    fake = model = undefined;
  });

  it("is left out of the room's tree: the view would make it the room's, unchecked", async () => {
    const runner = `aegt-vr${randomBytes(3).toString("hex")}`;
    await exec("useradd", ["--system", "--no-create-home", "--user-group", runner]);
    cleanups.push(() => exec("userdel", [runner]));
    const sudoers = `/etc/sudoers.d/${runner}`;
    await writeFile(sudoers, `${runner} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
    cleanups.push(() => rm(sudoers, { force: true }));
    const id = async (flag: string) => Number((await exec("id", [flag, runner])).stdout.trim());
    const asUser = { uid: await id("-u"), gid: await id("-g") };
    fake = await startFakeGitHub({
      users: { maya: "maintain" },
      files: { ...DEFAULT_FILES, ".gitignore": "closed/\nsealed.txt\n" },
    });
    const probe = Buffer.from(
      `const fs = require("fs"); const out = {};
for (const f of ["sealed.txt", "closed/inner.txt"]) {
  try { fs.chmodSync(f, 0o600); } catch (e) {}
  try { out[f] = fs.readFileSync(f, "utf8"); } catch (e) { out[f] = e.code; }
}
fs.writeFileSync("probe.json", JSON.stringify(out));`,
    ).toString("base64");
    model = await startFakeAnthropic((ctx) => {
      const steps: Turn[] = [
        // Refused by the Bash gate (the script is not there to read): the summary's list says so.
        { toolUses: [{ name: "Bash", input: { command: "node not-written-yet.cjs" } }] },
        { toolUses: [{ name: "Bash", input: { command: `echo ${probe} | base64 -d > probe.cjs` } }] },
        {
          toolUses: [
            {
              name: "Bash",
              input: { command: "node probe.cjs && git add probe.json probe.cjs && git commit -qm probe" },
            },
          ],
        },
        { text: "Done.\nTASK_COMPLETE" },
      ];
      return steps[ctx.step] ?? { text: "Done.\nTASK_COMPLETE" };
    });
    const { taskId, planned, run } = await planThenRun(
      fake,
      {
        title: "Document the layout",
        body: "Describe the layout of the repository in a docs file.",
        labels: ["documentation"],
        by: "maya",
      },
      { url: model.url, apiKey: "sk-ant-api03-viewKey0123456789" },
      {
        asUser,
        // Another step left files the runner itself cannot read (chowned to it by the emulator).
        prepareHome: async (home) => {
          const ws = path.join(path.dirname(home), "workspace");
          await writeFile(path.join(ws, "sealed.txt"), `token ${TOKEN}\n`, { mode: 0o000 });
          await mkdir(path.join(ws, "closed"));
          await writeFile(path.join(ws, "closed", "inner.txt"), `token ${TOKEN}\n`);
          await chmod(path.join(ws, "closed"), 0o300);
        },
      },
    );
    runs.push(planned, run);
    if (process.env.AEGIS_TEST_LOG) console.log(run.stdout, JSON.stringify(model.toolResults(), null, 1));
    expectSuccess(run);
    expect(run.stdout).toContain("a view over the runner's checkout");
    expect(run.stdout).toMatch(
      /Left out of the agent's tree of the checkout: sealed\.txt \(the action cannot read it/,
    );
    // The step summary lists the session's tool calls, the refused one marked.
    if (process.env.AEGIS_TEST_LOG) console.log(run.summary);
    expect(run.summary).toContain("<details><summary>Tool calls: 3 (1 refused)</summary>");
    expect(run.summary).toMatch(/`Bash` `node not-written-yet\.cjs` — \*\*refused by a hook\*\*/);
    const found = JSON.parse((await fake.readFile(`auto/docs/${taskId}`, "probe.json"))!) as Record<
      string,
      string
    >;
    expect(found).toEqual({ "sealed.txt": "ENOENT", "closed/inner.txt": "ENOENT" });
  });
});
