// New dependencies checked before the PR: what a diff adds or upgrades in the common manifests,
// looked up in GitHub's advisory database. Through the real bundle and the real `claude`: known
// malware stops the push and fails the task naming the package; a high or critical
// vulnerability is listed in the PR body; a failed lookup is a warning there, never a silent pass;
// a change to no manifest asks GitHub nothing.
import { afterEach, describe, expect, it } from "vitest";
import { changedDependencies, lowerBound } from "../src/core/manifests.js";
import { type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import type { ActionRun } from "./harness/runner.js";
import { expectSuccess, ledgerOf, planThenRun } from "./harness/scenario.js";

describe("the dependencies a diff adds or upgrades", () => {
  it("reads package.json and npm's lockfile, requirements and pyproject, Cargo.toml and go.mod", () => {
    const { dependencies, unreadable } = changedDependencies([
      {
        path: "package.json",
        base: JSON.stringify({ dependencies: { kept: "^1.0.0", bumped: "~2.0.0" } }),
        head: JSON.stringify({
          dependencies: { kept: "^1.0.0", bumped: "~2.1.0", added: "3.x" },
          devDependencies: { local: "file:../x" },
        }),
      },
      {
        path: "web/package-lock.json",
        base: JSON.stringify({ packages: { "": {}, "node_modules/a": { version: "1.0.0" } } }),
        head: JSON.stringify({
          packages: {
            "": {},
            "node_modules/a": { version: "1.0.1" },
            "node_modules/a/node_modules/@s/b": { version: "0.2.0" },
          },
        }),
      },
      {
        path: "requirements-dev.txt",
        head: "Django_Rest.Framework>=3.14 # api\n-r base.txt\nrequests==2.31.0\n",
      },
      {
        path: "pyproject.toml",
        head: '[project]\ndependencies = ["numpy>=1.26", "attrs"]\n[tool.poetry.dependencies]\npython = "^3.11"\nflask = "^3.0"\n',
      },
      {
        path: "crates/x/Cargo.toml",
        head: '[dependencies]\nserde = { version = "1.0.190", features = ["derive"] }\nmy-rand = { package = "rand", version = "0.8" }\n[target.\'cfg(unix)\'.dependencies]\nlibc = "0.2"\n',
      },
      {
        path: "go.mod",
        head: "module x\n\ngo 1.22\n\nrequire (\n\tgolang.org/x/net v0.17.0 // indirect\n)\nrequire github.com/a/b v1.2.3\n",
      },
      { path: "Cargo.toml", head: "[dependencies\nbroken" },
      { path: "README.md", head: "not a manifest" },
    ]);
    const seen = dependencies.map((d) => `${d.ecosystem}:${d.name}@${d.version ?? "-"}`);
    expect(seen.sort()).toEqual(
      [
        "npm:bumped@2.1.0",
        "npm:added@3.0.0",
        "npm:local@-",
        "npm:a@1.0.1",
        "npm:@s/b@0.2.0",
        "pip:django-rest-framework@3.14.0",
        "pip:requests@2.31.0",
        "pip:numpy@1.26.0",
        "pip:attrs@-",
        "pip:flask@3.0.0",
        "rust:serde@1.0.190",
        "rust:rand@0.8.0",
        "rust:libc@0.2.0",
        "go:golang.org/x/net@0.17.0",
        "go:github.com/a/b@1.2.3",
      ].sort(),
    );
    expect(unreadable).toEqual(["Cargo.toml"]);
    expect(lowerBound(">= 2, < 3")).toBe("2.0.0");
  });

  it("looks an npm alias up as the package it installs, reads past a byte-order mark, and sets aside names no registry serves", () => {
    const { dependencies, invalid } = changedDependencies([
      {
        path: "package.json",
        head: `\uFEFF${JSON.stringify({ dependencies: { "left-pad": "npm:evil-pkg@1.0.0", ["x".repeat(8000)]: "1.0.0", "ok-name": "1.0.0" } })}`,
      },
      {
        path: "package-lock.json",
        head: JSON.stringify({
          packages: { "node_modules/left-pad": { name: "evil-lock", version: "2.0.0" } },
        }),
      },
      {
        path: "yarn.lock",
        head: '"left-pad@npm:evil-yarn@^1.0.0":\n  version "1.0.3"\n\n"pad@npm:^2.0.0":\n  version: 2.0.1\n  resolution: "evil-berry@npm:2.0.1"\n',
      },
    ]);
    expect(dependencies.map((d) => `${d.name}@${d.version ?? "-"}`).sort()).toEqual(
      ["evil-pkg@1.0.0", "ok-name@1.0.0", "evil-lock@2.0.0", "evil-yarn@1.0.3", "evil-berry@2.0.1"].sort(),
    );
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatch(/^package\.json: "x{80}"$/);
  });

  it("reads the lockfiles of pnpm, yarn, Cargo, poetry and Go", () => {
    const { dependencies } = changedDependencies([
      {
        path: "pnpm-lock.yaml",
        base: "lockfileVersion: '9.0'\npackages:\n  left-pad@1.3.0:\n    resolution: {integrity: x}\n",
        head: "lockfileVersion: '9.0'\npackages:\n  left-pad@1.3.0:\n    resolution: {integrity: x}\n  '@scope/pkg@2.0.1':\n    resolution: {integrity: y}\nsnapshots:\n  other@9.9.9: {}\n",
      },
      {
        path: "yarn.lock",
        head: '# yarn lockfile v1\n\n"@babel/core@^7.0.0", "@babel/core@^7.1.0":\n  version "7.24.0"\n\nms@2.1.3:\n  version "2.1.3"\n',
      },
      { path: "Cargo.lock", head: 'version = 3\n\n[[package]]\nname = "serde"\nversion = "1.0.200"\n' },
      { path: "poetry.lock", head: '[[package]]\nname = "Flask"\nversion = "3.0.3"\n' },
      {
        path: "go.sum",
        head: "golang.org/x/text v0.14.0 h1:abc=\ngolang.org/x/text v0.14.0/go.mod h1:def=\n",
      },
    ]);
    expect(dependencies.map((d) => `${d.ecosystem}:${d.name}@${d.version ?? "-"}`).sort()).toEqual(
      [
        "npm:@scope/pkg@2.0.1",
        "npm:@babel/core@7.24.0",
        "npm:ms@2.1.3",
        "rust:serde@1.0.200",
        "pip:flask@3.0.3",
        "go:golang.org/x/text@0.14.0",
      ].sort(),
    );
    expect(lowerBound("latest")).toBeUndefined();
  });
});

let fake: FakeGitHub | undefined;
let model: FakeAnthropic | undefined;
const runs: ActionRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
  await model?.close();
  await fake?.close();
  fake = model = undefined;
});

