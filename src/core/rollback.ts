// Rollback decisions: whether an `aegis-revert` label on a pull request is honoured, what the
// revert branch, commit and pull request say, and how the ledger records it. Pure: the I/O
// lives in src/modes/rollback.ts and src/adapters/revert-git.ts.
import { recordPrRevert } from "./outcomes.js";
import { code } from "./inert.js";
import type { Ledger, Task } from "./ledger.js";
import { findTask } from "./lifecycle.js";
import { canApprove, type Permission } from "./governance.js";

export const REVERT_BRANCH_PREFIX = "auto/revert/";
export const REVERT_MARKER = "<!-- aegis:revert -->";

/** What aegis needs to know about the labelled pull request (webhook payload or REST). */
export interface PullFacts {
  number: number;
  title: string;
  state: string;
  merged: boolean;
  mergeCommitSha: string | null;
  headRef: string;
  url: string;
}

/** Recorded on the task (the ledger schema keeps unknown fields): the revert happened once. */
export interface RevertRecord {
  pr: number;
  url: string;
  at: string;
  by: string;
  branch: string;
}

export function revertBranchFor(taskId: string): string {
  return `${REVERT_BRANCH_PREFIX}${taskId}`;
}

/** The task id in a run branch `auto/<category>/<task-id>`; revert branches are not run branches. */
export function taskIdFromHead(head: string): string | undefined {
  const match = /^auto\/([A-Za-z0-9._-]+)\/([0-9]+-[0-9]+)$/.exec(head);
  if (!match || `auto/${match[1]}/` === REVERT_BRANCH_PREFIX) return undefined;
  return match[2];
}

export function revertOf(task: Task): RevertRecord | undefined {
  const value = (task as Task & { revert?: unknown }).revert;
  if (!value || typeof value !== "object") return undefined;
  const record = value as Partial<RevertRecord>;
  return typeof record.pr === "number" ? (record as RevertRecord) : undefined;
}

/** The ledger task whose run opened `pull`, when it is one. */
export function taskOfPull(ledger: Ledger, pull: Pick<PullFacts, "number" | "headRef">): Task | undefined {
  const id = taskIdFromHead(pull.headRef);
  const task = id ? findTask(ledger, id) : undefined;
  // The id alone is not enough: the branch or the recorded PR must agree, so a hand-made branch
  // that happens to carry a task's name is not mistaken for the task's work.
  if (!task || !(task.branch === pull.headRef || task.pr?.number === pull.number)) return undefined;
  return task;
}

export type RevertDecision =
  /** The label is not honoured; it is removed and `reason` explains why. */
  | { kind: "refuse"; reason: string; line: string }
  | { kind: "already"; task: Task; record: RevertRecord }
  | { kind: "revert"; task: Task; mergeSha: string };

/** An outsider's label is refused whatever the pull request is, so it never costs a git fetch. */
export function outsiderRefusal(
  requester: { login: string; permission: Permission },
  revertLabel: string,
): RevertDecision | undefined {
  if (canApprove(requester.permission)) return undefined;
  return {
    kind: "refuse",
    reason: `@${requester.login} added \`${revertLabel}\`, but only people with write, maintain or admin permission can ask aegis to revert a pull request, so the label was removed.`,
    line: `@${requester.login} has ${requester.permission} permission`,
  };
}

/** Judges a revert request; `requester` is whoever added the label. */
export function judgeRevert(
  ledger: Ledger,
  pull: PullFacts,
  requester: { login: string; permission: Permission },
  revertLabel: string,
): RevertDecision {
  const outsider = outsiderRefusal(requester, revertLabel);
  if (outsider) return outsider;
  const task = taskOfPull(ledger, pull);
  if (!task) {
    return {
      kind: "refuse",
      reason: `aegis reverts only the pull requests its tasks opened (branch \`auto/<category>/<task-id>\`, task in the ledger); ${code(pull.headRef, 100)} is not one of them. Revert it by hand; the label was removed.`,
      line: `not an aegis pull request (head ${pull.headRef})`,
    };
  }
  const record = revertOf(task);
  if (record) return { kind: "already", task, record };
  if (!pull.merged || !pull.mergeCommitSha) {
    const open = pull.state === "open";
    return {
      kind: "refuse",
      reason: `This pull request is ${open ? "still open" : "closed without merging"}: there is nothing to revert. ${open ? "Close it instead, or add" : "Add"} \`${revertLabel}\` again after a merge. The label was removed.`,
      line: `not merged (${pull.state})`,
    };
  }
  return { kind: "revert", task, mergeSha: pull.mergeCommitSha };
}

