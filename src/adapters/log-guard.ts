/**
 * Installs the workflow-command guard (core/workflow-commands.ts) on the step's stdout and
 * stderr — the runner reads commands from both — before anything else of aegis runs.
 */
import { defuseCommands, type LineState } from "../core/workflow-commands.js";

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

export function guardWorkflowCommands(stream: NodeJS.WriteStream): void {
  const state: LineState = { atLineStart: true };
  const write = stream.write.bind(stream) as Write;
  const guarded: Write = (chunk, encoding, callback) => {
    const text =
      typeof chunk === "string"
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk).toString("utf8")
          : String(chunk);
    return typeof encoding === "function"
      ? write(defuseCommands(text, state), encoding)
      : write(defuseCommands(text, state), "utf8", callback);
  };
  stream.write = guarded as typeof stream.write;
}
