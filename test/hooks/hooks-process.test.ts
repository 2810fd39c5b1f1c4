// The real bundles behind the real hooks/settings.json commands, spawned through sh like Claude Code does.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORPUS_WORKSPACE, loadCorpus } from "./corpus.js";
import { HOOKS_DIR, REPO, hookCommand, mapLimit, runHook, toolEvent } from "./spawn-hook.js";

let root: string;
let ws: string;
let home: string;
const bash = (): string => hookCommand("PreToolUse", "Bash");
const bashEvent = (command: string, cwd = ws): string => toolEvent(cwd, "PreToolUse", "Bash", { command });

beforeAll(() => {
  if (!existsSync(path.join(HOOKS_DIR, "bin", "bash-gate", "index.js")))
    throw new Error("hook bundles missing: run `node scripts/build.mjs hooks`");
  root = mkdtempSync(path.join(os.tmpdir(), "aegis-hooks-"));
  ws = path.join(root, "ws");
  home = path.join(root, "home");
  mkdirSync(ws);
  mkdirSync(home);
  cpSync(CORPUS_WORKSPACE, ws, { recursive: true });
  execFileSync("git", ["init", "-q", ws]);
  execFileSync("git", ["-C", ws, "config", "alias.publish", "push origin HEAD"]);
  execFileSync("git", ["-C", ws, "config", "alias.st", "status"]);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("bash gate through hooks/settings.json", () => {
  it("blocks a destructive sample and allows a benign sample, measuring the per-call time", async () => {
    // Every fourth destructive and every third benign command: ≥ 40 real spawns across all families.
    const destructive = loadCorpus("destructive", ws).filter((_e, i) => i % 4 === 0);
    const benign = loadCorpus("benign", ws).filter((_e, i) => i % 3 === 0);
    expect(destructive.length + benign.length).toBeGreaterThanOrEqual(40);
    const env = { HOME: home };
    const bad = await mapLimit(destructive, 2, (e) => runHook(bash(), bashEvent(e.command), env));
    const good = await mapLimit(benign, 2, (e) => runHook(bash(), bashEvent(e.command), env));
    const wrong = [
      ...destructive.flatMap((e, i) =>
        bad[i]?.code === 2 ? [] : [`should block: ${e.command} (exit ${bad[i]?.code})`],
      ),
      ...benign.flatMap((e, i) =>
        good[i]?.code === 0 ? [] : [`should allow: ${e.command} (${good[i]?.stderr.trim()})`],
      ),
    ];
    expect(wrong).toEqual([]);
    for (const r of bad) expect(r.stderr.trim().split("\n")).toHaveLength(1);
    const times = [...bad, ...good].map((r) => r.ms).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? 0;
    console.log(
      `bash gate: ${times.length} spawns, median ${median.toFixed(0)} ms, max ${(times.at(-1) ?? 0).toFixed(0)} ms per call`,
    );
    expect(median).toBeLessThan(1000);
  });

  it("expands aliases defined in the repository's git config", async () => {
    expect((await runHook(bash(), bashEvent("git publish"))).code).toBe(2);
    expect((await runHook(bash(), bashEvent("git st"))).code).toBe(0);
  });

  it("blocks (exit 2) on broken stdin, missing tool_input and a missing command", async () => {
    for (const stdin of [
      "not json",
      "",
      "{}",
      JSON.stringify({ cwd: ws, tool_input: {} }),
      JSON.stringify({ cwd: ws }),
    ]) {
      const r = await runHook(bash(), stdin);
      expect(r.code, stdin).toBe(2);
      expect(r.stderr).toMatch(/blocked to be safe/);
    }
  });

  it("blocks (exit 2) when the bundle is missing or AEGIS_HOOKS_DIR is unset", async () => {
    const copy = path.join(root, "hooks-copy");
    cpSync(HOOKS_DIR, copy, { recursive: true });
    rmSync(path.join(copy, "bin", "bash-gate", "index.js"));
    const missing = await runHook(bash(), bashEvent("ls"), { AEGIS_HOOKS_DIR: copy });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(
      /^aegis bash-gate hook could not run \(exit 1\); blocked to be safe/,
    );
    expect((await runHook(bash(), bashEvent("ls"), { AEGIS_HOOKS_DIR: "" })).code).toBe(2);
  });

  it("blocks (exit 2) when the gate hangs, before the settings.json timeout", async () => {
    const r = await runHook(bash(), bashEvent("ls"), { AEGIS_HOOK_TEST_DELAY_MS: "60000" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did not decide within 10s/);
    expect(r.ms).toBeLessThan(30_000);
  }, 40_000);
});

describe("file gate", () => {
  const fileCmd = (): string => hookCommand("PreToolUse", "Write");
  const write = (file: string, env: Record<string, string> = {}, tool = "Write") =>
    runHook(fileCmd(), toolEvent(ws, "PreToolUse", tool, { file_path: file, content: "x" }), env);

  it("allows ordinary files and blocks protected ones", async () => {
    expect((await write(path.join(ws, "src", "a.ts"))).code).toBe(0);
    expect((await write("README.md")).code).toBe(0);
    for (const p of [
      ".github/workflows/ci.yml",
      ".github/aegis.yml",
      "hooks/settings.json",
      ".git/config",
      "src/../.git/hooks/pre-commit",
    ]) {
      const r = await write(p, {}, "Edit");
      expect(r.code, p).toBe(2);
      expect(r.stderr).toMatch(/^Blocked: Edit /);
    }
  });

  it("honours AEGIS_CONFIG_PATH and AEGIS_PROTECTED_PATHS", async () => {
    expect((await write("config/aegis.yml", { AEGIS_CONFIG_PATH: "config/aegis.yml" })).code).toBe(2);
    expect((await write("docs/aegis.yml", { AEGIS_CONFIG_PATH: "config/aegis.yml" })).code).toBe(0);
    expect((await write("infra/main.tf", { AEGIS_PROTECTED_PATHS: "secrets/**\ninfra/*.tf" })).code).toBe(2);
    expect((await write("infra/main.tf", { AEGIS_PROTECTED_PATHS: "secrets/**,other/**" })).code).toBe(0);
  });

  it("blocks paths outside the workspace, through .. and symlinks", async () => {
    const outside = path.join(root, "outside");
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, path.join(ws, "linkdir"));
    symlinkSync(path.join(outside, "target.txt"), path.join(ws, "link.txt"));
    symlinkSync(path.join(ws, ".git"), path.join(ws, "gitlink"));
    for (const p of [
      "../escape.txt",
      "/etc/passwd",
      path.join(home, ".bashrc"),
      "linkdir/new.txt",
      "linkdir/not/yet/there.txt",
      "link.txt",
      "gitlink/config",
    ]) {
      expect((await write(p)).code, p).toBe(2);
    }
    expect((await write("../ws/ok.txt")).code).toBe(0);
  });

  it("uses AEGIS_WORKSPACE over the event's cwd", async () => {
    const sub = path.join(ws, "pkg");
    mkdirSync(sub, { recursive: true });
    const r = await runHook(
      fileCmd(),
      toolEvent(sub, "PreToolUse", "Write", { file_path: "../.github/workflows/x.yml" }),
      { AEGIS_WORKSPACE: ws },
    );
    expect(r.code).toBe(2);
    const notebook = await runHook(
      hookCommand("PreToolUse", "NotebookEdit"),
      toolEvent(ws, "PreToolUse", "NotebookEdit", { notebook_path: "/etc/x.ipynb" }),
    );
    expect(notebook.code).toBe(2);
  });

  it("fails closed on a malformed event", async () => {
    expect((await runHook(fileCmd(), toolEvent(ws, "PreToolUse", "Write", {}))).code).toBe(2);
  });
});

describe("AskUserQuestion", () => {
  it("is always blocked with advice to decide", async () => {
    const r = await runHook(
      hookCommand("PreToolUse", "AskUserQuestion"),
      toolEvent(ws, "PreToolUse", "AskUserQuestion", { questions: [] }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Decide yourself.*reasoning/);
  });
});

describe("syntax check (PostToolUse, advisory)", () => {
  const check = async (name: string, content: string) => {
    const file = path.join(ws, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    return runHook(
      hookCommand("PostToolUse", "Write"),
      toolEvent(ws, "PostToolUse", "Write", { file_path: file, content }),
    );
  };
  const context = (stdout: string): string =>
    stdout
      ? (JSON.parse(stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput
          .additionalContext
      : "";

  it("reports broken JSON, YAML and JavaScript without blocking, and stays quiet on valid files", async () => {
    writeFileSync(path.join(ws, "package.json"), "{}");
    // TypeScript is checked only when the workspace itself can resolve the compiler.
    symlinkSync(path.join(REPO, "node_modules"), path.join(ws, "node_modules"));
    const cases: [string, string, RegExp | null][] = [
      ["data/bad.json", '{ "a": ', /not valid JSON/],
      ["data/good.json", '{ "a": 1 }', null],
      ["tsconfig.json", "{ // comments are fine here\n}", null],
      ["ci/bad.yml", "a: [1, 2\nb: c", /not valid YAML/],
      ["ci/good.yaml", "a: 1\n", null],
      ["lib/bad.mjs", "export const = 1;", /JavaScript syntax error/],
      ["lib/good.js", "const a = 1;\n", null],
      ["src/bad.ts", "const x: number = ;", /TypeScript syntax errors/],
      ["src/good.ts", "export const x: number = 1;\n", null],
    ];
    for (const [name, content, want] of cases) {
      const r = await check(name, content);
      expect(r.code, name).toBe(0);
      if (want) expect(context(r.stdout), name).toMatch(want);
      else expect(r.stdout, name).toBe("");
    }
  });

  it("never blocks, even on garbage input", async () => {
    expect((await runHook(hookCommand("PostToolUse", "Edit"), "garbage")).code).toBe(0);
  });
});
