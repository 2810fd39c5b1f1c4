// Section 1, continued: what the new-dependency check costs. The run step of a session that adds
// two npm packages and one Python package: GitHub's advisory database is asked twice per
// ecosystem (reviewed advisories, then malware), beside the one-file docs run (api.run), which
// changes no manifest and asks nothing.
import type { Figure } from "./bench-report.js";
import { totalCalls } from "./bench-report.js";
import { CONFIG, failureOf, sandbox, step } from "./bench-env.js";
import { claudeBin, startFakeAnthropic, type Turn } from "./fake-anthropic.js";
import { issueLabeledEvent, scheduleEvent } from "./runner.js";
import { addLabelAs, openIssue } from "./scenario.js";

const SECTION = "1. GitHub API calls";
/** Reviewed advisories and malware, per ecosystem the diff touches. */
export const ADVISORY_CALLS_PER_ECOSYSTEM = 2;

const PACKAGE = `${JSON.stringify({ name: "app", dependencies: { "date-fns": "^3.6.0", ms: "2.1.3" } }, null, 2)}\n`;
const SESSION: Turn[] = [
  { toolUses: [{ name: "Write", input: { file_path: "package.json", content: PACKAGE } }] },
  { toolUses: [{ name: "Write", input: { file_path: "requirements.txt", content: "requests==2.32.3\n" } }] },
  { toolUses: [{ name: "Bash", input: { command: "git add -A && git commit -qm 'Add the libraries'" } }] },
  { text: "Added them.\n\nTASK_COMPLETE" },
];

export async function dependencyRunScenario(): Promise<Figure[]> {
  const anthropic = await startFakeAnthropic((ctx) => SESSION[ctx.step] ?? { text: "TASK_COMPLETE" });
  const sb = await sandbox();
  const label = "run adding dependencies (2 npm, 1 pip): GET /advisories for the new-dependency check";
  try {
    const { fake } = sb;
    const n = openIssue(fake, { title: "Use date-fns for the dates", labels: ["documentation"], by: "maya" });
    addLabelAs(fake, n, CONFIG.triggerLabel, "maya");
    const intake = await step(sb, {
      mode: "plan",
      event: issueLabeledEvent(fake, n, CONFIG.triggerLabel, "maya"),
    });
    const taskId = (JSON.parse(intake.run.outputs.tasks ?? "[]") as string[])[0];
    if (!intake.ok || !taskId) throw new Error(`the intake claimed nothing: ${failureOf(intake.run)}`);
    const ran = await step(sb, {
      mode: "run",
      inputs: {
        "claude-executable": claudeBin(),
        "anthropic-base-url": anthropic.url,
        "anthropic-api-key": "sk-ant-bench",
        task: taskId,
      },
      event: scheduleEvent(fake),
      freshWorkspace: true,
      timeoutMs: 150_000,
    });
    const advisories = ran.calls["GET /advisories"] ?? 0;
    if (!ran.ok || !ran.run.outputs["pr-number"])
      return [
        {
          id: "api.run-dependencies",
          section: SECTION,
          label,
          value: null,
          unit: "calls",
          note: failureOf(ran.run),
        },
      ];
    return [
      {
        id: "api.run-dependencies",
        section: SECTION,
        label,
        value: advisories,
        unit: "calls",
        target: { op: "<=", limit: 2 * ADVISORY_CALLS_PER_ECOSYSTEM },
        breakdown: ran.calls,
        note: `the whole run step: ${totalCalls(ran.calls)} calls; a run that changes no manifest asks none`,
      },
    ];
  } finally {
    await Promise.allSettled([sb.close(), anthropic.close()]);
  }
}
