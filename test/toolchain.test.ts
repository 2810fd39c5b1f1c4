// The job's toolchain in the agent's room, through the real bundle and the real `claude` CLI: a
// cargo that an earlier step installed in the runner's HOME (on PATH, CARGO_HOME set) runs in the
// session and in the test ratchet, read-only; the credentials beside it in that HOME stay out of
// reach of the code the agent plants, and nothing else of the HOME is there.
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import { promisify } from "node:util";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import type { ActionRun } from "./harness/runner.js";
import { expectSuccess, ledgerOf, planThenRun } from "./harness/scenario.js";
import { sudoRunner } from "./harness/sudo-runner.js";

const exec = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const NPM_SECRET = "npm_toolchainTestSecret0123456789abcdef";
const DOCKER_SECRET = "ZG9ja2VyOnRvb2xjaGFpblNlY3JldA==";

let fake: FakeGitHub | undefined;
let model: FakeAnthropic | undefined;
const runs: ActionRun[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await model?.close();
  await fake?.close();
  fake = model = undefined;
});

const bash = (command: string): Turn => ({
  toolUses: [{ name: "Bash", input: { command, description: "step" } }],
});

/** The probe the agent plants: uses the toolchain, then tries the rest of the runner's HOME. */
const probe = (home: string) => `
const fs = require("fs"), { execFileSync } = require("child_process");
const out = {};
try { out.cargo = execFileSync("cargo", ["--version"], { encoding: "utf8" }).trim(); } catch (e) { out.cargo = "failed: " + e.message; }
// The names past the Bash hook's eye (a first layer, never the wall).
out.loot = ["Lm5wbXJj", "LmRvY2tlci9jb25maWcuanNvbg==", "LmdpdC1jcmVkZW50aWFscw=="].map((b) => Buffer.from(b, "base64").toString()).map((f) => { try { return fs.readFileSync(${JSON.stringify(home)} + "/" + f, "utf8"); } catch (e) { return e.code; } });
try { out.home = fs.readdirSync(${JSON.stringify(home)}).sort(); } catch (e) { out.home = e.code; }
try { fs.writeFileSync(${JSON.stringify(home)} + "/.cargo/bin/planted", "x"); out.write = "written"; } catch (e) { out.write = e.code; }
fs.writeFileSync("probe.json", JSON.stringify(out, null, 1));
`;

describe.skipIf(!asRoot)("the job's toolchain in the room", () => {
  it.each([
    ["as root (self-hosted runners)", false],
    ["as a runner with passwordless sudo (GitHub-hosted runners)", true],
  ])(
    "%s: a cargo in the runner's HOME runs in the session and the ratchet, read-only; the HOME's credentials stay out of reach",
    async (_name, sudo) => {
      const asUser = sudo ? await sudoRunner(cleanups) : undefined;
      let runnerHome = "";
      fake = await startFakeGitHub({
        users: { maya: "maintain" },
        files: { ...DEFAULT_FILES, ".github/aegis.yml": 'run:\n  testCommand: "cargo --version"\n' },
      });
      model = await startFakeAnthropic((ctx) => {
        const source = Buffer.from(probe(runnerHome), "utf8").toString("base64");
        const steps: Turn[] = [
          bash(`echo ${source} > p.b64 && base64 -d p.b64 > probe.cjs && rm p.b64`),
          bash("node probe.cjs && git add probe.json probe.cjs && git commit -q -m 'Probe the toolchain'"),
          { text: "Done.\nTASK_COMPLETE" },
        ];
        return steps[ctx.step] ?? { text: "Done.\nTASK_COMPLETE" };
      });
      const { taskId, planned, run } = await planThenRun(
        fake,
        {
          title: "Document the build",
          body: "Explain how to build the project with cargo in a docs file.",
          labels: ["documentation"],
          by: "maya",
        },
        { url: model.url, apiKey: "sk-ant-api03-toolchainKey0123456789" },
        {
          ...(asUser ? { asUser } : {}),
          // What rustup leaves: cargo in ~/.cargo/bin, CARGO_HOME in HOME; beside it, the job's credentials.
          prepareHome: async (home) => {
            runnerHome = home;
            const bin = path.join(home, ".cargo", "bin");
            await mkdir(bin, { recursive: true });
            await writeFile(path.join(bin, "cargo"), '#!/bin/sh\necho "cargo 1.99.0-aegis-test"\n', {
              mode: 0o755,
            });
            for (const d of [path.join(home, ".cargo"), bin]) await chmod(d, 0o755);
            await writeFile(path.join(home, ".npmrc"), `//registry.npmjs.org/:_authToken=${NPM_SECRET}\n`, {
              mode: 0o644,
            });
            await mkdir(path.join(home, ".docker"), { mode: 0o755 });
            await writeFile(
              path.join(home, ".docker", "config.json"),
              `{"auths":{"x":{"auth":"${DOCKER_SECRET}"}}}`,
              {
                mode: 0o644,
              },
            );
            await writeFile(path.join(home, ".git-credentials"), `https://x:${NPM_SECRET}@github.com\n`, {
              mode: 0o600,
            });
            await chmod(home, 0o755);
            return {
              PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
              CARGO_HOME: path.join(home, ".cargo"),
            };
          },
        },
      );
      runs.push(planned, run);
      if (process.env.AEGIS_TEST_LOG) console.log(run.stdout, JSON.stringify(model.toolResults(), null, 1));
      expectSuccess(run);
      expect(run.stdout).toContain("The job's toolchain, read-only in the agent's room:");
      // The ratchet ran cargo as the room's user, on the base and on the branch.
      expect(run.stdout).toMatch(/Tests on the base: pass/);
      expect(run.stdout).toMatch(/Tests on the branch: pass/);
      const task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
      expect(task.state).toBe("pr-open");
      const found = JSON.parse((await fake.readFile(`auto/docs/${taskId}`, "probe.json"))!) as {
        cargo: string;
        loot: string[];
        home: string[] | string;
        write: string;
      };
      expect(found.cargo).toBe("cargo 1.99.0-aegis-test");
      expect(found.loot).toEqual(["ENOENT", "ENOENT", "ENOENT"]);
      expect(found.home).toEqual([".cargo"]);
      expect(found.write).toBe("EROFS");
      await expect(stat(path.join(runnerHome, ".cargo", "bin", "planted"))).rejects.toThrow();
      // The HOME's own files are untouched.
      expect(await readFile(path.join(runnerHome, ".npmrc"), "utf8")).toContain(NPM_SECRET);
    },
  );
});