export function revertTitle(originalTitle: string): string {
  // GitHub caps titles at 256 characters; a revert of a revert keeps nesting, like git's own.
  const title = `Revert "${originalTitle}"`;
  return title.length > 256 ? `${title.slice(0, 252)}…"` : title;
}

export interface RevertTexts {
  pull: PullFacts;
  task: Task;
  by: string;
  mergeSha: string;
  label: string;
}

export function revertCommitMessage({ pull, task, by, mergeSha }: RevertTexts): string {
  return [
    revertTitle(pull.title),
    "",
    `This reverts pull request #${pull.number} (merge commit ${mergeSha}),`,
    `the work of aegis task ${task.id} for issue #${task.issue}, as requested by @${by}.`,
    "",
  ].join("\n");
}

/** `files` is undefined when an earlier run pushed the branch and this one did not diff it. */
export function revertPullBody({ pull, task, by, mergeSha, label }: RevertTexts, files?: string[]): string {
  const listed = (files ?? []).slice(0, 20).map((f) => `- ${code(f, 200)}`);
  if (files && files.length > listed.length) listed.push(`- … and ${files.length - listed.length} more`);
  return [
    REVERT_MARKER,
    `Reverts #${pull.number}`,
    "",
    `Refs #${task.issue}`,
    "",
    `@${by} added \`${label}\` to #${pull.number} (aegis task \`${task.id}\`). This pull request undoes its merge commit \`${mergeSha.slice(0, 12)}\` with \`git revert -m 1\`; no model was involved.`,
    "",
    ...(files ? [`**Files changed back (${files.length}):**`, ...listed, ""] : []),
    "Review and merge it to complete the rollback.",
  ].join("\n");
}

export function revertOpenedComment(revertPr: { number: number }, by: string): string {
  return `${REVERT_MARKER}\n### aegis · revert\n\nAs requested by @${by}, #${revertPr.number} reverts this pull request. Merge it to complete the rollback.`;
}

export function revertConflictComment(files: string[], by: string): string {
  const listed = files.slice(0, 20).map((f) => `- ${code(f, 200)}`);
  if (files.length > listed.length) listed.push(`- … and ${files.length - listed.length} more`);
  return [
    REVERT_MARKER,
    "### aegis · revert conflicts",
    "",
    `@${by} asked for a revert, but the change no longer reverts cleanly: later commits on the default branch touched the same lines. No pull request was opened, and the label was removed.`,
    "",
    `**Conflicting files (${files.length}):**`,
    ...(listed.length ? listed : ["- (git named none)"]),
    "",
    "Revert by hand, or resolve the later changes and add the label again.",
  ].join("\n");
}

export function revertEmptyComment(by: string): string {
  return `${REVERT_MARKER}\n### aegis · nothing to revert\n\n@${by} asked for a revert, but reverting the merge changes nothing on the default branch: its changes were already undone. No pull request was opened, and the label was removed.`;
}

/** Records the revert on the task unless one is recorded already; returns the record that stands. */
export function recordRevert(ledger: Ledger, taskId: string, record: RevertRecord): RevertRecord | undefined {
  const task = findTask(ledger, taskId);
  if (!task) return undefined;
  const existing = revertOf(task);
  if (existing) return existing;
  (task as Task & { revert?: RevertRecord }).revert = record;
  recordPrRevert(ledger, taskId, record.at);
  // A rollback is news about the task: it stays in the live ledger as long as a fresh ending would.
  task.updatedAt = record.at;
  return record;
}
