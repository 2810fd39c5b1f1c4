// The digest: the step summary a maintainer reads instead of logs. Pure — it renders a ledger
// snapshot at a given time; the digest mode reads the ledger and writes the result.
import { renderOutcomes } from "./digest-outcomes.js";
import { code } from "./inert.js";
import type { Config } from "../config.js";
import { budgetState } from "./queue.js";
import type { Attempt, Ledger, Task, TaskState } from "./ledger.js";
import { round } from "./lifecycle.js";
import {
  costByCategory,
  failureLabel,
  ofRun,
  tasksOfRun,
  windowStats,
  type WindowStats,
} from "./digest-stats.js";
import { cell, money } from "./status.js";

export interface DigestInput {
  ledger: Ledger;
  config: Config;
  /** ISO time the digest describes. */
  now: string;
  /** GITHUB_RUN_ID: transitions carry it as is, attempts as `<run id>/<run attempt>`. */
  runId: string;
  /** `${serverUrl}/${owner}/${repo}`, for issue and pull request links. */
  repoUrl: string;
  apiCalls?: number;
  dryRun?: boolean;
  /** The state branch, linked in the footer: the live ledger and every archived task's record. */
  stateBranch?: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Longest queue table; the rest is counted, so a large backlog keeps the summary readable. */
const MAX_ROWS = 25;

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** Age of `at` relative to `now`, coarse on purpose: "5m ago", "3h ago", "2d ago". */
export function ago(at: string, now: string): string {
  const ms = Math.max(0, Date.parse(now) - Date.parse(at));
  if (ms < HOUR_MS) return `${Math.floor(ms / 60_000)}m ago`;
  if (ms < DAY_MS) return `${Math.floor(ms / HOUR_MS)}h ago`;
  return `${Math.floor(ms / DAY_MS)}d ago`;
}

const limit = (usd: number) => (usd > 0 ? money(usd) : "no limit");
const spend = (spent: number, cap: number) =>
  cap > 0 ? `${money(spent)} of ${money(cap)}` : `${money(spent)} (no limit)`;

function table(head: string[], rows: string[][], total = rows.length): string[] {
  const out = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const row of rows.slice(0, MAX_ROWS)) out.push(`| ${row.join(" | ")} |`);
  if (total > MAX_ROWS) out.push("", `…and ${total - MAX_ROWS} more.`);
  return [...out, ""];
}

