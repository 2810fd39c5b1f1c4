/**
 * The runner reads every line a step prints for workflow commands: a line that starts (after
 * blanks) with `::` is a command. Some change what happens next — `::save-state` feeds the post
 * step (which runs with root's rights to clean up the agent's room), `::set-output` feeds later
 * steps, `::stop-commands` silences aegis's own annotations. Text aegis logs can carry what the
 * agent or an issue wrote (a tool name, a command, a reason), so every line aegis prints passes
 * through here: a line that would be a command other than the few aegis itself emits through
 * @actions/core is defused by a character in front of it.
 */

/** The commands @actions/core emits for aegis on stdout (state and outputs go through files). */
const OWN_COMMANDS = new Set(["group", "endgroup", "debug", "notice", "warning", "error", "add-mask"]);

/** The runner splits lines at \n, \r\n and a lone \r. */
const LINE_BREAK = /\r\n|\r|\n/;

const DEFUSED = "\u00b7"; // a middle dot: visible, and not a blank the runner trims

export interface LineState {
  /** Whether the next character written starts a line. */
  atLineStart: boolean;
}

/** Whether `line` (from its start) would be taken for a command aegis does not emit. */
function foreignCommand(line: string): boolean {
  const trimmed = line.trimStart();
  if (!trimmed.startsWith("::")) return false;
  const name = /^::([^\s:]*)/.exec(trimmed)?.[1] ?? "";
  return !OWN_COMMANDS.has(name.toLowerCase());
}

/**
 * `chunk` as it may reach the runner: each line that starts in it and reads as a foreign
 * command gets a visible character in front. `state` carries whether a line is open across
 * writes (a line that started in an earlier chunk was judged there, by its start).
 */
export function defuseCommands(chunk: string, state: LineState): string {
  const parts = chunk.split(/(\r\n|\r|\n)/);
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 2 === 1) {
      out += part;
      state.atLineStart = true;
      continue;
    }
    if (part === "") continue;
    out += state.atLineStart && foreignCommand(part) ? `${DEFUSED}${part}` : part;
    state.atLineStart = false;
  }
  // A chunk that ends where a line starts: the next chunk's beginning is a line start too.
  if (chunk.length && LINE_BREAK.test(chunk.slice(-1))) state.atLineStart = true;
  return out;
}
