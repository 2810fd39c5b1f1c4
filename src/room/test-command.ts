// Runs the configured test command (`run.testCommand`) for the test ratchet: in its own process
// group with the agent's scrubbed environment (no tokens), a wall-clock limit that kills the
// whole group, and only the tail of its output kept.
import { spawn } from "node:child_process";
import type { TestRun } from "../core/run-decisions.js";
import { redactAll } from "../core/run-report.js";
import type { Launcher } from "./launcher.js";

const TAIL_BYTES = 6000;

export interface TestCommandOptions {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Values replaced by *** in the kept output: it may reach an issue comment. */
  secrets: string[];
  /** Runs the command inside the agent's room; default: as the action. */
  launch?: Launcher;
  /** Kills whatever the tests left (the room's reaper); awaited before the result is returned. */
  stop?: () => Promise<number>;
}

/** The command is the repository owner's (from the config file), so it runs through bash as written. */
export function runTestCommand(opts: TestCommandOptions): Promise<TestRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    let tail = "";
    let timedOut = false;
    const plain = { file: "bash", args: ["-c", opts.command], env: opts.env };
    const cmd = opts.launch ? opts.launch(plain.file, plain.args, plain.env) : plain;
    const child = spawn(cmd.file, cmd.args, {
      cwd: opts.cwd,
      env: cmd.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES * 2);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      void opts.stop?.().catch(() => undefined);
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), 3000).unref();
    }, opts.timeoutMs);
    let done = false;
    const finish = (exitCode: number | null, note?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = redactAll(tail, opts.secrets).slice(-TAIL_BYTES);
      const result = {
        passed: exitCode === 0 && !timedOut,
        timedOut,
        exitCode,
        tail: note ? `${text}\n${note}` : text,
        durationMs: Date.now() - started,
      };
      // Whatever the tests started (a daemon, a setsid'd child) is gone before the result counts.
      if (opts.stop)
        void opts.stop().then(
          () => resolve(result),
          () => resolve(result),
        );
      else resolve(result);
    };
    child.once("error", (error) => finish(null, `could not start bash: ${error.message}`));
    child.once("exit", (code) => {
      // Whatever the tests started in the background goes with them; then drain the pipes.
      killGroup("SIGKILL");
      const drained = setTimeout(() => finish(code), 1000);
      child.once("close", () => {
        clearTimeout(drained);
        finish(code);
      });
    });
  });
}