export function renderDigest(input: DigestInput): string {
  const { ledger, config, now } = input;
  const links = {
    issue: (task: Task) => `[#${task.issue}](${input.repoUrl}/issues/${task.issue}) ${cell(task.title, 60)}`,
    pr: (n: number) => `[#${n}](${input.repoUrl}/pull/${n})`,
  };
  const title = `## aegis digest · ${now.slice(0, 16).replace("T", " ")} UTC${input.dryRun ? " · dry run" : ""}`;
  const notes = [
    ...(input.stateBranch
      ? [
          `Every task's record: [\`${input.stateBranch}\`](${input.repoUrl}/tree/${input.stateBranch.split("/").map(encodeURIComponent).join("/")})`,
        ]
      : []),
    ...(input.apiCalls === undefined ? [] : [`GitHub API calls: ${input.apiCalls}`]),
  ];
  const footer = notes.length ? [`<sub>${notes.join(" · ")}</sub>`, ""] : [];

  if (ledger.tasks.length === 0 && Object.keys(ledger.rollups).length === 0 && !ledger.breaker.open) {
    return [
      title,
      "",
      "Nothing to report yet: aegis has no tasks in its ledger.",
      "",
      `To hand an issue to aegis, give it the \`${config.triggerLabel}\` label and one category label (${Object.keys(
        config.labels,
      )
        .map((l) => `\`${l}\``)
        .join(", ")}). ` + `Proposed work waits for a maintainer to add \`${config.approvalLabel}\`.`,
      "",
      ...footer,
    ].join("\n");
  }

  const budget = budgetState(ledger, config, now);
  const counts = new Map<TaskState, number>();
  for (const task of ledger.tasks) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  const n = (...states: TaskState[]) => states.reduce((sum, s) => sum + (counts.get(s) ?? 0), 0);
  const breaker = ledger.breaker.open
    ? `**open** — ${cell(ledger.breaker.reason ?? "repeated infrastructure failures", 120)}`
    : "closed";
  const out: string[] = [
    title,
    "",
    `**Queue:** ${n("awaiting-approval")} awaiting approval · ${n("queued")} queued · ${n("deferred")} deferred · ${n("running")} running · ` +
      `${n("pr-open", "reviewed")} open PRs · ${n("blocked", "failed")} need attention`,
    `**Spend today:** ${spend(budget.spentToday, config.budgets.dailyUsd)} · **this month:** ${spend(budget.spentMonth, config.budgets.monthlyUsd)} · **breaker:** ${breaker}`,
    "",
  ];
  if (budget.exhausted) out.push(`> [!WARNING]`, `> No new work is claimed: ${budget.exhausted}.`, "");

  out.push(...renderRun(input, links));
  out.push(...renderRecent(input, links));
  out.push(...renderQueue(ledger, config, now, links));
  out.push(...renderWindows(ledger, now));
  out.push(...renderOutcomes(ledger, now));
  out.push(...renderBudgets(budget, config));
  out.push(...renderCategories(ledger, now));
  out.push(...renderBreaker(ledger, config));
  out.push(...footer);
  return out.join("\n");
}

type Links = { issue: (task: Task) => string; pr: (n: number) => string };

function renderRun(input: DigestInput, links: Links): string[] {
  const tasks = tasksOfRun(input.ledger, input.runId);
  const out = [`### This run (${input.runId})`, ""];
  if (!tasks.length) return [...out, "This run changed no task.", ""];
  return [
    ...out,
    ...outcomeTable(
      tasks,
      links,
      (a) => ofRun(a.runId, input.runId),
      (t) => t.history.filter((h) => h.runId === input.runId),
    ),
  ];
}

/** Sessions that ended in the last 24 hours in other runs: what happened today at a glance. */
function renderRecent(input: DigestInput, links: Links): string[] {
  const since = new Date(Date.parse(input.now) - 86_400_000).toISOString();
  const recent = (a: Attempt) => !ofRun(a.runId, input.runId) && (a.endedAt ?? "") >= since;
  const tasks = input.ledger.tasks.filter((t) => t.attempts.some(recent));
  if (!tasks.length) return [];
  return ["### Other sessions in the last 24 hours", "", ...outcomeTable(tasks, links, recent, () => [])];
}

function outcomeTable(
  tasks: Task[],
  links: Links,
  counts: (a: Attempt) => boolean,
  steps: (t: Task) => Task["history"],
): string[] {
  const rows = tasks.map((task) => {
    const attempts = task.attempts.filter(counts);
    const last = attempts[attempts.length - 1];
    const moves = steps(task);
    const sum = (pick: (a: Attempt) => number | undefined) =>
      attempts.reduce((s, a) => s + (pick(a) ?? 0), 0);
    const ended = attempts.filter((a) => a.endedAt);
    const outcome = last ? (last.endedAt ? `**${failureLabel(last)}**` : "in progress") : "—";
    const why = last?.reason ?? moves[moves.length - 1]?.reason ?? "";
    const review = task.review
      ? `${task.review.verdict}${task.review.critical ? ` (${task.review.critical} critical)` : ""}`
      : "—";
    return [
      links.issue(task),
      `\`${task.id}\``,
      task.category,
      task.state,
      outcome,
      task.pr ? links.pr(task.pr.number) : "—",
      review,
      ended.length ? String(sum((a) => a.turns)) : "—",
      ended.length ? money(round(sum((a) => a.costUsd))) : "—",
      ended.length ? duration(sum((a) => a.durationMs)) : "—",
      cell(why, 140),
    ];
  });
  return table(
    ["Issue", "Task", "Category", "State", "Outcome", "PR", "Review", "Turns", "Cost", "Time", "Why"],
    rows,
  );
}

