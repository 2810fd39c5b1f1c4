import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { globMatches, pathPolicy, writeRefusal } from "../../src/hooks/paths.js";
import { resolveReal } from "../../src/hooks/resolve.js";

describe("write rules", () => {
  const policy = pathPolicy("/ws", {
    AEGIS_CONFIG_PATH: "ops/aegis.yml",
    AEGIS_PROTECTED_PATHS: "secrets/**\n*.pem, docs/legal",
  });
  it.each([
    ["/ws/.github/workflows/ci.yml", /protected/],
    ["/ws/ops/aegis.yml", /protected/],
    ["/ws/hooks/x.js", /protected/],
    ["/ws/.git/config", /\.git/],
    ["/ws/sub/.git/HEAD", /\.git/],
    ["/ws/secrets/a/b", /protected/],
    ["/ws/key.pem", /protected/],
    ["/ws/docs/legal/terms.md", /protected/],
    ["/elsewhere/x", /outside the workspace/],
    ["/ws", /workspace root/],
  ])("refuses %s", (p, want) => expect(writeRefusal(p, policy)).toMatch(want));
  it.each(["/ws/src/a.ts", "/ws/docs/aegis.yml", "/ws/docs/readme.md", "/ws/hooksy/x"])("allows %s", (p) =>
    expect(writeRefusal(p, policy)).toBeNull(),
  );
  it("with run.instructionChanges: flag, only the instruction files open up; the maintainers' own globs still hold", () => {
    const flag = pathPolicy("/ws", {
      AEGIS_PROTECTED_PATHS: "docs/AGENTS.md",
      AEGIS_INSTRUCTIONS_WRITABLE: "1",
    });
    for (const p of [
      "/ws/AGENTS.md",
      "/ws/src/CLAUDE.md",
      "/ws/.github/copilot-instructions.md",
      "/ws/.github/instructions/ts.instructions.md",
    ])
      expect(writeRefusal(p, flag), p).toBeNull();
    for (const p of [
      "/ws/.github/workflows/ci.yml",
      "/ws/.github/aegis.yml",
      "/ws/.claude/settings.json",
      "/ws/.claude/CLAUDE.md",
      "/ws/.github/workflows/AGENTS.md",
      "/ws/.github/instructions/run.yml",
      "/ws/docs/AGENTS.md",
    ])
      expect(writeRefusal(p, flag), p).toMatch(/protected/);
    expect(writeRefusal("/ws/AGENTS.md", policy)).toMatch(/protected path \(\*\*\/AGENTS\.md\)/);
  });
  it("matches globs like the shell", () => {
    expect(globMatches("src/**/*.ts", "src/a/b/c.ts")).toBe(true);
    expect(globMatches("src/*.ts", "src/a/b.ts")).toBe(false);
    expect(globMatches("hooks/", "hooks/bin/x")).toBe(true);
  });
});

describe("resolveReal", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "aegis-resolve-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("follows symlinked parents, missing files and dangling links", () => {
    mkdirSync(path.join(dir, "real"));
    symlinkSync(path.join(dir, "real"), path.join(dir, "link"));
    symlinkSync("/nowhere/target", path.join(dir, "dangling"));
    const real = resolveReal(path.join(dir, "real"), "/");
    expect(resolveReal("link/a/b.txt", dir)).toBe(path.join(real, "a", "b.txt"));
    expect(resolveReal("dangling", dir)).toBe("/nowhere/target");
    expect(resolveReal("x/../real/y", dir)).toBe(path.join(real, "y"));
  });
});
