// `npm run bench`: what aegis costs, offline, against the fake GitHub and the real bundle.
//
//   npm run bench                        every section; exits 1 when a target is missed
//   npm run bench -- --only api,ledger   some sections (api, sweep, ledger, concurrency, overhead, room)
//   npm run bench -- --out FILE          JSON somewhere else (default bench-results/latest.json)
//   AEGIS_BENCH_ENTRY=path npm run bench another entry than dist/index.js (a private build)
//
// Sections: 1 GitHub API calls per operation and the tasks per hour they allow; 2 the sweep's
// cost as the repository grows; 3 the ledger at 1,000 and 10,000 tasks; 4 twenty plans racing;
// 5 time aegis adds around the Claude session, and the bundle's cold start. Figures that need
// mode run say "not available" until the bundle has it.
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchApi, type RunTiming } from "./bench-api.js";
import { benchConcurrency } from "./bench-concurrency.js";
import { ENTRY } from "./bench-env.js";
import { benchLedger } from "./bench-ledger.js";
import { benchRoom } from "./bench-room.js";
import { benchDocument, type Figure, missed, renderDetails, renderTable, statusOf } from "./bench-report.js";
import { measureColdStart, startupFigures } from "./bench-startup.js";
import { benchShepherd } from "./bench-shepherd.js";
import { benchSweep } from "./bench-sweep.js";

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DEFAULT_OUT = path.join(PROJECT, "bench-results", "latest.json");
const SECTIONS = ["api", "sweep", "ledger", "concurrency", "overhead", "room"] as const;
type Section = (typeof SECTIONS)[number];

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);

function parseArgs(argv: string[]): { only: Set<Section>; out: string } {
  let only = new Set<Section>(SECTIONS);
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? "";
    if (flag === "--only") {
      const names = value().split(",").filter(Boolean);
      const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (unknown.length)
        throw new Error(`--only: unknown section(s) ${unknown.join(", ")}; expected ${SECTIONS.join(", ")}`);
      only = new Set(names as Section[]);
    } else if (flag === "--out") {
      out = path.resolve(value());
    } else {
      throw new Error(`unknown argument ${argv[i]}; expected --only SECTIONS or --out FILE`);
    }
  }
  return { only, out };
}

/** A section that throws still yields a row, so the table shows what broke and the exit fails. */
async function guarded(name: string, fn: () => Promise<Figure[]>): Promise<Figure[]> {
  const started = performance.now();
  log(`${name}…`);
  try {
    const figures = await fn();
    log(`${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return figures;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`${name} broke: ${error instanceof Error ? (error.stack ?? message) : message}`);
    return [
      {
        id: `${name}.error`,
        section: name,
        label: "section did not complete",
        value: null,
        unit: "",
        error: message.split("\n")[0]!,
      },
    ];
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const { only, out } = parseArgs(process.argv.slice(2));
  const figures: Figure[] = [];
  let run: RunTiming = { available: false, reason: "the API section was not run (--only)" };

  if (only.has("api"))
    figures.push(
      ...(await guarded("1. GitHub API calls", async () => {
        const result = await benchApi();
        run = result.run;
        return result.figures;
      })),
    );
  if (only.has("sweep")) {
    figures.push(...(await guarded("2. Sweep scaling", () => benchSweep())));
    figures.push(...(await guarded("2. Sweep scaling, open PRs", () => benchShepherd())));
  }
  if (only.has("ledger")) figures.push(...(await guarded("3. Ledger scaling", () => benchLedger())));
  if (only.has("concurrency")) figures.push(...(await guarded("4. Concurrency", () => benchConcurrency())));
  if (only.has("overhead"))
    figures.push(
      ...(await guarded("5. Overhead", async () => startupFigures(await measureColdStart(), run))),
    );
  if (only.has("room"))
    figures.push(...(await guarded("6. The room as the checkout grows", () => benchRoom())));

  const durationMs = Math.round(performance.now() - started);
  const doc = benchDocument(figures, {
    startedAt,
    durationMs,
    machine: { node: process.version, cpus: os.cpus().length, platform: `${os.platform()} ${os.arch()}` },
    entry: path.relative(PROJECT, ENTRY) || ENTRY,
  });
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);

  const counts = (s: string) => figures.filter((f) => statusOf(f) === s).length;
  const say = (text = "") => process.stdout.write(`${text}\n`);
  say(
    `aegis bench · ${startedAt.slice(0, 19).replace("T", " ")} UTC · node ${process.version} · ${os.cpus().length} CPUs`,
  );
  say();
  say(renderTable(figures));
  say();
  say("Details (calls per endpoint; notes):");
  say(renderDetails(figures));
  say();
  const miss = missed(figures);
  say(
    `${counts("ok")} target(s) met, ${miss.length} missed or failed, ${counts("n/a")} not available, ${counts("info")} informational · ${(durationMs / 1000).toFixed(1)} s · JSON: ${path.relative(process.cwd(), out) || out}`,
  );
  if (miss.length) say(`Missed: ${miss.map((f) => f.label).join("; ")}`);
  return miss.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