const byRank = (a: Task, b: Task) =>
  a.priority - b.priority || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/** When the task entered its current state. */
const since = (task: Task) => task.history[task.history.length - 1]!.at;

function renderQueue(ledger: Ledger, config: Config, now: string, links: Links): string[] {
  const inState = (...states: TaskState[]) =>
    ledger.tasks.filter((t) => states.includes(t.state)).sort(byRank);
  const out = ["### Queue", ""];
  const sections: [string, Task[], string[], (t: Task) => string[], string?][] = [
    [
      "Awaiting approval",
      inState("awaiting-approval"),
      ["Issue", "Task", "Category", "Requested by", "Waiting"],
      (t) => [links.issue(t), `\`${t.id}\``, t.category, `@${cell(t.requestedBy, 40)}`, ago(since(t), now)],
      `A maintainer (write, maintain or admin) approves by adding the \`${config.approvalLabel}\` label to the issue.`,
    ],
    [
      "Queued",
      inState("queued"),
      ["Issue", "Task", "Category", "Attempts", "Queued"],
      (t) => [
        links.issue(t),
        `\`${t.id}\``,
        t.category,
        `${t.attempts.length} of ${config.run.maxAttempts}`,
        ago(since(t), now),
      ],
      "In claim order; the next plan (a label event or the hourly schedule) claims up to `caps.running`.",
    ],
    [
      "Deferred",
      inState("deferred"),
      ["Issue", "Task", "Category", "Why"],
      (t) => [
        links.issue(t),
        `\`${t.id}\``,
        t.category,
        cell(t.deferredReason ?? t.history[t.history.length - 1]!.reason, 160),
      ],
      "Admitted automatically when room frees or the budget period rolls over.",
    ],
    [
      "Running",
      inState("running"),
      ["Issue", "Task", "Category", "Attempt", "Started"],
      (t) => {
        const a = t.attempts[t.attempts.length - 1];
        return [
          links.issue(t),
          `\`${t.id}\``,
          t.category,
          a ? `${a.number}${a.resumed ? " (resumed)" : ""}` : "—",
          a ? ago(a.startedAt, now) : "—",
        ];
      },
    ],
    [
      "Open pull requests",
      inState("pr-open", "reviewed"),
      ["Issue", "PR", "Review", "Opened"],
      (t) => [
        links.issue(t),
        t.pr ? links.pr(t.pr.number) : "—",
        t.review?.verdict ?? "pending",
        ago(since(t), now),
      ],
    ],
    [
      "Needs attention",
      inState("blocked", "failed"),
      ["Issue", "Task", "State", "Why"],
      (t) => [links.issue(t), `\`${t.id}\``, t.state, cell(t.history[t.history.length - 1]!.reason, 160)],
      `Fix the cause or clarify the issue, then remove and re-add \`${config.triggerLabel}\` to try again.`,
    ],
    [
      "Needs a fix",
      inState("reviewed").filter((t) => t.review?.verdict === "critical"),
      ["Issue", "PR", "Critical", "Fix rounds"],
      (t) => [
        links.issue(t),
        t.pr ? links.pr(t.pr.number) : "—",
        String(t.review?.critical ?? 0),
        `${t.fixRounds ?? 0} of ${config.review.maxFixRounds}`,
      ],
      `The review found CRITICAL problems (\`needs-fix\`). Add \`${config.fixLabel}\` to a PR to send it back to the agent with the findings.`,
    ],
  ];
  let any = false;
  for (const [heading, tasks, head, row, hint] of sections) {
    if (!tasks.length) continue;
    any = true;
    out.push(
      `#### ${heading} (${tasks.length})`,
      "",
      ...(hint ? [hint, ""] : []),
      ...table(head, tasks.map(row), tasks.length),
    );
  }
  if (!any) out.push("The queue is empty.", "");
  return out;
}

