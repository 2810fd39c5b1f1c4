// The pure halves of the text rules: inert prose, code spans no name can close, and commit
// messages that close only the task's own issue.
import { fromMarkdown } from "mdast-util-from-markdown";
import { gfmFromMarkdown } from "mdast-util-gfm";
import { gfm } from "micromark-extension-gfm";
import { describe, expect, it } from "vitest";
import { publishedMessage, withoutForeignClosers } from "../src/core/commit-message.js";
import { code, inert } from "../src/core/inert.js";
import { cell } from "../src/core/status.js";

const parse = (md: string) => fromMarkdown(md, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
interface Node {
  type: string;
  value?: string;
  children?: Node[];
}
const kinds = (md: string): string[] => {
  const out: string[] = [];
  const walk = (n: Node) => {
    out.push(n.type);
    n.children?.forEach(walk);
  };
  walk(parse(md) as unknown as Node);
  return out;
};
const text = (md: string): string => {
  let out = "";
  const walk = (n: Node) => {
    if (n.type === "text" || n.type === "inlineCode") out += n.value ?? "";
    n.children?.forEach(walk);
  };
  walk(parse(md) as unknown as Node);
  return out;
};

describe("inert", () => {
  const nasty =
    "ping @octocat and @org/team, closes #12, GH-3, acme/x#4, [a](https://e.example) ![i](https://e.example/i.png) <img src=x> www.e.example `code` b | c";
  it("renders no link, image, HTML or code span, and no mention, reference or URL GitHub would link", () => {
    const md = `Reason: ${inert(nasty, 500)}`;
    const found = kinds(md);
    for (const k of ["link", "image", "html", "inlineCode"]) expect(found).not.toContain(k);
    const shown = text(md);
    expect(shown).not.toMatch(/@[A-Za-z]/);
    expect(shown).not.toMatch(/#\d/);
    expect(shown).not.toMatch(/GH-\d/);
    expect(shown).not.toMatch(/:\/\//);
    expect(shown).not.toMatch(/\bwww\./);
    // What a person reads is the same text, with invisible joiners.
    expect(shown.replace(/\u2060/g, "")).toBe(`Reason: ${nasty}`);
  });
  it("keeps to one line and caps", () => {
    expect(inert("a\nb\r\nc\u2028d", 50)).toBe("a b c d");
    expect(Array.from(inert("x".repeat(500), 100))).toHaveLength(100);
  });
});

describe("code", () => {
  it("a name with backticks stays one code span, whatever it holds", () => {
    for (const name of [".env` Closes #15 @maya `x", "``", "`lead", "trail`", "a|b", "plain.txt"]) {
      const md = `Left out: ${code(name)}.`;
      const spans = kinds(md).filter((k) => k === "inlineCode");
      expect(spans, name).toHaveLength(1);
      expect(text(md), name).toBe(`Left out: ${name.replace(/\|/g, "\\|")}.`);
    }
  });
  it("inside a table row, a pipe does not end the cell", () => {
    const md = `| a | b |\n|---|---|\n| ${code("x|y")} | z |`;
    expect(kinds(md).filter((k) => k === "tableCell")).toHaveLength(4);
  });
});

describe("table cells", () => {
  it("a pipe stays in its cell, whether the text was made inert first or not", () => {
    for (const raw of ["a | b", "a \\| b", "a \\\\| b", "end |"]) {
      for (const value of [cell(raw), cell(inert(raw))]) {
        const md = `| a | b |\n|---|---|\n| ${value} | z |`;
        expect(
          kinds(md).filter((k) => k === "tableCell"),
          value,
        ).toHaveLength(4);
      }
    }
  });
});

describe("commit messages", () => {
  it("a closing keyword for any issue but the task's own becomes Refs", () => {
    const m = [
      "Add docs",
      "",
      "Closes #15, resolves #16",
      "fixes: acme/x#3 and Fixes #7",
      "Resolved GH-8; FIXED https://github.com/o/r/issues/9",
      "fix the closes button (#20)",
    ].join("\n");
    expect(withoutForeignClosers(m, 7)).toBe(
      [
        "Add docs",
        "",
        "Refs #15, Refs #16",
        "Refs: acme/x#3 and Fixes #7",
        "Refs GH-8; Refs https://github.com/o/r/issues/9",
        "fix the closes button (#20)",
      ].join("\n"),
    );
  });
  it("drops co-author trailers", () => {
    expect(publishedMessage("x\n\nCo-authored-by: Maya <m@x.io>\n", 1)).toBe("x\n");
  });
});
