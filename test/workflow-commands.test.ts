// The guard on what aegis prints: no line it logs can become a workflow command the runner obeys.
import { describe, expect, it } from "vitest";
import { defuseCommands, flushHeld, freshLineState as fresh } from "../src/core/workflow-commands.js";
/**
 * Lines the runner would take for a command aegis does not emit: after .NET's TrimStart
 * (JavaScript's trimStart and U+0085) the line starts with `::` and another name, or it holds a
 * legacy `##[` anywhere.
 */
const commandLines = (text: string) =>
  text
    .split(/\r\n|\r|\n/)
    .filter(
      (l) =>
        /^[\s\u0085]*::(?!(group|endgroup|debug|notice|warning|error|add-mask)[\s:])/i.test(l) ||
        l.includes("##["),
    );

/** Text written in pieces, as the runner reads it at the end. */
function through(pieces: string[]): string {
  const state = fresh();
  return pieces.map((p) => defuseCommands(p, state)).join("") + flushHeld(state);
}

describe("workflow-command guard", () => {
  it("defuses foreign commands at any line start — after \\n, \\r\\n, a lone \\r, or blanks", () => {
    const attacks = [
      "::save-state name=aegis-room::{}",
      '→ Bash\n::save-state name=aegis-room::{"sandbox":"user"}',
      "x\r\n::set-output name=pr::1",
      "x\r::stop-commands::tok",
      "  \t::add-path::/tmp/evil",
      "::SET-ENV name=NODE_OPTIONS::--require /tmp/x",
      "::echo::on",
      "::::",
    ];
    for (const text of attacks) {
      const out = defuseCommands(`${text}\n`, fresh());
      expect(commandLines(out), text).toEqual([]);
      // Nothing is lost: the text is still there to read.
      expect(out.replace(/\u00b7/g, "")).toBe(`${text}\n`);
    }
  });

  it("lets aegis's own annotations and groups through unchanged", () => {
    const own =
      "::group::Tests on the base\n::endgroup::\n::warning::careful\n::error title=x::bad\n::add-mask::***\n::debug::d\n::notice::n\n";
    expect(defuseCommands(own, fresh())).toBe(own);
  });

  it("defuses the legacy form anywhere in a line, and blanks only .NET trims", () => {
    for (const text of [
      "x ##[set-output name=pr;]1",
      "##[SAVE-STATE name=aegis-room;]{}",
      "\u0085::save-state name=aegis-room::{}",
      "\u0085\u00a0\u2028::set-env name=A::b",
      "::warning::fine ##[add-path]/tmp/evil",
    ]) {
      const out = through([`${text}\n`]);
      expect(commandLines(out), text).toEqual([]);
      expect(out.replace(/\u00b7/g, "")).toBe(`${text}\n`);
    }
  });

  it("judges whole line starts however the writes split them", () => {
    const splits = [
      ["  ", "::save-state name=a::b\n"],
      [":", ":save-state name=a::b\n"],
      ["::", "save-state name=a::b\n"],
      ["::warn", "ings name=a::b\n"],
      ["x\n", "\t", " ", "::stop-commands::t\n"],
      ["text #", "#[set-output name=a;]b\n"],
      ["text ##", "[set-output name=a;]b\n"],
      ["\u0085", "::echo::on\n"],
    ];
    for (const pieces of splits) {
      const out = through(pieces);
      expect(commandLines(out), pieces.join("|")).toEqual([]);
      expect(out.replace(/\u00b7/g, "")).toBe(pieces.join(""));
    }
    // Aegis's own, split anywhere, goes through unchanged.
    expect(through(["::warn", "ing::care", "ful\n", "  ", "::group::x\n"])).toBe(
      "::warning::careful\n  ::group::x\n",
    );
    // A start held at the end is written, judged, when the step ends.
    expect(through(["::save-state name=a"])).toBe("\u00b7::save-state name=a");
    expect(through(["  "])).toBe("  ");
  });

  it("judges a line by its start, across writes", () => {
    const state = fresh();
    expect(defuseCommands("text that goes on ", state)).toBe("text that goes on ");
    // Not a line start: the runner sees "text that goes on ::save-state…", no command.
    expect(defuseCommands("::save-state name=a::b\n", state)).toBe("::save-state name=a::b\n");
    // The line before ended: this one starts a line.
    expect(commandLines(defuseCommands("::save-state name=a::b\n", state))).toEqual([]);
  });

  it("leaves ordinary text alone", () => {
    const text = "Tests on the base: pass (12 ms).\nC++::std is not a command\n";
    expect(defuseCommands(text, fresh())).toBe(text);
  });
});
