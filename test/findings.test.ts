import { describe, expect, it } from "vitest";
import {
  parseFindings,
  verdictOf,
  REVIEW_MARKER,
  REVIEW_OUTPUT_SCHEMA,
  type Finding,
} from "../src/core/findings.js";
import { renderReviewComment } from "../src/core/review-comment.js";

const msg = (lastMessage: string, root?: string) =>
  parseFindings({ lastMessage, agentMessages: [lastMessage], ...(root ? { root } : {}) });

const structured = {
  findings: [
    {
      title: "[P1] Avoid eval on request data",
      body: "`eval(x)` runs attacker-controlled code.",
      confidence_score: 0.9,
      priority: 1,
      code_location: { absolute_file_path: "/repo/src/b.py", line_range: { start: 12, end: 13 } },
    },
    {
      title: "[P3] Rename helper",
      body: "Name is unclear.",
      confidence_score: 0.3,
      priority: 3,
      code_location: { absolute_file_path: "/repo/src/c.py", line_range: { start: 4, end: 4 } },
    },
  ],
  overall_correctness: "patch is incorrect",
  overall_explanation: "eval on input is unsafe.",
  overall_confidence_score: 0.8,
};

describe("parseFindings: structured JSON (codex review schema)", () => {
  it("maps priorities to severities, strips the tag, relativises paths", () => {
    const r = msg(JSON.stringify(structured), "/repo");
    expect(r.parsed).toBe(true);
    expect(r.summary).toBe("eval on input is unsafe.");
    expect(r.findings).toEqual([
      {
        severity: "critical",
        title: "Avoid eval on request data",
        body: "`eval(x)` runs attacker-controlled code.",
        file: "src/b.py",
        line: 12,
        priority: 1,
      },
      {
        severity: "non-critical",
        title: "Rename helper",
        body: "Name is unclear.",
        file: "src/c.py",
        line: 4,
        priority: 3,
      },
    ]);
  });

  it("accepts an already parsed object through `structured`", () => {
    const r = parseFindings({ lastMessage: "", agentMessages: [], structured });
    expect(r.findings.map((f) => f.severity)).toEqual(["critical", "non-critical"]);
    expect(r.findings[0]!.file).toBe("/repo/src/b.py");
  });

  it("treats P0 as critical and P2 as non-critical", () => {
    const r = parseFindings({
      lastMessage: "",
      agentMessages: [],
      structured: {
        findings: [
          { title: "Boom", priority: 0 },
          { title: "Meh", priority: 2 },
        ],
      },
    });
    expect(r.findings.map((f) => [f.severity, f.priority])).toEqual([
      ["critical", 0],
      ["non-critical", 2],
    ]);
  });

  it("takes the priority from a [Pn] title tag when the number is missing", () => {
    const r = parseFindings({
      lastMessage: "",
      agentMessages: [],
      structured: { findings: [{ title: "[P1] Fix race in cache" }] },
    });
    expect(r.findings[0]).toMatchObject({ severity: "critical", priority: 1, title: "Fix race in cache" });
  });

  it("reads JSON in a fenced block surrounded by prose", () => {
    const text = `Here is my review:\n\n\`\`\`json\n${JSON.stringify(structured, null, 2)}\n\`\`\`\nThanks.`;
    const r = msg(text);
    expect(r.parsed).toBe(true);
    expect(r.findings).toHaveLength(2);
  });

  it("reads an empty findings list as a clean review", () => {
    const r = msg(
      JSON.stringify({ findings: [], overall_correctness: "patch is correct", overall_explanation: "Fine." }),
    );
    expect(r).toEqual({ findings: [], parsed: true, summary: "Fine." });
  });

  it("notes a contradiction between verdict and an empty list without inventing a finding", () => {
    const r = msg(JSON.stringify({ findings: [], overall_correctness: "patch is incorrect" }));
    expect(r.findings).toEqual([]);
    expect(r.note).toMatch(/incorrect/);
  });

  it("ignores items without a title and says so", () => {
    const r = parseFindings({
      lastMessage: "",
      agentMessages: [],
      structured: { findings: [{ body: "x" }, { title: "Real", priority: 2 }] },
    });
    expect(r.findings.map((f) => f.title)).toEqual(["Real"]);
    expect(r.note).toMatch(/1 finding/);
  });

  it("honours a textual severity field when there is no priority", () => {
    const r = parseFindings({
      lastMessage: "",
      agentMessages: [],
      structured: {
        findings: [
          { title: "A", severity: "high" },
          { title: "B", severity: "low" },
        ],
      },
    });
    expect(r.findings.map((f) => f.severity)).toEqual(["critical", "non-critical"]);
  });

  it("the output schema requires every property (strict structured outputs)", () => {
    const item = REVIEW_OUTPUT_SCHEMA.properties.findings.items;
    expect([...item.required].sort()).toEqual(Object.keys(item.properties).sort());
    expect([...REVIEW_OUTPUT_SCHEMA.required].sort()).toEqual(
      Object.keys(REVIEW_OUTPUT_SCHEMA.properties).sort(),
    );
  });
});

