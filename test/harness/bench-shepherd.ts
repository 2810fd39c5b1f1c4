// Section 2, continued: the hourly sweep as aegis's open pull requests grow, with the shepherd on
// (the sweep reads the repository's comments for `/aegis` commands whose events were missed).
// Target: at most one call more per open aegis PR when nothing happened. Then what a command
// found by the sweep costs beyond that idle sweep (the round queued, `eyes`, the claim).
import { GitHub } from "../../src/adapters/github.js";
import { stateLabel } from "../../src/core/labels.js";
import { emptyLedger, serializeLedger } from "../../src/core/ledger.js";
import { addTask } from "../../src/core/lifecycle.js";
import { CONFIG, type Sandbox, sandbox, STATE_BRANCH, step, type StepResult } from "./bench-env.js";
import { type Figure, subtractCounts, totalCalls } from "./bench-report.js";
import { scheduleEvent } from "./runner.js";
import { openIssue } from "./scenario.js";
import { newTask } from "./tasks.js";

const SECTION = "2. Sweep scaling (50 labelled issues)";
const FEW = 1;
const MANY = 10;

export async function benchShepherd(): Promise<Figure[]> {
  const few = await measure(FEW, false);
  const many = await measure(MANY, true);
  const perPr = (totalCalls(many.idle.calls) - totalCalls(few.idle.calls)) / (MANY - FEW);
  const figures: Figure[] = [
    {
      id: `sweep.prs.${FEW}`,
      section: SECTION,
      label: `idle sweep with ${FEW} open aegis PR (shepherd on)`,
      value: totalCalls(few.idle.calls),
      unit: "calls",
      breakdown: few.idle.calls,
    },
    {
      id: `sweep.prs.${MANY}`,
      section: SECTION,
      label: `idle sweep with ${MANY} open aegis PRs (shepherd on)`,
      value: totalCalls(many.idle.calls),
      unit: "calls",
      breakdown: many.idle.calls,
    },
    {
      id: "sweep.perOpenPr",
      section: SECTION,
      label: "idle sweep: calls per open aegis PR",
      value: perPr,
      unit: "calls",
      target: { op: "<=", limit: 1 },
    },
  ];
  if (many.command) {
    const extra = subtractCounts(many.command.calls, many.idle.calls);
    figures.push({
      id: "sweep.command",
      section: SECTION,
      label: "a missed `/aegis` command found by the sweep (beyond an idle sweep): round queued, eyes, claim",
      value: totalCalls(extra),
      unit: "calls",
      breakdown: extra,
      ...(many.claimed ? {} : { note: "the sweep did not claim the round" }),
    });
  }
  return figures;
}

async function measure(
  prs: number,
  withCommand: boolean,
): Promise<{ idle: StepResult; command?: StepResult; claimed?: boolean }> {
  const sb = await sandbox();
  try {
    const opened = await openPulls(sb, prs);
    // The first sweep sets where later ones read comments from; the second is the usual hour.
    for (let i = 0; i < 2; i++)
      must(await step(sb, { mode: "plan", event: scheduleEvent(sb.fake) }), "warm-up sweep");
    const idle = must(await step(sb, { mode: "plan", event: scheduleEvent(sb.fake) }), "idle sweep");
    if (!withCommand) return { idle };
    sb.fake.seedComment(opened[0]!, { user: "maya", body: "/aegis also list the flags" });
    const command = must(await step(sb, { mode: "plan", event: scheduleEvent(sb.fake) }), "command sweep");
    const claimed = (JSON.parse(command.run.outputs.tasks ?? "[]") as string[]).length === 1;
    return { idle, command, claimed };
  } finally {
    await sb.close();
  }
}

/** `n` tasks with open PRs, as run mode leaves them: issue and PR labelled, the ledger consistent. */
async function openPulls(sb: Sandbox, n: number): Promise<number[]> {
  const { fake } = sb;
  const gh = new GitHub({ token: fake.token, apiUrl: fake.url, owner: fake.owner, repo: fake.repo });
  const now = new Date().toISOString();
  const ledger = emptyLedger(now);
  const numbers: number[] = [];
  for (let k = 0; k < n; k++) {
    const issue = openIssue(fake, {
      title: `Document part ${k}`,
      body: `Part ${k} of the manual needs a page of its own, with examples.`,
      labels: ["documentation", CONFIG.triggerLabel, stateLabel("pr-open")],
      by: "maya",
    });
    const task = addTask(ledger, newTask(issue, { title: `Document part ${k}` }), "pr-open", {
      actor: "aegis",
      reason: "opened",
      now,
      runId: "4000",
    });
    const branch = `auto/docs/${task.id}`;
    await fake.commitFile(branch, `docs/part-${k}.md`, `# Part ${k}\n`, `docs: part ${k}`);
    const { data: pr } = await gh.octokit.rest.pulls.create({
      owner: fake.owner,
      repo: fake.repo,
      head: branch,
      base: fake.defaultBranch,
      title: `Document part ${k}`,
      body: `Fixes #${issue}`,
    });
    await gh.octokit.rest.issues.addLabels({
      owner: fake.owner,
      repo: fake.repo,
      issue_number: pr.number,
      labels: [CONFIG.triggerLabel],
    });
    task.branch = branch;
    task.pr = { number: pr.number, url: pr.html_url };
    numbers.push(pr.number);
  }
  await fake.commitFile(STATE_BRANCH, "state.json", serializeLedger(ledger), "bench: open PRs");
  return numbers;
}

function must(result: StepResult, what: string): StepResult {
  if (!result.ok) throw new Error(`bench: ${what} failed:\n${result.run.stdout}`);
  return result;
}
