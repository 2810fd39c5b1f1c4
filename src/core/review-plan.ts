// The decisions of mode `review`, kept apart from I/O: whether a task can be reviewed, what a
// Codex run amounts to, which PR labels change, how the ledger records it, and the step summary.
import { type Finding, parseFindings, type TokenUsage, type Verdict, verdictOf } from "./findings.js";
import { NEEDS_FIX_LABEL, REVIEW_FAILED_LABEL, REVIEWED_LABEL } from "./labels.js";
import type { Ledger, Task, TaskState } from "./ledger.js";
import { findTask, transition } from "./lifecycle.js";

export type ReviewVerdict = Verdict | "skipped";

/** States whose PR is open and reviewable; `reviewed → reviewed` is a re-review. */
export const REVIEWABLE_STATES: readonly TaskState[] = ["pr-open", "reviewed"];

/** Why a task cannot be reviewed, or undefined when it can. */
export function taskSkipReason(task: Task | undefined, id: string): string | undefined {
  if (!task) return `there is no task ${id} in the ledger`;
  if (!task.pr) return `task ${id} has no pull request (it is ${task.state})`;
  if (!REVIEWABLE_STATES.includes(task.state))
    return `task ${id} is ${task.state}; only a task with an open pull request is reviewed`;
  return undefined;
}

/** The fields of `GET /pulls/{n}` the decision reads. */
export interface PullView {
  number: number;
  state: string;
  merged?: boolean | null;
  merged_at?: string | null;
  head: { ref: string; sha: string; repo: { full_name: string } | null };
  base: { ref: string; repo: { full_name: string } };
}

/**
 * The PR as the run step of this same workflow run opened it, from the ledger — so the first
 * review, minutes later, need not ask GitHub. Later reviews read the live PR.
 */
export function justOpenedPull(
  task: Task,
  runId: string,
  repository: string,
): (PullView & { html_url: string; labels: { name: string }[] }) | undefined {
  const pr = task.pr as
    { number: number; url: string; base?: string; headSha?: string; openedRun?: string } | undefined;
  if (!pr || task.review || !task.branch || pr.openedRun !== runId || !pr.base || !pr.headSha)
    return undefined;
  return {
    number: pr.number,
    state: "open",
    html_url: pr.url,
    labels: [],
    head: { ref: task.branch, sha: pr.headSha, repo: { full_name: repository } },
    base: { ref: pr.base, repo: { full_name: repository } },
  };
}

export function pullSkipReason(pull: PullView | undefined, number: number): string | undefined {
  if (!pull) return `pull request #${number} no longer exists`;
  if (pull.merged || pull.merged_at) return `pull request #${number} is already merged`;
  if (pull.state !== "open") return `pull request #${number} is closed`;
  // aegis opens PRs from branches of the repository itself; a fork's head is not fetched with this token.
  if (pull.head.repo?.full_name !== pull.base.repo.full_name)
    return `pull request #${number} comes from another repository`;
  return undefined;
}

/** What a Codex run gave back (the shape of the adapter's CodexRunResult, without importing it). */
export interface ReviewRun {
  ok: boolean;
  error?: string;
  lastMessage: string;
  agentMessages: string[];
  root?: string;
}

export interface Assessment {
  verdict: Verdict;
  findings: Finding[];
  critical: number;
  /** Why the review did not complete (verdict `error`). */
  error?: string;
  note?: string;
  summary?: string;
}

/**
 * Turns a run into a verdict. Only a clear answer counts as a review: an answer that holds
 * neither findings nor a plain "no issues" is an error with the answer quoted, never a guess
 * that it was clean (which would hide a concern written as prose) or critical (invented).
 */
export function assess(run: ReviewRun): Assessment {
  if (!run.ok)
    return {
      verdict: "error",
      findings: [],
      critical: 0,
      error: run.error?.trim() || "codex failed without saying why",
    };
  const parsed = parseFindings({
    lastMessage: run.lastMessage,
    agentMessages: run.agentMessages,
    ...(run.root ? { root: run.root } : {}),
  });
  const text = run.lastMessage.trim() || run.agentMessages.at(-1)?.trim() || "";
  if (!text)
    return { verdict: "error", findings: [], critical: 0, error: "Codex finished without an answer" };
  if (!parsed.parsed) {
    return {
      verdict: "error",
      findings: [],
      critical: 0,
      error: "Codex answered, but not with findings aegis can read; its answer is quoted below",
      summary: text,
      ...(parsed.note ? { note: parsed.note } : {}),
    };
  }
  const verdict = verdictOf(parsed.findings, true);
  return {
    verdict,
    findings: parsed.findings,
    critical: parsed.findings.filter((f) => f.severity === "critical").length,
    ...(parsed.note ? { note: parsed.note } : {}),
    ...(parsed.summary ? { summary: parsed.summary } : {}),
  };
}

const REVIEW_LABELS = [NEEDS_FIX_LABEL, REVIEWED_LABEL, REVIEW_FAILED_LABEL] as const;

/**
 * Labels to add to and remove from the PR, given those it carries now (from `GET /pulls/{n}`, so
 * nothing is removed that is not there). A failed review adds `codex-review-failed` and leaves the
 * last verdict's label: the failure says nothing about the code.
 */