const BASE_PACKAGE = `${JSON.stringify({ name: "app", version: "1.0.0", dependencies: { kept: "^1.0.0" } }, null, 2)}\n`;

/** A session that adds `deps` to package.json (or, without any, writes a docs file) and commits. */
async function sessionAdding(deps: Record<string, string> | undefined) {
  fake = await startFakeGitHub({
    users: { maya: "maintain" },
    files: { ...DEFAULT_FILES, "package.json": BASE_PACKAGE },
  });
  const content = deps
    ? `${JSON.stringify({ name: "app", version: "1.0.0", dependencies: { kept: "^1.0.0", ...deps } }, null, 2)}\n`
    : "# Usage\n";
  const file = deps ? "package.json" : "docs/usage.md";
  model = await startFakeAnthropic((ctx) => {
    const steps: Turn[] = [
      { toolUses: [{ name: "Write", input: { file_path: file, content } }] },
      {
        toolUses: [
          {
            name: "Bash",
            input: { command: `git add ${file} && git commit -q -m 'Add what the task needs'` },
          },
        ],
      },
      { text: "Done.\nTASK_COMPLETE" },
    ];
    return steps[ctx.step] ?? { text: "Done.\nTASK_COMPLETE" };
  });
  return fake;
}

async function runTask(f: FakeGitHub): Promise<{ run: ActionRun; taskId: string }> {
  const { taskId, planned, run } = await planThenRun(
    f,
    {
      title: "Add a helper library",
      body: "Use a small library for the date formatting in the docs.",
      labels: ["documentation"],
      by: "maya",
    },
    { url: model!.url, apiKey: "sk-ant-api03-dependencyKey0123456789" },
  );
  runs.push(planned, run);
  return { run, taskId };
}

