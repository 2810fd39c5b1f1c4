// The README's first command: the whole lifecycle on the embedded fakes, through the real bundle.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("npm run demo takes three issues through plan, run, review and digest", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["scripts/demo.mjs", "--quiet"], {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  // The digest shows each sample issue with its real outcome.
  expect(stdout).toMatch(/Document the configuration[^\n]*\| docs \|[^\n]*reviewed[^\n]*\*\*complete\*\*/);
  expect(stdout).toMatch(/Off-by-one in the pager[^\n]*\| bugfix \|[^\n]*\*\*complete\*\*/);
  expect(stdout).toMatch(/Squash the history of main[^\n]*\| blocked \| \*\*blocked\*\*/);
  // The PRs carry the review verdicts; the hooks kept the remote's history intact.
  expect(stdout).toMatch(/#\d+ Document the configuration \[aegis, docs, codex-reviewed\]/);
  expect(stdout).toMatch(/#\d+ Off-by-one in the pager \[aegis, bugfix, needs-fix\]/);
  expect(stdout).toContain("The remote main branch is untouched: 1 commit(s).");
}, 150_000);
