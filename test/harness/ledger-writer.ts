// A separate process that adds one task to the ledger, for the concurrency tests:
// node --import tsx test/harness/ledger-writer.ts <apiUrl> <token> <owner> <repo> <issue>
import { GitHub } from "../../src/adapters/github.js";
import { LedgerStore } from "../../src/adapters/ledger-store.js";
import { addTask, openTaskForIssue } from "../../src/core/lifecycle.js";
import { newTask } from "./tasks.js";

const [apiUrl, token, owner, repo, issueArg] = process.argv.slice(2);
const issue = Number(issueArg);
const gh = new GitHub({ token: token!, apiUrl: apiUrl!, owner: owner!, repo: repo! });
const store = new LedgerStore({
  gh,
  branch: "aegis-state",
  now: () => new Date().toISOString(),
  baseDelayMs: 50,
  maxAttempts: 40,
});
const result = await store.update(`add #${issue}`, (draft) => {
  if (openTaskForIssue(draft, issue)) return "exists";
  const now = new Date().toISOString();
  addTask(draft, newTask(issue, { requestedBy: "w" }), "queued", {
    actor: `writer-${issue}`,
    reason: "concurrency test",
    now,
  });
  return "added";
});
process.stdout.write(
  JSON.stringify({ result: result.result, conflicts: result.conflicts, calls: gh.calls }) + "\n",
);