const advisoryCalls = (f: FakeGitHub) => f.calls.filter((c) => c.route === "GET /advisories");

describe("new dependencies before the PR", () => {
  it("known malware is never pushed: the task fails naming the package", async () => {
    // A name past GitHub's URL limit beside it must not make the lookup fail open.
    const f = await sessionAdding({
      "evil-helper": "^1.0.0",
      "left-pad": "1.3.0",
      ["y".repeat(8000)]: "1.0.0",
    });
    f.seedAdvisory({
      ghsaId: "GHSA-mal0-0000-0001",
      type: "malware",
      severity: "critical",
      summary: "Malicious code in evil-helper (npm)",
      ecosystem: "npm",
      vulnerabilities: [{ name: "evil-helper", range: ">= 0" }],
    });
    const { run, taskId } = await runTask(f);
    expect(run.stdout).toContain("1 malware, 0 high or critical advisories");
    expect(run.stdout).toContain("names no registry serves");
    const task = (await ledgerOf(f)).tasks.find((t) => t.id === taskId)!;
    expect(task.state).toBe("failed");
    expect(task.history.at(-1)?.reason).toContain("evil-helper (GHSA-mal0-0000-0001)");
    expect(await f.readFile(`auto/docs/${taskId}`, "package.json")).toBeNull();
    expect(
      f.store.comments.size ? [...f.store.comments.values()].map((c) => c.body).join("\n") : "",
    ).toContain("known malware");
    // One ecosystem: reviewed advisories and malware, one call each.
    expect(advisoryCalls(f)).toHaveLength(2);
  });

  it("a high or critical vulnerability is listed in the PR body; a low one is not", async () => {
    const f = await sessionAdding({ lodash: "4.17.20", tiny: "2.0.0" });
    f.seedAdvisory({
      ghsaId: "GHSA-high-0000-0002",
      type: "reviewed",
      severity: "high",
      summary: "Prototype pollution in lodash",
      ecosystem: "npm",
      vulnerabilities: [{ name: "lodash", range: "< 4.17.21" }],
    });
    f.seedAdvisory({
      ghsaId: "GHSA-low0-0000-0003",
      type: "reviewed",
      severity: "low",
      summary: "A low one in tiny",
      ecosystem: "npm",
      vulnerabilities: [{ name: "tiny", range: "< 3.0.0" }],
    });
    f.seedAdvisory({
      ghsaId: "GHSA-old0-0000-0004",
      type: "reviewed",
      severity: "critical",
      summary: "Fixed long ago in lodash",
      ecosystem: "npm",
      vulnerabilities: [{ name: "lodash", range: "< 4.0.0" }],
    });
    const { run } = await runTask(f);
    expectSuccess(run);
    const pr = [...f.store.issues.values()].find((i) => i.pull)!;
    expect(pr.body).toContain("New dependencies with known vulnerabilities");
    expect(pr.body).toContain("GHSA-high-0000-0002");
    expect(pr.body).toContain("`lodash@4.17.20`");
    expect(pr.body).not.toContain("GHSA-low0-0000-0003");
    expect(pr.body).not.toContain("GHSA-old0-0000-0004");
  });

  it("a lookup that fails is a warning in the log and the PR body, never a silent pass", async () => {
    const f = await sessionAdding({ dayjs: "1.11.10" });
    f.inject({ route: "GET /advisories", status: 500, times: Infinity });
    const { run } = await runTask(f);
    expectSuccess(run);
    expect(
      run.annotations.some((a) => a.level === "warning" && /not checked for advisories/.test(a.message)),
    ).toBe(true);
    const pr = [...f.store.issues.values()].find((i) => i.pull)!;
    expect(pr.body).toContain("New dependencies not checked for advisories");
  });

  it("a change to no manifest asks GitHub nothing", async () => {
    const f = await sessionAdding(undefined);
    const { run } = await runTask(f);
    expectSuccess(run);
    expect(advisoryCalls(f)).toHaveLength(0);
  });
});
