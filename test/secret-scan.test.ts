import { describe, expect, it } from "vitest";
import { matchesGlob } from "../src/core/glob.js";
import { addedLines, scanDiff, secretForms, type ScanInput } from "../src/core/secret-scan.js";

function diff(file: string, added: string[], removed: string[] = []): string {
  return [
    `diff --git a/${file} b/${file}`,
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -1,${removed.length + 1} +1,${added.length + 1} @@`,
    " context",
    ...removed.map((l) => `-${l}`),
    ...added.map((l) => `+${l}`),
    "",
  ].join("\n");
}

const limits = { maxFiles: 50, maxBytes: 1_000_000 };
function scan(over: Partial<ScanInput>) {
  return scanDiff({ diffText: "", changedPaths: [], knownSecrets: [], protectedPaths: [], limits, ...over });
}

// Assembled at run time so this file itself never holds a token-shaped literal.
const gh = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
const fixtures: [string, string][] = [
  ["GitHub token", `token = "${gh}"`],
  [
    "GitHub fine-grained token",
    "x=" + "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV",
  ],
  ["Anthropic API key", "ANTHROPIC_API_KEY=" + "sk-ant-" + "api03-abcdefghijklmnopqrstuvwxyz012345"],
  ["OpenAI API key", "key: " + "sk-proj-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCD"],
  ["AWS access key id", "aws_access_key_id = " + "AKIA" + "IOSFODNN7EXAMPLE"],
  ["private key block", "-----BEGIN " + "RSA PRIVATE KEY-----"],
  ["Slack token", "SLACK=" + "xoxb-" + "123456789012-abcdefghijkl"],
];

describe("scanDiff token patterns", () => {
  it.each(fixtures)("flags a %s on an added line without quoting it", (name, line) => {
    const v = scan({ diffText: diff("src/config.ts", [line]), changedPaths: ["src/config.ts"] });
    expect(v).toEqual([
      { check: "token-pattern", path: "src/config.ts", detail: `${name} pattern on added line 2` },
    ]);
    expect(JSON.stringify(v)).not.toContain(line.slice(-12));
  });

  it("ignores removed and context lines, and ordinary code", () => {
    const text = diff(
      "a.ts",
      ["const skip = 'sk-short'; // ghp_ prefix only", "const risk = task.id;"],
      [`old = "${gh}"`],
    );
    expect(scan({ diffText: text, changedPaths: ["a.ts"] })).toEqual([]);
  });
});

describe("scanDiff known secrets", () => {
  const secret = "s3cr3t-value-0123456789";

  it("finds a secret value and its base64 form at any alignment, never printing it", () => {
    const lines = [
      `const k = "${secret}";`,
      `blob: ${Buffer.from(secret).toString("base64")}`,
      `blob: ${Buffer.from("x" + secret + "yz").toString("base64")}`,
      `blob: ${Buffer.from("xy" + secret).toString("base64")}`,
    ];
    const v = scan({
      diffText: diff("src/a.ts", lines),
      changedPaths: ["src/a.ts"],
      knownSecrets: ["short", secret],
    });
    expect(v.map((x) => x.detail)).toEqual(
      [2, 3, 4, 5].map((n) => `a secret value the run holds (#2) appears on added line ${n}`),
    );
    expect(JSON.stringify(v)).not.toContain(secret);
  });

  it("ignores very short known values", () => {
    expect(
      scan({ diffText: diff("a.ts", ["let a = 1;"]), changedPaths: ["a.ts"], knownSecrets: ["", "1"] }),
    ).toEqual([]);
  });

  it("secretForms keeps only the secret's own characters", () => {
    const forms = secretForms(secret);
    expect(forms[0]).toBe(secret);
    for (const prefix of ["", "a", "ab", "abc"]) {
      const encoded = Buffer.from(`${prefix}${secret}tail`).toString("base64");
      expect(forms.slice(1).some((f) => encoded.includes(f))).toBe(true);
    }
  });
});