export function reviewLabelChanges(
  current: readonly string[],
  verdict: Verdict,
): { add: string[]; remove: string[] } {
  const has = new Set(current.map((l) => l.toLowerCase()));
  if (verdict === "error")
    return { add: has.has(REVIEW_FAILED_LABEL) ? [] : [REVIEW_FAILED_LABEL], remove: [] };
  const want = verdict === "critical" ? NEEDS_FIX_LABEL : REVIEWED_LABEL;
  return {
    add: has.has(want) ? [] : [want],
    remove: REVIEW_LABELS.filter((l) => l !== want && has.has(l)),
  };
}

/** What the ledger keeps of a review (task.review; the schema keeps the extra fields). */
export interface ReviewRecord {
  verdict: Verdict;
  at: string;
  critical: number;
  findings: number;
  commentId?: number;
  headSha?: string;
  model?: string;
  durationMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  error?: string;
  /**
   * The findings, one line each (severity, place, title; at most five): what a later task of the
   * issue — or a fix round — is told the review found, without reading the PR again.
   */
  notes?: string[];
}

export type RecordOutcome =
  | { kind: "recorded"; task: Task; from: TaskState }
  | { kind: "gone" }
  | { kind: "moved-on"; state: TaskState };

export function transitionReason(a: Pick<Assessment, "verdict" | "critical" | "findings">): string {
  if (a.findings.length === 0) return `Codex review: ${a.verdict}, no findings`;
  return `Codex review: ${a.verdict}, ${a.critical} critical and ${a.findings.length - a.critical} non-critical finding(s)`;
}

/**
 * Records the review on the draft (safe to re-apply: it decides from the task as the draft has it).
 * A completed review moves the task to `reviewed`; a failed one keeps its state, since the PR
 * still waits for a review, and only records why.
 */
export function recordReview(
  draft: Ledger,
  taskId: string,
  record: ReviewRecord,
  meta: { reason: string; now: string; runId?: string },
): RecordOutcome {
  const task = findTask(draft, taskId);
  if (!task) return { kind: "gone" };
  if (!REVIEWABLE_STATES.includes(task.state)) return { kind: "moved-on", state: task.state };
  const from = task.state;
  if (record.verdict !== "error") {
    transition(task, {
      to: "reviewed",
      actor: "aegis review",
      reason: meta.reason,
      now: meta.now,
      ...(meta.runId ? { runId: meta.runId } : {}),
    });
  } else {
    task.updatedAt = meta.now;
  }
  task.review = { ...record };
  return { kind: "recorded", task, from };
}

/** The comment id an earlier review stored, if any (the ledger keeps it as an extra field). */
export function knownCommentId(task: Task): number | undefined {
  const id = (task.review as { commentId?: unknown } | undefined)?.commentId;
  return typeof id === "number" && Number.isInteger(id) && id > 0 ? id : undefined;
}

// ---- step summary ----------------------------------------------------------------------------

export interface SummaryInput {
  taskId: string;
  verdict: ReviewVerdict;
  pr?: { number: number; url: string };
  reason?: string;
  assessment?: Assessment;
  headSha?: string;
  model?: string;
  durationMs?: number;
  usage?: TokenUsage;
  labels?: { add: string[]; remove: string[] };
  taskState?: string;
  apiCalls?: number;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ").slice(0, 160);

export function renderReviewSummary(s: SummaryInput): string {
  const lines = [`## aegis review — task ${s.taskId}`, ""];
  const pr = s.pr ? `[#${s.pr.number}](${s.pr.url})` : "none";
  lines.push(`**Pull request:** ${pr}  `, `**Verdict:** \`${s.verdict}\``);
  if (s.reason) lines.push("", s.reason);
  const a = s.assessment;
  if (a?.error)
    lines.push("", `The review could not complete: ${cell(a.error)}. This does not fail the workflow.`);
  if (a && a.findings.length > 0) {
    lines.push("", "| Severity | Finding | Location |", "|---|---|---|");
    for (const f of a.findings) {
      const where = f.file ? `\`${cell(f.file)}${f.line ? `:${f.line}` : ""}\`` : "";
      const tag = f.priority !== undefined ? `[P${f.priority}] ` : "";
      lines.push(
        `| ${f.severity === "critical" ? "CRITICAL" : "non-critical"} | ${cell(tag + f.title)} | ${where} |`,
      );
    }
  } else if (a && a.verdict !== "error") {
    lines.push("", "No findings.");
  }
  const facts: string[] = [];
  if (s.headSha) facts.push(`head \`${s.headSha.slice(0, 12)}\``);
  if (s.model) facts.push(`model \`${s.model}\``);
  if (s.durationMs !== undefined) facts.push(`Codex ${(s.durationMs / 1000).toFixed(1)} s`);
  if (s.usage)
    facts.push(
      `${s.usage.inputTokens} input (${s.usage.cachedInputTokens} cached) / ${s.usage.outputTokens} output tokens`,
    );
  if (s.labels && (s.labels.add.length || s.labels.remove.length)) {
    facts.push(
      `labels ${[...s.labels.add.map((l) => `+${l}`), ...s.labels.remove.map((l) => `-${l}`)].join(" ")}`,
    );
  }
  if (s.taskState) facts.push(`task ${s.taskState}`);
  if (s.apiCalls !== undefined) facts.push(`${s.apiCalls} GitHub API calls`);
  if (facts.length) lines.push("", facts.join(" · "));
  return `${lines.join("\n")}\n`;
}
