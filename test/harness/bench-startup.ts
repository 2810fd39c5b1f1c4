// Section 5: what aegis adds around the Claude session, and the bundle's cold start. Both are
// put over a bare `node -e 0` measured in the same run, so a slower or busier machine moves
// numerator and denominator together and the ratio stays comparable between runs.
import { spawn } from "node:child_process";
import type { RunTiming } from "./bench-api.js";
import { ENTRY } from "./bench-env.js";
import { type Figure, median } from "./bench-report.js";

const SECTION = "5. Overhead around the session";
const SAMPLES = 7;
/** Cold start over bare node: loading the 2 MB bundle; 10× is ≈ 0.2 s here, paid once per step. */
export const COLD_START_RATIO = 10;
/** Run's wall time outside the session, in bare node starts (≈ 2–3 s on a typical runner). */
export const RUN_OVERHEAD_RATIO = 60;

interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
}

function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ ms: performance.now() - started, code, stdout: Buffer.concat(out).toString("utf8") }),
    );
  });
}

export interface ColdStart {
  nodeMs: number;
  bundleMs: number;
}

/** Alternating samples of both, medians taken: drift in machine load hits both alike. */
export async function measureColdStart(entry = ENTRY): Promise<ColdStart> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", INPUT_MODE: "bogus" };
  const node: number[] = [];
  const bundle: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    node.push((await timeProcess(["-e", "0"], env)).ms);
    const run = await timeProcess([entry], env);
    // It must have stopped at the input, or this measures something else.
    if (run.code !== 1 || !/::error::.*mode/.test(run.stdout))
      throw new Error(
        `bench: the bundle did not fail on the bad mode input (exit ${run.code}):\n${run.stdout}`,
      );
    bundle.push(run.ms);
  }
  return { nodeMs: median(node), bundleMs: median(bundle) };
}

export function startupFigures(cold: ColdStart, run: RunTiming): Figure[] {
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const figures: Figure[] = [
    {
      id: "overhead.node-ms",
      section: SECTION,
      label: "bare `node -e 0` (the yardstick)",
      value: Math.round(cold.nodeMs),
      unit: "ms",
      note: `median of ${SAMPLES}`,
    },
    {
      id: "overhead.cold-start",
      section: SECTION,
      label: "bundle cold start (a bad input, fails at once) ÷ bare node",
      value: r1(cold.bundleMs / cold.nodeMs),
      unit: "×",
      target: { op: "<=", limit: COLD_START_RATIO },
      note: `${Math.round(cold.bundleMs)} ms, median of ${SAMPLES}`,
    },
  ];
  const label = "run's wall time outside the Claude session ÷ bare node";
  if (!run.available) {
    figures.push({
      id: "overhead.run",
      section: SECTION,
      label,
      value: null,
      unit: "×",
      target: { op: "<=", limit: RUN_OVERHEAD_RATIO },
      note: run.reason,
    });
  } else {
    const overhead = run.wallMs - run.sessionMs;
    figures.push({
      id: "overhead.run",
      section: SECTION,
      label,
      value: r1(overhead / cold.nodeMs),
      unit: "×",
      target: { op: "<=", limit: RUN_OVERHEAD_RATIO },
      note: `${Math.round(overhead)} ms = ${run.wallMs} ms wall − ${Math.round(run.sessionMs)} ms session (${run.source}); warm tool cache (claude-executable set)`,
    });
  }
  return figures;
}
