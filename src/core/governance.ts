// Governance decisions: intake, approval and the breaker reset (admission and claiming are in
// queue.ts). Pure — each function reads
// the ledger draft it is given and, where it decides a change, applies it to that draft, so the
// ledger store can re-run it after a compare-and-swap conflict.
import type { Config } from "../config.js";
import { classify, dependenciesOf, priorityOf, skipReason } from "./classify.js";
import type { Ledger, Task } from "./ledger.js";
import {
  addTask,
  countIn,
  normalizeTitle,
  OPEN_STATES,
  openTaskForIssue,
  PENDING_STATES,
  transition,
} from "./lifecycle.js";
import { namedPaths } from "./brief.js";
import { sanitizeUntrusted } from "./sanitize.js";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface Sender {
  login: string;
  permission: Permission;
  isBot: boolean;
}

export interface IssueView {
  number: number;
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
}

/** The issue fields aegis reads, as both webhook payloads and the REST API spell them. */
export interface RawIssue {
  number: number;
  title: string;
  body?: string | null;
  labels?: ({ name?: string } | string)[];
  assignees?: { login: string }[] | null;
}

export function issueViewOf(raw: RawIssue): IssueView {
  return {
    number: raw.number,
    title: raw.title,
    body: raw.body ?? "",
    labels: (raw.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter(Boolean),
    assignees: (raw.assignees ?? []).map((a) => a.login),
  };
}

export function canApprove(permission: Permission): boolean {
  return permission === "admin" || permission === "maintain" || permission === "write";
}

export type IntakeDecision =
  | { kind: "exists"; task: Task }
  | { kind: "reject"; reason: string }
  | { kind: "duplicate"; original: Task }
  | { kind: "created"; task: Task };

export interface IntakeContext {
  config: Config;
  now: string;
  runId: string;
  /** A trusted approval already on the issue (approval label added before the trigger). */
  approvedBy?: { login: string; at: string };
}

/** Decides what the trigger label on `issue` means, and records a new task in the draft. */
export function intake(ledger: Ledger, issue: IssueView, sender: Sender, ctx: IntakeContext): IntakeDecision {
  const { config, now } = ctx;
  const existing = openTaskForIssue(ledger, issue.number);
  // A failed or blocked task is retried by re-adding the trigger label: it ends, and a new task
  // with a fresh attempt budget takes over its status comment. Anything else is already tracked.
  const retry =
    existing && (existing.state === "failed" || existing.state === "blocked") ? existing : undefined;
  if (existing && !retry) return { kind: "exists", task: existing };
  if (sender.isBot && !config.allowedBots.includes(sender.login)) {
    return {
      kind: "reject",
      reason: `the trigger label was added by the bot @${sender.login}, which is not in \`allowedBots\` of the aegis config`,
    };
  }
  const skip = skipReason(issue, config);
  if (skip) return { kind: "reject", reason: `aegis will not take this issue: ${skip}.` };
  const classification = classify(issue.labels, config);
  if (classification.kind === "unmapped") {
    const understood = classification.understood.map((l) => `\`${l}\``).join(", ");
    return {
      kind: "reject",
      reason: `aegis could not classify this issue: it needs one of the labels ${understood} to know the kind of work. Add one, then re-add \`${config.triggerLabel}\`.`,
    };
  }
  const key = normalizeTitle(issue.title);
  const original = ledger.tasks.find(
    (t) => OPEN_STATES.includes(t.state) && t.issue !== issue.number && normalizeTitle(t.title) === key,
  );
  if (original) return { kind: "duplicate", original };

  // Work proposed by the label map, or requested by someone who could not approve it, waits.
  const trusted = canApprove(sender.permission);
  const needsApproval = classification.authority === "proposed" || !trusted;
  const approved = needsApproval && ctx.approvedBy !== undefined;
  const ready = !needsApproval || approved;
  const full = countIn(ledger, PENDING_STATES) >= config.caps.pendingPerRepo;
  const state = full ? "deferred" : ready ? "queued" : "awaiting-approval";
  const why = !needsApproval
    ? `${classification.category} is auto_safe and @${sender.login} has ${sender.permission} permission`
    : classification.authority === "proposed"
      ? `${classification.category} work is proposed: a maintainer approves it with \`${config.approvalLabel}\``
      : `@${sender.login} (${sender.permission}) cannot start work alone: a maintainer approves it with \`${config.approvalLabel}\``;
  const task = addTask(
    ledger,
    {
      issue: issue.number,
      title: issue.title,
      category: classification.category,
      authority: classification.authority,
      priority: priorityOf(issue.labels, config),
      requestedBy: sender.login,
      needsApproval,
      dependsOn: dependenciesOf(issue.body, issue.number),
      predictedFiles: namedPaths(sanitizeUntrusted(issue.body, { maxBytes: 65_536 }), 50),
    },
    state,
    {
      actor: sender.login,
      reason: approved ? `${why}; approved by @${ctx.approvedBy!.login}` : why,
      now,
      runId: ctx.runId,
    },
  );
  if (approved) task.approvedBy = ctx.approvedBy;
  if (retry) {
    task.history[0]!.reason = `retry of ${retry.state} task ${retry.id}; ${task.history[0]!.reason}`;
    transition(retry, {
      to: "cancelled",
      actor: sender.login,
      reason: `re-triggered by @${sender.login}; continued as task ${task.id}`,
      now,
      runId: ctx.runId,
    });
    if (retry.statusCommentId) task.statusCommentId = retry.statusCommentId;
  }
  if (full) {
    task.deferredReason = `the pending cap (${config.caps.pendingPerRepo} tasks awaiting approval, queued or running) is reached; admitted automatically when room frees`;
  }
  return { kind: "created", task };
}

export type ApprovalDecision =
  | { kind: "approved"; task: Task }
  | { kind: "refused"; reason: string }
  | { kind: "no-task" }
  | { kind: "noop"; task: Task; reason: string };

/** The approval label was added by `sender`. */
export function approve(
  ledger: Ledger,
  issueNumber: number,
  sender: Sender,
  ctx: { config: Config; now: string; runId: string },
): ApprovalDecision {
  if (!canApprove(sender.permission)) {
    return {
      kind: "refused",
      reason: `@${sender.login} added \`${ctx.config.approvalLabel}\`, but only people with write, maintain or admin permission can approve aegis work; the label was removed.`,
    };
  }
  const task = openTaskForIssue(ledger, issueNumber);
  if (!task) return { kind: "no-task" };
  if (task.approvedBy === undefined) task.approvedBy = { login: sender.login, at: ctx.now };
  if (task.state === "awaiting-approval") {
    transition(task, {
      to: "queued",
      actor: sender.login,
      reason: `approved by @${sender.login}`,
      now: ctx.now,
      runId: ctx.runId,
    });
    return { kind: "approved", task };
  }
  return { kind: "noop", task, reason: `task ${task.id} is ${task.state}; the approval is recorded` };
}

export type BreakerReset = { kind: "reset"; note: string } | { kind: "refused"; note: string };

/**
 * A `workflow_dispatch` plan closes an open circuit breaker when a maintainer started it:
 * dispatching is an explicit act, so the person has seen the failures. Anyone else, or a bot
 * (automation would retry blindly), leaves it open. Undefined when the breaker is closed.
 */
export function resetBreaker(
  ledger: Ledger,
  sender: Sender,
  config: Config,
  now: string,
): BreakerReset | undefined {
  if (!ledger.breaker.open) return undefined;
  const bot = sender.isBot && !config.allowedBots.includes(sender.login);
  if (bot || !canApprove(sender.permission))
    return {
      kind: "refused",
      note: `circuit breaker stays open: @${sender.login} (${bot ? "a bot" : `${sender.permission} permission`}) started this run; only a person with write, maintain or admin permission resets it by dispatching the workflow`,
    };
  const was = ledger.breaker.reason ?? "repeated infrastructure failures";
  ledger.breaker = { consecutiveInfraFailures: 0, open: false };
  return { kind: "reset", note: `circuit breaker reset by @${sender.login} at ${now} (it was open: ${was})` };
}
