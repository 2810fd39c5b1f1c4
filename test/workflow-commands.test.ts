// The guard on what aegis prints: no line it logs can become a workflow command the runner obeys.
import { describe, expect, it } from "vitest";
import { defuseCommands, type LineState } from "../src/core/workflow-commands.js";

const fresh = (): LineState => ({ atLineStart: true });
/** Lines the runner would take for commands: trimmed start is `::`. */
const commandLines = (text: string) => text.split(/\r\n|\r|\n/).filter((l) => l.trimStart().startsWith("::"));

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
