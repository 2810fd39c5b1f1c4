/**
 * The runner reads every line a step prints for workflow commands. Some change what happens
 * next — `::save-state` feeds the post step (which runs with root's rights to clean up the
 * agent's room), `::set-output` feeds later steps, `::stop-commands` silences aegis's own
 * annotations. Text aegis logs can carry what the agent or an issue wrote (a tool name, a
 * command, a reason), so every line aegis prints passes through here, judged as the runner
 * judges it:
 *
 * - a line is a command when, after the blanks .NET's `TrimStart` removes (U+0085 among them,
 *   which JavaScript's `trimStart` keeps), it starts with `::`. One that would be a command other
 *   than the few aegis emits through @actions/core gets a visible character in front;
 * - the legacy form `##[name …]data` is a command wherever it appears in a line: every `##[` is
 *   broken by the same character;
 * - lines end at `\n`, `\r\n` and a lone `\r`. A line whose start could still become a command
 *   (blanks, a lone `:`, a name that is a prefix of one of aegis's own) is held back until the
 *   next write decides it, and a trailing `#` or `##` likewise; `flush` writes what is held at exit.
 */

/** The commands @actions/core emits for aegis on stdout (state and outputs go through files). */
const OWN_COMMANDS = ["group", "endgroup", "debug", "notice", "warning", "error", "add-mask"];

const DEFUSED = "\u00b7"; // a middle dot: visible, and not a blank either runtime trims

/** Every character .NET's Char.IsWhiteSpace accepts, and JavaScript's \s (a superset is safe). */
const LEADING_BLANKS = /^[\s\u0085]+/;

/** A held line start longer than this is decided as a command: no name of aegis's is that long. */
const MAX_HELD = 256;

export interface LineState {
  /** Text of the open line not yet written: an undecided start, or a trailing `#`/`##`. */
  held: string;
  /** Whether the open line's start has been judged (the rest of it only needs `##[` broken). */
  decided: boolean;
}

export const freshLineState = (): LineState => ({ held: "", decided: false });

type Verdict = "pass" | "defuse" | "hold";

/** How the runner would take a line that starts with `start` (which may not be the whole line). */
function verdictOnStart(start: string, complete: boolean): Verdict {
  const t = start.replace(LEADING_BLANKS, "");
  if (t === "" || t === ":") return complete ? "pass" : "hold";
  if (!t.startsWith("::")) return "pass";
  const name = /^::([^\s:]*)/.exec(t)![1]!.toLowerCase();
  const terminated = t.length > 2 + name.length;
  if (terminated || complete) return OWN_COMMANDS.includes(name) ? "pass" : "defuse";
  // The name is still being written: it can only become one of aegis's if it is a prefix of one.
  if (start.length > MAX_HELD || !OWN_COMMANDS.some((c) => c.startsWith(name))) return "defuse";
  return "hold";
}

/** Breaks every legacy command marker in `text`. */
const breakLegacy = (text: string) => text.replaceAll("##[", `#${DEFUSED}#[`);

/**
 * `chunk` as it may reach the runner, given what earlier writes left open in `state`. Nothing is
 * lost: removing the defusing characters gives back exactly the text written (once flushed).
 */
export function defuseCommands(chunk: string, state: LineState): string {
  const text = state.held + chunk;
  state.held = "";
  const parts = text.split(/(\r\n|\r|\n)/);
  let out = "";
  for (let i = 0; i < parts.length; i += 2) {
    const line = parts[i]!;
    const ending = parts[i + 1];
    const complete = ending !== undefined;
    let body = line;
    if (!state.decided) {
      const verdict = verdictOnStart(line, complete);
      if (verdict === "hold") {
        state.held = line;
        return out;
      }
      if (verdict === "defuse") body = `${DEFUSED}${line}`;
      state.decided = true;
    }
    if (!complete) {
      // A line left open: a trailing '#' or '##' may become '##[' with the next write.
      const tail = /#{1,2}$/.exec(body)?.[0] ?? "";
      state.held = tail;
      return out + breakLegacy(body.slice(0, body.length - tail.length));
    }
    // A lone '\r' at the very end may be the first half of '\r\n': the runner splits there either way.
    out += breakLegacy(body) + ending;
    state.decided = false;
  }
  return out;
}

/** What is still held back, written as it is (the step is ending: nothing more can follow). */
export function flushHeld(state: LineState): string {
  const held = state.decided ? breakLegacy(state.held) : state.held;
  const start = !state.decided && verdictOnStart(held, true) === "defuse" ? DEFUSED : "";
  state.held = "";
  return start + held;
}
