// Property-based tests of the pure safety pieces: what the sanitiser lets through to the brief,
// the fence the issue text sits in, and the pre-push secret scan.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fenced, sanitizeUntrusted } from "../src/core/sanitize.js";
import { parseFindings } from "../src/core/findings.js";
import { scanDiff } from "../src/core/secret-scan.js";

if (process.env.CI) fc.configureGlobal({ seed: 20_261_124 });

/** Characters a reader of the issue on GitHub does not see, and the markup that hides text. */
const HIDDEN = ["\u200b", "\u200d", "\u202e", "\u2066", "\u2069", "\ufeff", "\u00ad", "\u{e0041}", "\u0007"];
const PIECES = [
  "<!--",
  "-->",
  "<!",
  "--",
  ">",
  "`",
  "```",
  "\r\n",
  "\u2028",
  "é",
  "😀",
  "a",
  " ",
  "\n",
  ...HIDDEN,
];

/** Text built from the pieces that matter to the sanitiser, mixed with arbitrary text. */
const trickyText = fc
  .array(
    fc.oneof(
      // The bits comments are made of, often: removing one comment must not assemble another.
      { arbitrary: fc.constantFrom("<", "!", "-", "<!", "--", "<!--", "-->", ">"), weight: 6 },
      { arbitrary: fc.constantFrom(...PIECES), weight: 3 },
      { arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }), weight: 1 },
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(""));

const INVISIBLE_PROBE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]|[\u{E0000}-\u{E007F}]/u;

describe("sanitizing untrusted text", () => {
  it("leaves nothing invisible and no comment GitHub would hide, within the byte cap", () => {
    fc.assert(
      fc.property(trickyText, fc.integer({ min: 8, max: 400 }), (text, maxBytes) => {
        const out = sanitizeUntrusted(text, { maxBytes });
        expect(out).not.toMatch(INVISIBLE_PROBE);
        expect(out).not.toContain("\r");
        // Cut text carries a note of what was cut; the kept part itself is within the cap.
        const kept = out.replace(/\n\[truncated \d+ bytes\]$/, "");
        expect(Buffer.byteLength(kept, "utf8")).toBeLessThanOrEqual(maxBytes);
        // Never a split character (unless the text brought its own replacement character).
        if (!text.includes("\ufffd")) expect(kept).not.toContain("\ufffd");
        if (kept === out) expect(out).not.toContain("<!--");
      }),
      { numRuns: 1000 },
    );
  });

  it("is stable: sanitizing twice changes nothing", () => {
    fc.assert(
      fc.property(trickyText, (text) => {
        const once = sanitizeUntrusted(text, { maxBytes: 1_000_000 });
        expect(sanitizeUntrusted(once, { maxBytes: 1_000_000 })).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });

  it("fences any text so that nothing inside closes the fence", () => {
    fc.assert(
      fc.property(trickyText, (text) => {
        const block = fenced(text, "issue");
        const lines = block.split("\n");
        const fence = /^`+/.exec(lines[0]!)![0];
        expect(lines.at(-1)).toBe(fence);
        // CommonMark closes a backtick fence with a line of at least as many backticks.
        for (const line of lines.slice(1, -1)) expect(line.trimStart().startsWith(fence)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the pre-push secret scan", () => {
  const secretArb = fc.string({
    unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
    minLength: 12,
    maxLength: 60,
  });
  const added = (path: string, lines: string[]) =>
    [
      `diff --git a/${path} b/${path}`,
      "new file mode 100644",
      "--- /dev/null",
      `+++ b/${path}`,
      `@@ -0,0 +1,${lines.length} @@`,
      ...lines.map((l) => `+${l}`),
    ].join("\n");
  const scan = (diffText: string, secret: string) =>
    scanDiff({
      diffText,
      changedPaths: ["docs/notes.md"],
      knownSecrets: [secret],
      protectedPaths: [],
      limits: { maxFiles: 100, maxBytes: 10_000_000 },
    });

  it("finds a secret the run holds, plain or base64-encoded at any offset, anywhere in a line", () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        fc.boolean(),
        (secret, before, after, encode) => {
          const payload = `${before}${secret}${after}`;
          const line = encode ? Buffer.from(payload, "utf8").toString("base64") : payload;
          const violations = scan(added("docs/notes.md", ["intro", line]), secret);
          expect(violations.map((v) => v.check)).toContain("known-secret");
          // The report names the place, never the value.
          for (const v of violations) expect(v.detail).not.toContain(secret);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("reports nothing for added text that does not hold the secret", () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.array(fc.string({ unit: fc.constantFrom(..."abc xyz.,;") }), { maxLength: 5 }),
        (secret, lines) => {
          fc.pre(!lines.some((l) => l.includes(secret)));
          expect(scan(added("docs/notes.md", lines), secret)).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("reading the reviewer's answer", () => {
  const word = fc.constantFrom(
    "the",
    "null",
    "check",
    "missing",
    "in",
    "src/app.ts",
    "line",
    "42",
    "leak",
    "fix",
    "P0",
    "P1",
    "P2",
    "critical",
    "security",
    "should",
    "return",
    "error",
    "looks",
    "good",
    "LGTM",
    "`code`",
    "**bold**",
  );
  const sentence = fc.array(word, { minLength: 1, maxLength: 12 }).map((w) => w.join(" "));
  const answer = fc
    .array(
      fc.oneof(
        sentence,
        sentence.map((s) => `- ${s}`),
        sentence.map((s) => `1. ${s}`),
        fc.constant(""),
        fc.constant("CRITICAL:"),
        fc.constant("NON-CRITICAL:"),
      ),
      { maxLength: 12 },
    )
    .map((lines) => lines.join("\n"));
  const words = (s: string) => s.toLowerCase().match(/[a-z0-9/._]+/g) ?? [];

  it("never invents a finding: its words, file and line all come from the answer", () => {
    fc.assert(
      fc.property(answer, (text) => {
        const source = new Set(words(text));
        const result = parseFindings({ lastMessage: text, agentMessages: [] });
        for (const f of result.findings) {
          for (const w of words(`${f.title} ${f.body ?? ""}`))
            expect(source.has(w), `"${w}" from nowhere`).toBe(true);
          if (f.file) expect(text).toContain(f.file);
          if (f.line) expect(text).toContain(String(f.line));
        }
        // Prose without a list holds no findings.
        if (!/^\s*(?:[-*]|\d+\.)\s/m.test(text)) expect(result.findings).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});