describe("parseFindings: codex review's rendered text", () => {
  it("parses '- [P1] Title — /abs/path:1-2' bullets with indented bodies", () => {
    const text =
      "eval is unsafe.\n\nFull review comments:\n\n- [P1] Avoid eval on user input — /tmp/r/b.py:1-3\n  `eval(x)` executes arbitrary code.\n\n- [P3] Add docstring — /tmp/r/b.py:7-7\n  nit";
    const r = msg(text, "/tmp/r");
    expect(r.parsed).toBe(true);
    expect(r.findings).toEqual([
      {
        severity: "critical",
        title: "Avoid eval on user input",
        body: "`eval(x)` executes arbitrary code.",
        file: "b.py",
        line: 1,
        priority: 1,
      },
      { severity: "non-critical", title: "Add docstring", body: "nit", file: "b.py", line: 7, priority: 3 },
    ]);
  });
});

describe("parseFindings: markdown sections and bullets", () => {
  it("uses CRITICAL / NON-CRITICAL sections", () => {
    const text = [
      "## CRITICAL",
      "- **Unescaped SQL**: `q` is built by concatenation in `src/db.ts:40`.",
      "",
      "## NON-CRITICAL",
      "- Typo in the README",
      "- Prefer `const` in src/a.ts:3",
    ].join("\n");
    const r = msg(text);
    expect(r.findings).toEqual([
      {
        severity: "critical",
        title: "Unescaped SQL",
        body: "`q` is built by concatenation in `src/db.ts:40`.",
        file: "src/db.ts",
        line: 40,
      },
      { severity: "non-critical", title: "Typo in the README" },
      { severity: "non-critical", title: "Prefer `const` in src/a.ts:3", file: "src/a.ts", line: 3 },
    ]);
  });

  it("keeps 'NON-CRITICAL' from being read as 'CRITICAL' in bold headings", () => {
    const r = msg(
      "**Critical:**\n- none of note here is fine\n\n**Non-critical:**\n- Use a constant for the timeout",
    );
    expect(r.findings.map((f) => f.severity)).toEqual(["critical", "non-critical"]);
  });

  it("uses [Pn] tags on bullets over section and keywords", () => {
    const r = msg(
      "- [P0] Deletes the user table on upgrade\n- [P2] Security header could be stricter\n- **[P1]** Wrong loop bound",
    );
    expect(r.findings.map((f) => [f.severity, f.priority])).toEqual([
      ["critical", 0],
      ["non-critical", 2],
      ["critical", 1],
    ]);
  });

  it("classifies untagged bullets by what they say", () => {
    const r = msg(
      "Some thoughts:\n\n1. SQL injection in the search handler\n2. Possible race condition when two workers write\n3. Variable names could be clearer\n4. The new endpoint leaks secrets into logs",
    );
    expect(r.findings.map((f) => f.severity)).toEqual(["critical", "critical", "non-critical", "critical"]);
  });

  it("keeps nested bullets and wrapped lines in the parent's body", () => {
    const r = msg(
      "- Crash on empty input\n  - `parse('')` throws\n  - callers do not catch it\n- Minor: rename x",
    );
    expect(r.findings).toHaveLength(2);
    expect(r.findings[0]!.body).toContain("callers do not catch it");
  });

  it("ignores bullets under summary headings", () => {
    const r = msg(
      "### Summary\n- Adds a CLI flag\n- Updates docs\n\n### Findings\n- Flag parsing crashes on `--x=`",
    );
    expect(r.findings.map((f) => f.title)).toEqual(["Flag parsing crashes on `--x=`"]);
  });

  it("does not read bullets inside code fences", () => {
    const r = msg("- Off-by-one in pager\n  ```\n  - not a bullet\n  ```\nLooks otherwise fine.");
    expect(r.findings).toHaveLength(1);
  });

  it("ends a bullet at a paragraph that starts at the margin", () => {
    const r = msg("- Missing null check in `load`\n\nOverall the change is small and reasonable.");
    expect(r.findings[0]!.body).toBeUndefined();
  });
});

