// Field splitting of the gate's word evaluator against real bash: random words built from quoted and
// unquoted text and expansions, under random IFS values and variable values, must become exactly the
// argv bash passes (`set -- WORD`, then its `$@`). The gate relies on this to see the real
// command in `git${IFS}push` or `IFS=,; c=git,push; $c`.
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { child, list, parseShell, type Node } from "../../src/hooks/shell/syntax.js";
import { DYN, evalFields, type WordEnv } from "../../src/hooks/shell/words.js";

if (process.env.CI) fc.configureGlobal({ seed: 20_261_124 });

/** Characters the values are made of: IFS candidates and plain letters (no glob characters). */
const valueArb = fc.string({ unit: fc.constantFrom("a", "b", ",", ":", " ", "\t"), maxLength: 6 });
/** What IFS is set to; null leaves bash's default. */
const ifsArb = fc.constantFrom<string | null>(null, " ", ",", ", ", ":\t", "", " ,:", "\t\n");

/** Pieces of a word, as written: X, Y and the positional parameters are always assigned. */
const PIECES = [
  "a",
  "b",
  ",",
  "\\ ",
  '"a b"',
  "'x,y'",
  '""',
  "''",
  "${X}",
  "$Y:",
  '"$X"',
  '"${Y}c"',
  "${IFS}",
  '"$IFS"',
  "${X:-d e}",
  "${Y:+q,r s}",
  "${X#?}",
  "${Y%%,*}",
  "${X:1:2}",
  "${Y: -2}",
  "${X%?}",
  "${Y##*,}",
  "${IFS:0:1}",
  "$@",
  '"$@"',
  "$*",
  '"$*"',
  '"x$@y"',
  '$(printf %s "$X")',
  "$(echo $Y)",
];

/** `$'…'` quoting for a value with tabs and newlines. */
const ansi = (s: string): string =>
  `$'${s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n")}'`;

interface Case {
  readonly pieces: readonly string[];
  readonly x: string;
  readonly y: string;
  readonly args: readonly string[];
  readonly ifs: string | null;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  pieces: fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 4 }),
  x: valueArb,
  y: valueArb,
  args: fc.array(valueArb, { maxLength: 3 }),
  ifs: ifsArb,
});

function bashFields(c: Case): string[] {
  const script = [
    "set -f",
    `set -- ${c.args.map(ansi).join(" ")}`,
    `X=${ansi(c.x)}; Y=${ansi(c.y)}`,
    c.ifs === null ? "" : `IFS=${ansi(c.ifs)}`,
    `set -- ${c.pieces.join("")}`,
    // The count first: printf prints its format once even with no arguments.
    `printf '%s\\0' "$#" "$@"`,
  ].join("\n");
  const [count, ...fields] = execFileSync("bash", ["-c", script], { encoding: "utf8" })
    .slice(0, -1)
    .split("\0");
  expect(fields).toHaveLength(Number(count));
  return fields;
}

function gateFields(c: Case): string[] {
  const vars = new Map<string, string | null>([
    ["X", c.x],
    ["Y", c.y],
    ["#", String(c.args.length)],
    ...c.args.map((a, i) => [String(i + 1), a] as [string, string]),
  ]);
  if (c.ifs !== null) vars.set("IFS", c.ifs);
  const env: WordEnv = { home: "/home/agent", cwd: "/work/repo", vars };
  const call = child(list(parseShell(`: ${c.pieces.join("")}`), "Stmts")[0], "Cmd");
  const word = list(call, "Args")[1] as Node;
  return evalFields(word, env).fields.map((f) => f.value);
}

describe("field splitting", () => {
  it("splits words into the argv bash passes", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        // Bash quirks left out: next to a quoted `"$@"`, an unquoted expansion ending in a non-blank IFS
        // character (` ,` with IFS=", ") yields one empty field fewer than next to other quoted text,
        // depending on blanks before it. Only empty arguments differ.
        const blankIfs = [...(c.ifs ?? " ")].every((ch) => " \t\n".includes(ch));
        fc.pre(blankIfs || !c.pieces.some((p) => p.startsWith('"') && p.includes("$@")));
        const ours = gateFields(c);
        // Unquoted $@/$* with an IFS that is not all blanks is left to run time, on purpose (words.ts).
        const unmodelled = c.pieces.some((p) => p === "$@" || p === "$*") && !blankIfs;
        if (unmodelled) expect(ours.join("")).toContain(DYN);
        else expect(ours, JSON.stringify(c)).toEqual(bashFields(c));
      }),
      { numRuns: 250 },
    );
  });

  it("keeps a word whose IFS is unknown as one run-time word", () => {
    const env: WordEnv = {
      home: "/h",
      cwd: "/w",
      vars: new Map([
        ["IFS", null],
        ["X", "git push"],
      ]),
    };
    const word = list(child(list(parseShell(": a$X"), "Stmts")[0], "Cmd"), "Args")[1] as Node;
    expect(evalFields(word, env).fields.map((f) => f.value)).toEqual([`a${DYN}`]);
  });
});
