// The pre-push scan's token shapes: each provider's format is caught, ordinary text that merely
// looks similar passes, and the false-positive rate on a corpus of ordinary source files (the
// project's own installed dependencies: ~10,000 files of code, docs and data) is measured.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TOKEN_PATTERNS, tokenIn } from "../src/core/secret-scan.js";

const names = (text: string) => TOKEN_PATTERNS.filter((t) => tokenIn(text, t)).map((t) => t.name);
// Assembled at run time so this file never holds a token-shaped literal.
const r = (n: number, alphabet = "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xYz") =>
  Array.from({ length: n }, (_, i) => alphabet[(i * 7 + 3) % alphabet.length]).join("");
const hex = (n: number) => r(n, "0123456789abcdef");

const caught: [string, string][] = [
  ["GitHub token", `token: ${"ghp_"}${r(36)}`],
  ["GitHub installation token", `x = "${"ghs_"}${r(30)}.${r(20)}.${r(24)}"`],
  ["GitHub fine-grained token", `${"github_pat_"}11${r(80)}`],
  ["Anthropic API key", `${"sk-ant-"}api03-${r(90)}`],
  ["OpenAI API key", `OPENAI_API_KEY=${"sk-proj-"}${r(120)}`],
  ["OpenAI API key", `key = "${"sk-"}${r(20)}T3BlbkFJ${r(20)}"`],
  ["Hugging Face token", `HF_TOKEN=${"hf_"}${r(34, "aBcDeFgHiJkLmNoPqRsTuVwXyZ")}`],
  ["AWS access key id", `id = ${"AKIA"}${r(16, "ABCDEFGHIJKLMNOP234567")}`],
  ["AWS secret access key", `aws_secret_access_key = ${r(40, "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xYz/+")}`],
  ["Google API key", `const key = "${"AIza"}${r(35)}";`],
  ["Google OAuth client secret", `${"GOCSPX-"}${r(28)}`],
  [
    "Azure storage connection string",
    `AccountName=x;${"AccountKey="}${r(86)}==;EndpointSuffix=core.windows.net`,
  ],
  ["DigitalOcean token", `${"dop_v1_"}${hex(64)}`],
  ["Stripe key", `stripe(${"sk_live_"}${r(24)})`],
  ["Slack token", `${"xoxb-"}1234567890-${r(24)}`],
  ["SendGrid key", `${"SG."}${r(22)}.${r(43)}`],
  ["Twilio key", `${"SK"}${hex(32)}`],
  ["Shopify token", `${"shpat_"}${hex(32)}`],
  ["Databricks token", `${"dapi"}${hex(32)}`],
  ["Linear API key", `${"lin_api_"}${r(40)}`],
  ["npm token", `//registry.npmjs.org/:_authToken=${"npm_"}${r(36)}`],
  ["PyPI token", `password = ${"pypi-AgEIcHlwaS5vcmc"}${r(60)}`],
  ["GitLab token", `${"glpat-"}${r(20)}`],
  ["JSON Web Token", `Authorization: Bearer ${"eyJ"}${r(20)}.${"eyJ"}${r(30)}.${r(43)}`],
  ["private key block", `${"-----BEGIN "}OPENSSH PRIVATE KEY-----`],
  ["credentials in a URL", `DATABASE_URL=postgres://app:${r(16)}@db.internal:5432/app`],
];

const ordinary = [
  "const key = 'sk-this-is-a-very-long-descriptive-identifier-for-the-build-cache';",
  "cache-key: sk-build-cache-v2-for-the-ci-workflow-on-linux-and-macos-runners",
  "const sha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';",
  "id: 123e4567-e89b-12d3-a456-426614174000",
  "const hfModel = 'hf_internal_testing_tiny_random_model_name';",
  "url: postgres://user:${DB_PASSWORD}@localhost/db",
  "clone https://github.com/org/repo.git and https://user@host.example/path",
  "import { ghostText } from './ghost_text_helpers_for_the_editor_component';",
  "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
  "-----BEGIN PUBLIC KEY-----",
];

describe("token shapes", () => {
  it.each(caught)("catches a %s", (name, line) => {
    expect(names(line)).toContain(name);
  });

  it.each(ordinary)("lets ordinary text pass: %s", (line) => {
    expect(names(line)).toEqual([]);
  });

  it("covers the providers people actually leak", () => {
    expect(new Set(caught.map(([n]) => n)).size).toBeGreaterThanOrEqual(25);
  });
});

describe("false positives on ordinary source files", () => {
  it("flag under 0.1% of ~10,000 files of installed code, docs and data", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
        a.name.localeCompare(b.name),
      )) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(js|ts|mjs|cjs|md|json|yml|py|sh)$/.test(e.name) && statSync(p).size < 1_000_000)
          files.push(p);
      }
    };
    walk(join(import.meta.dirname, "..", "node_modules"));
    const flagged = files.filter((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .some((line) => names(line).length > 0),
    );
    const rate = flagged.length / files.length;
    console.log(
      `secret patterns: ${flagged.length} of ${files.length} ordinary files flagged (${(rate * 100).toFixed(3)}%): ${flagged
        .map((f) => f.slice(f.indexOf("node_modules/") + 13))
        .join(", ")}`,
    );
    expect(files.length).toBeGreaterThan(5000);
    expect(rate).toBeLessThan(0.001);
  });
});
