// `npm run demo`: the whole aegis lifecycle, offline, on the embedded fakes (see test/harness/demo.ts).
import { execFileSync } from "node:child_process";
try {
  execFileSync(process.execPath, ["--import", "tsx", "test/harness/demo.ts", ...process.argv.slice(2)], {
    stdio: "inherit",
  });
} catch (error) {
  process.exit(error.status ?? 1);
}
