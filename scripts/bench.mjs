// `npm run bench`: API calls, sweep and ledger scaling, concurrency and overhead, offline on the
// embedded fakes (see test/harness/bench.ts). Exits 1 when a target is missed.
import { execFileSync } from "node:child_process";
try {
  execFileSync(process.execPath, ["--import", "tsx", "test/harness/bench.ts", ...process.argv.slice(2)], {
    stdio: "inherit",
  });
} catch (error) {
  process.exit(error.status ?? 1);
}