function renderWindows(ledger: Ledger, now: string): string[] {
  const day = windowStats(ledger, now, 24);
  const week = windowStats(ledger, now, 24 * 7);
  const row = (name: string, pick: (s: WindowStats) => string | number) => [
    name,
    String(pick(day)),
    String(pick(week)),
  ];
  const out = [
    "### Last 24 hours and 7 days",
    "",
    ...table(
      ["", "24 h", "7 days"],
      [
        row("Sessions", (s) => s.sessions),
        row("Completed", (s) => s.completed),
        row("↳ implicit-complete (no `TASK_COMPLETE`)", (s) => s.implicitComplete),
        row("Blocked", (s) => s.blocked),
        row("Failed", (s) => s.failed),
        row("PRs opened", (s) => s.prsOpened),
        row("PRs merged", (s) => s.prsMerged),
        row("Cancelled", (s) => s.cancelled),
        row("Cost", (s) => money(s.costUsd)),
      ],
    ),
  ];
  const kinds = [...week.failedByKind.keys()].sort(
    (a, b) => (week.failedByKind.get(b) ?? 0) - (week.failedByKind.get(a) ?? 0) || a.localeCompare(b),
  );
  if (kinds.length) {
    out.push(
      "#### Failures by kind",
      "",
      ...table(
        ["Kind", "24 h", "7 days"],
        kinds.map((k) => [
          cell(k, 60),
          String(day.failedByKind.get(k) ?? 0),
          String(week.failedByKind.get(k) ?? 0),
        ]),
      ),
    );
  }
  return out;
}

function renderBudgets(budget: ReturnType<typeof budgetState>, config: Config): string[] {
  const left = (spent: number, cap: number) =>
    cap > 0 ? money(Math.max(0, round(cap - spent))) : "no limit";
  const { dailyUsd, monthlyUsd, perTaskUsd } = config.budgets;
  return [
    "### Budgets",
    "",
    ...table(
      ["Period", "Spent", "Limit", "Left"],
      [
        ["Today (UTC)", money(budget.spentToday), limit(dailyUsd), left(budget.spentToday, dailyUsd)],
        [
          "This month (UTC)",
          money(budget.spentMonth),
          limit(monthlyUsd),
          left(budget.spentMonth, monthlyUsd),
        ],
      ],
    ),
    `Per task: ${perTaskUsd > 0 ? `${money(perTaskUsd)} per session` : "no limit"}.`,
    "",
  ];
}

function renderCategories(ledger: Ledger, now: string): string[] {
  const rows = costByCategory(ledger, now, 24 * 7);
  if (!rows.length) return [];
  return [
    "### Cost by category and model (7 days)",
    "",
    ...table(
      ["Category", "Model", "Sessions", "Completed", "Avg turns", "Cost", "Per completed"],
      rows.map((r) => [
        r.category,
        `${code(r.model, 60)}`,
        String(r.sessions),
        String(r.completed),
        (r.turns / r.sessions).toFixed(1),
        money(r.costUsd),
        r.completed ? money(round(r.costUsd / r.completed)) : "—",
      ]),
    ),
  ];
}

function renderBreaker(ledger: Ledger, config: Config): string[] {
  const b = ledger.breaker;
  const count = `${b.consecutiveInfraFailures} of ${config.breaker.threshold} consecutive infrastructure failures`;
  const line = b.open
    ? `**Open**${b.since ? ` since ${b.since.slice(0, 16).replace("T", " ")} UTC` : ""} (${count}): no new work is claimed. ${cell(b.reason ?? "", 200)}`
    : `Closed (${count}).`;
  return ["### Circuit breaker", "", line.trim(), ""];
}