describe("scanDiff paths and size", () => {
  it("flags built-in, config and configured protected paths", () => {
    const v = scan({
      changedPaths: [
        ".github/workflows/ci.yml",
        "hooks/pre-bash.sh",
        ".github/aegis.yml",
        "infra/main.tf",
        "src/ok.ts",
      ],
      protectedPaths: ["infra/**"],
    });
    expect(v.map((x) => [x.check, x.path])).toEqual([
      ["protected-path", ".github/workflows/ci.yml"],
      ["protected-path", "hooks/pre-bash.sh"],
      ["protected-path", ".github/aegis.yml"],
      ["protected-path", "infra/main.tf"],
    ]);
    expect(scan({ changedPaths: ["config/aegis.yml"], configPath: "config/aegis.yml" })).toHaveLength(1);
  });

  it("flags secret-like files but not examples or public keys", () => {
    const paths = [
      ".env",
      "app/.env.production",
      ".env.example",
      "certs/server.pem",
      "id_rsa",
      "id_ed25519.pub",
      ".git-credentials",
      ".npmrc",
      "web/.npmrc",
    ];
    const text =
      diff(".npmrc", ["//registry.npmjs.org/:_authToken=abc"]) + diff("web/.npmrc", ["save-exact=true"]);
    const v = scan({ diffText: text, changedPaths: paths });
    expect(v.filter((x) => x.check === "secret-file").map((x) => x.path)).toEqual([
      ".env",
      "app/.env.production",
      "certs/server.pem",
      "id_rsa",
      ".git-credentials",
      ".npmrc",
    ]);
  });

  it("enforces file count and byte limits", () => {
    const v = scan({
      diffText: "x".repeat(101),
      changedPaths: ["a", "b", "c"],
      limits: { maxFiles: 2, maxBytes: 100 },
    });
    expect(v).toEqual([
      { check: "size", detail: "changes 3 files; the limit is 2" },
      { check: "size", detail: "the diff is 101 bytes; the limit is 100" },
    ]);
  });
});

describe("addedLines", () => {
  it("tracks paths and new line numbers across hunks, quoted names and new files", () => {
    const text = [
      "diff --git a/x.ts b/x.ts",
      "--- a/x.ts",
      "+++ b/x.ts",
      "@@ -10,2 +20,3 @@ fn",
      " keep",
      "-gone",
      "+new1",
      "+new2",
      'diff --git a/"a\\tb.txt" b/"a\\tb.txt"',
      "new file mode 100644",
      "--- /dev/null",
      '+++ "b/a\\tb.txt"',
      "@@ -0,0 +1 @@",
      "++++ not a header",
    ].join("\n");
    expect(addedLines(text)).toEqual([
      { path: "x.ts", line: 21, text: "new1" },
      { path: "x.ts", line: 22, text: "new2" },
      { path: "a\tb.txt", line: 1, text: "+++ not a header" },
    ]);
  });
});

describe("glob matching", () => {
  it.each([
    [".github/workflows/**", ".github/workflows/ci.yml", true],
    [".github/workflows/**", ".github/workflows/sub/x.yml", true],
    [".github/workflows/**", ".github/workflowsX/ci.yml", false],
    ["hooks/", "hooks/a/b.sh", true],
    ["**/*.pem", "a/b/c.pem", true],
    ["**/*.pem", "c.pem", true],
    ["src/*.ts", "src/a/b.ts", false],
    ["src/**/test/*.ts", "src/test/a.ts", true],
    ["src/**/test/*.ts", "src/x/y/test/a.ts", true],
    ["docs/{a,b}.md", "docs/b.md", true],
    ["docs/?.md", "docs/ab.md", false],
    ["a.b", "aXb", false],
    ["./infra/**", "infra/x", true],
  ])("%s vs %s → %s", (glob, file, expected) => {
    expect(matchesGlob(file, glob)).toBe(expected);
  });

  it.each([
    ["config/{prod,staging}.yml", "config/staging.yml", true],
    ["secrets/*", "secrets/.env", true],
    ["deploy/[ab].sh", "deploy/b.sh", true],
    ["deploy/[ab].sh", "deploy/c.sh", false],
    ["infra", "infra/main.tf", true],
    ["**/.env", ".env", true],
    ["a/{b,c", "a/{b,c", true],
  ])("the cases the gate and the check once judged apart: %s vs %s → %s", (glob, file, expected) => {
    expect(matchesGlob(file, glob)).toBe(expected);
  });
});