describe("parseFindings: prose", () => {
  it.each([
    "No issues found.",
    "LGTM",
    "Looks good to me — nothing to flag.",
    "I did not find any problems; no findings.",
  ])("reads %j as clean", (text) => {
    const r = msg(text);
    expect(r.findings).toEqual([]);
    expect(r.parsed).toBe(true);
  });

  it("does not invent findings from prose without bullets", () => {
    const r = msg(
      "The change touches the authentication flow and there may be a security problem somewhere, hard to tell.",
    );
    expect(r.findings).toEqual([]);
    expect(r.parsed).toBe(false);
    expect(r.note).toMatch(/no parseable findings/);
  });

  it("falls back to the last non-empty agent message when there is no last message", () => {
    const r = parseFindings({
      lastMessage: "",
      agentMessages: ["Looking at the diff…", "- [P1] Broken retry loop", ""],
    });
    expect(r.findings).toHaveLength(1);
  });

  it("reports an empty answer as unparsed", () => {
    expect(parseFindings({ lastMessage: "  ", agentMessages: [] })).toMatchObject({
      findings: [],
      parsed: false,
    });
  });

  it("a summary-only bullet list is parsed with no findings", () => {
    const r = msg("Summary:\n- Adds a flag\n- Updates docs");
    expect(r).toMatchObject({ findings: [], parsed: true });
  });
});

describe("verdictOf", () => {
  const crit: Finding = { severity: "critical", title: "x" };
  const minor: Finding = { severity: "non-critical", title: "y" };
  it("is error when the run failed, whatever the findings", () =>
    expect(verdictOf([crit], false)).toBe("error"));
  it("is critical with any critical finding", () => expect(verdictOf([minor, crit], true)).toBe("critical"));
  it("is clean with only non-critical findings or none", () => {
    expect(verdictOf([minor], true)).toBe("clean");
    expect(verdictOf([], true)).toBe("clean");
  });
});

describe("renderReviewComment", () => {
  const many: Finding[] = [
    { severity: "non-critical", title: "N1", file: "a.ts", line: 3 },
    { severity: "critical", title: "C1", body: "Bad thing.", file: "b.ts", line: 9, priority: 1 },
    { severity: "non-critical", title: "N2" },
    { severity: "critical", title: "C2" },
    { severity: "non-critical", title: "N3" },
    { severity: "non-critical", title: "N4" },
    { severity: "non-critical", title: "N5" },
  ];

  it("starts with the marker, lists CRITICAL first, caps bullets and counts the rest", () => {
    const md = renderReviewComment({
      findings: many,
      verdict: "critical",
      model: "gpt-x",
      usage: { inputTokens: 10, cachedInputTokens: 0, outputTokens: 2, reasoningOutputTokens: 0 },
    });
    expect(md.startsWith(REVIEW_MARKER)).toBe(true);
    expect(md.indexOf("#### CRITICAL")).toBeLessThan(md.indexOf("#### NON-CRITICAL"));
    expect(md.match(/^- /gm)).toHaveLength(5);
    expect(md).toContain("- **[P1] C1** — `b.ts:9`\n  Bad thing.");
    expect(md).toContain("`a.ts:3`");
    expect(md).toContain("+2 more not shown");
    expect(md).toContain("2 critical, 5 non-critical");
    expect(md).toContain("model `gpt-x`");
    expect(md).toContain("10 input / 2 output tokens");
    expect(md).not.toContain("N4");
  });

  it("honours maxFindings and a custom marker", () => {
    const md = renderReviewComment({
      findings: many,
      verdict: "critical",
      maxFindings: 1,
      marker: "<!-- aegis:review task=7 -->",
    });
    expect(md.split("\n")[0]).toBe("<!-- aegis:review task=7 -->");
    expect(md.match(/^- /gm)).toHaveLength(1);
    expect(md).toContain("C1");
    expect(md).toContain("+6 more not shown");
    expect(md).not.toContain("NON-CRITICAL");
  });

  it("says so when there are no findings", () => {
    const md = renderReviewComment({ findings: [], verdict: "clean", summary: "Small, safe change." });
    expect(md).toContain("no findings");
    expect(md).toContain("> Small, safe change.");
    expect(md).not.toContain("more not shown");
  });

  it("explains an error and that it is advisory", () => {
    const md = renderReviewComment({ findings: [], verdict: "error", error: "codex timed out after 600 s" });
    expect(md).toContain("could not complete");
    expect(md).toContain("codex timed out after 600 s");
    expect(md).toContain("advisory");
  });

  it("neutralises markers and mentions coming from model text", () => {
    const md = renderReviewComment({
      findings: [{ severity: "non-critical", title: "ping @octocat <!-- aegis:review -->" }],
      verdict: "clean",
    });
    expect(md.split(REVIEW_MARKER)).toHaveLength(2);
    expect(md).not.toMatch(/@octocat/);
  });

  it("clips long bodies and closes an open code fence", () => {
    const body = "Start ```\n" + "x ".repeat(800);
    const md = renderReviewComment({
      findings: [{ severity: "critical", title: "Long", body }],
      verdict: "critical",
    });
    expect(md.length).toBeLessThan(1200);
    expect((md.match(/```/g) ?? []).length % 2).toBe(0);
  });
});
