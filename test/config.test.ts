import { readFileSync } from "node:fs";
import { DEFAULT_EGRESS } from "../src/core/egress.js";
import { describe, expect, it } from "vitest";
import { configJsonSchema, ConfigError, DEFAULT_LABEL_MAP, parseConfig } from "../src/config.js";

const fail = (text: string) => {
  try {
    parseConfig(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
};

describe("config defaults", () => {
  it("an absent, empty or null file means the original pipeline's defaults", () => {
    for (const text of [undefined, "", "  \n", "# only a comment\n", "~"]) {
      const config = parseConfig(text);
      expect(config.triggerLabel).toBe("aegis");
      expect(config.approvalLabel).toBe("aegis-approved");
      expect(config.revertLabel).toBe("aegis-revert");
      expect(config.labels).toEqual(DEFAULT_LABEL_MAP);
      expect(config.skipLabels).toEqual(["wishlist", "roadmap", "epic", "blocked", "in-progress"]);
      expect(config.priorityLabels).toEqual(["priority:critical", "priority:high", "priority:low"]);
      expect(config.minBodyLength).toBe(20);
      expect(config.allowedBots).toEqual([]);
      expect(config.caps).toEqual({ pendingPerRepo: 5, running: 2 });
      expect(config.run).toEqual({
        maxTurns: 25,
        timeoutMinutes: 30,
        maxAttempts: 2,
        testCommand: "",
        protectedPaths: [],
        instructionChanges: "refuse",
        transcript: true,
        maxChangedFiles: 100,
        maxDiffBytes: 1_000_000,
        sandbox: "user",
        egress: [...DEFAULT_EGRESS],
        verifiedCommits: false,
        draft: false,
      });
      expect(config.budgets).toEqual({ perTaskUsd: 5, dailyUsd: 0, monthlyUsd: 0 });
      expect(config.review).toEqual({ maxFindings: 5, timeoutMinutes: 10, autoFix: 0, maxFixRounds: 3 });
      expect(config.breaker).toEqual({ threshold: 3 });
      expect(config.models).toEqual({});
    }
  });

  it("the default label map is the original pipeline's", () => {
    expect(DEFAULT_LABEL_MAP).toEqual({
      bug: { category: "bugfix", authority: "proposed" },
      enhancement: { category: "feature", authority: "proposed" },
      documentation: { category: "docs", authority: "auto_safe" },
      test: { category: "tests", authority: "auto_safe" },
      research: { category: "research", authority: "auto_safe" },
      refactor: { category: "refactor", authority: "auto_safe" },
    });
  });

  it("a partial section keeps the other defaults of that section", () => {
    const config = parseConfig("caps: { running: 1 }\nrun: { testCommand: npm test }\n");
    expect(config.caps).toEqual({ pendingPerRepo: 5, running: 1 });
    expect(config.run.testCommand).toBe("npm test");
    expect(config.run.maxTurns).toBe(25);
  });

  it("labels replace the default map rather than merging into it", () => {
    const config = parseConfig("labels:\n  chore: { category: chore, authority: auto_safe }\n");
    expect(Object.keys(config.labels)).toEqual(["chore"]);
  });

  it("the result is frozen", () => {
    const config = parseConfig("");
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.caps)).toBe(true);
  });
});

describe("config errors name the field and the expected form", () => {
  it.each([
    ["caps: { pendingPerRepo: five }", 'caps.pendingPerRepo: expected a positive integer, got "five"'],
    ["caps: { pendingPerRepo: 0 }", "caps.pendingPerRepo: expected a positive integer, got 0"],
    ["caps: { running: 1.5 }", "caps.running: expected a positive integer, got 1.5"],
    ["run: { maxTurns: -3 }", "run.maxTurns: expected a positive integer, got -3"],
    ["run: { testCommand: 5 }", "run.testCommand: expected a shell command, got 5"],
    ["run: { protectedPaths: docs }", 'run.protectedPaths: expected a list of path globs, got "docs"'],
    ["budgets: { dailyUsd: -1 }", "budgets.dailyUsd: expected an amount in USD (a number ≥ 0), got -1"],
    [
      "budgets: { perTaskUsd: lots }",
      'budgets.perTaskUsd: expected an amount in USD (a number ≥ 0), got "lots"',
    ],
    ["review: { maxFindings: 0 }", "review.maxFindings: expected a positive integer, got 0"],
    ["minBodyLength: -1", "minBodyLength: expected a non-negative integer, got -1"],
    ["triggerLabel: ''", 'triggerLabel: expected a non-empty label name, got ""'],
    ["skipLabels: wishlist", 'skipLabels: expected a list of label names, got "wishlist"'],
    ["allowedBots: [1]", "allowedBots.0: expected a label name, got 1"],
    [
      "labels: { bug: { category: Bug Fix, authority: proposed } }",
      "labels.bug.category: expected a category of lowercase letters",
    ],
    [
      "labels: { bug: { category: bugfix, authority: yolo } }",
      'labels.bug.authority: expected one of auto_safe, proposed, got "yolo"',
    ],
    [
      "labels: { bug: { category: bugfix } }",
      "labels.bug.authority: expected one of auto_safe, proposed, got nothing",
    ],
    ["labels: [bug]", "labels: expected a map of label → { category, authority }"],
    ["models: { docs: 3 }", "models.docs: expected a model name, got 3"],
    ["cap: { running: 1 }", '(top level): unknown key "cap"'],
    ["caps: { runing: 1 }", 'caps: unknown key "runing"'],
    ["breaker: { threshold: 0 }", "breaker.threshold: expected a positive integer, got 0"],
    ["- a\n- b", "expected a mapping of keys at the top level"],
    ["caps: [", "not valid YAML"],
    ["triggerLabel: bug", 'triggerLabel: "bug" is also in labels'],
  ])("%s", (text, message) => {
    expect(fail(text)).toContain(message);
  });

  it("names the file", () => {
    expect(() => parseConfig("caps: 1", "ci/aegis.yml")).toThrow(/Invalid configuration in ci\/aegis.yml/);
  });

  it("lists every problem, not only the first", () => {
    const message = fail("caps: { running: 0 }\nbudgets: { dailyUsd: x }");
    expect(message).toContain("caps.running");
    expect(message).toContain("budgets.dailyUsd");
  });
});

describe("the committed JSON Schema", () => {
  it("matches the zod schema (regenerate with `npm run schema`)", () => {
    const committed = JSON.parse(readFileSync("schema/aegis.schema.json", "utf8"));
    expect(committed).toEqual(configJsonSchema());
  });

  it("describes every top-level key with defaults", () => {
    const schema = configJsonSchema() as {
      properties: Record<string, { default?: unknown; description?: string }>;
    };
    expect(schema.properties.caps?.default).toEqual({ pendingPerRepo: 5, running: 2 });
    for (const [key, value] of Object.entries(schema.properties)) {
      expect(value.description ?? (value as { properties?: unknown }).properties, key).toBeTruthy();
    }
  });
});
