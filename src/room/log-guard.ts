/**
 * Installs the workflow-command guard (core/workflow-commands.ts) on the step's stdout and
 * stderr — the runner reads commands from both — before anything else of aegis runs. What the
 * guard holds back (an undecided line start) is written when the process exits; pipes are
 * synchronous on Linux, so it still reaches the runner.
 */
import { defuseCommands, flushHeld, freshLineState } from "../core/workflow-commands.js";

type Write = (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

export function guardWorkflowCommands(stream: NodeJS.WriteStream): void {
  const state = freshLineState();
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
  process.on("exit", () => {
    const rest = flushHeld(state);
    if (rest) write(rest, "utf8");
  });
}

/**
 * An error nothing caught would be printed by Node itself, straight to file descriptor 2 and
 * past the guard, with a message that may carry untrusted text. It is printed through the
 * guarded stream instead, and the step fails as it would have.
 */
export function guardUncaughtErrors(): void {
  const report = (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${text}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", report);
  process.on("unhandledRejection", report);
}