describe.skipIf(!asRoot)("the README's Node recipe in the room", () => {
  it("a node that actions/setup-node put in the tool cache, and what npm ci installed, run in the session and the ratchet", async () => {
    const asUser = await sudoRunner(cleanups);
    // As /opt/hostedtoolcache on a hosted runner: outside HOME, readable by every user.
    const toolCache = await mkdtemp(path.join(os.tmpdir(), "aegis-hostedtoolcache-"));
    cleanups.push(() => rm(toolCache, { recursive: true, force: true }));
    await chmod(toolCache, 0o755);
    const nodeBin = path.join(toolCache, "node", "24.0.0", "x64", "bin");
    await mkdir(nodeBin, { recursive: true });
    // A node that says it is the set-up one, and is the real one underneath.
    await writeFile(
      path.join(nodeBin, "node"),
      `#!/bin/sh\nSETUP_NODE=24.0.0 exec ${process.execPath} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    await exec("chmod", ["-R", "a+rX", toolCache]);
    fake = await startFakeGitHub({
      users: { maya: "maintain" },
      files: {
        ...DEFAULT_FILES,
        ".gitignore": "node_modules/\n",
        ".github/aegis.yml": 'run:\n  testCommand: "node_modules/.bin/greet --check"\n',
      },
    });
    model = await startFakeAnthropic((ctx) => {
      const steps: Turn[] = [
        bash(
          "node_modules/.bin/greet > greeting.txt && git add greeting.txt && git commit -q -m 'Add the greeting'",
        ),
        { text: "Done.\nTASK_COMPLETE" },
      ];
      return steps[ctx.step] ?? { text: "Done.\nTASK_COMPLETE" };
    });
    const { taskId, planned, run } = await planThenRun(
      fake,
      {
        title: "Document the greeting",
        body: "Write the greeting the greet tool prints into a docs file.",
        labels: ["documentation"],
        by: "maya",
      },
      { url: model.url, apiKey: "sk-ant-api03-toolchainKey0123456789" },
      {
        asUser,
        // The steps before aegis: setup-node (node on PATH from the tool cache), then npm ci.
        prepareHome: async (home) => {
          const workspace = path.join(path.dirname(home), "workspace");
          const pkg = path.join(workspace, "node_modules", "greet");
          await mkdir(path.join(pkg, "bin"), { recursive: true });
          await writeFile(
            path.join(pkg, "bin", "greet.js"),
            "#!/usr/bin/env node\nconsole.log(`hello from greet, on the set-up node ${process.env.SETUP_NODE ?? 'NOT'}`);\n",
            { mode: 0o755 },
          );
          await mkdir(path.join(workspace, "node_modules", ".bin"));
          await symlink("../greet/bin/greet.js", path.join(workspace, "node_modules", ".bin", "greet"));
          return { PATH: `${nodeBin}:${process.env.PATH ?? "/usr/bin:/bin"}`, RUNNER_TOOL_CACHE: toolCache };
        },
      },
    );
    runs.push(planned, run);
    if (process.env.AEGIS_TEST_LOG) console.log(run.stdout, JSON.stringify(model.toolResults(), null, 1));
    expectSuccess(run);
    expect(run.stdout).toMatch(/Tests on the base: pass/);
    expect(run.stdout).toMatch(/Tests on the branch: pass/);
    expect((await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!.state).toBe("pr-open");
    expect(await fake.readFile(`auto/docs/${taskId}`, "greeting.txt")).toBe(
      "hello from greet, on the set-up node 24.0.0\n",
    );
    // What npm ci installed stayed out of the commit.
    expect(await fake.readFile(`auto/docs/${taskId}`, "node_modules/greet/bin/greet.js")).toBeNull();
  });
});
