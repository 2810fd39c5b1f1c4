// Rollback: `aegis-revert` on a merged aegis pull request opens a pull request that reverts its
// merge commit. Honoured from a `pull_request` labeled event in plan mode, else found by the
// hourly sweep. No model is involved: git reverts, the action commits and pushes.
//
// Order of the work, chosen so that no failure leaves two revert PRs: judge the request (cheap
// checks first) → git revert and push a new branch, never with force → open the PR (or find the
// one an earlier run opened for that branch) → record it on the task by compare-and-swap →
// comment on the original PR. A second label event finds the record and does nothing; a run
// that died after the push finds the branch, and GitHub refuses a second PR for one head.
import path from "node:path";
import * as core from "@actions/core";
import { statusOf } from "../adapters/github.js";
import { revertAndPush } from "../adapters/revert-git.js";
import type { Permission } from "../core/governance.js";
import type { Task } from "../core/ledger.js";
import type { LedgerSnapshot } from "../adapters/ledger-store.js";
import {
  judgeRevert,
  outsiderRefusal,
  type PullFacts,
  recordRevert,
  revertBranchFor,
  revertCommitMessage,
  revertConflictComment,
  revertEmptyComment,
  revertOf,
  revertOpenedComment,
  revertPullBody,
  type RevertRecord,
  revertTitle,
} from "../core/rollback.js";
import { renderNotice } from "../core/status.js";
import type { ModeContext } from "./context.js";
import type { PlanLine } from "./plan-summary.js";

/**
 * How far back (by the PR's last update) the sweep looks for revert labels. Adding a label
 * updates the PR, and a revert keeps its task in the live ledger for 8 days (compactLedger), so
 * a week bounds the sweep's cost without losing a request the ledger could still honour.
 */
export const REVERT_SWEEP_DAYS = 7;

interface RawPull {
  number: number;
  title: string;
  state: string;
  merged?: boolean | null;
  merge_commit_sha?: string | null;
  html_url: string;
  head: { ref: string };
}

interface LabelPayload {
  action?: string;
  label?: { name?: string };
  sender?: { login: string };
  pull_request?: RawPull;
}

export function pullFactsOf(raw: RawPull): PullFacts {
  return {
    number: raw.number,
    title: raw.title,
    state: raw.state,
    merged: raw.merged === true,
    mergeCommitSha: raw.merge_commit_sha ?? null,
    headRef: raw.head.ref,
    url: raw.html_url,
  };
}

/** Plan mode's entry: the revert label's event, or the sweep on a schedule or dispatch. */
export async function handleReverts(ctx: ModeContext): Promise<PlanLine[]> {
  const { eventName, payload } = ctx.settings.context;
  if (eventName === "pull_request" || eventName === "pull_request_target")
    return core.group("Revert label", () => handleRevertLabel(ctx, payload as LabelPayload));
  if (eventName === "schedule" || eventName === "workflow_dispatch")
    return core.group("Sweep revert labels", () => sweepReverts(ctx));
  return [];
}

/** A `pull_request` labeled event: acts only when the label is the revert label. */
export async function handleRevertLabel(ctx: ModeContext, payload: LabelPayload): Promise<PlanLine[]> {
  const label = ctx.settings.config.revertLabel;
  const pull = payload.pull_request;
  if (payload.action !== "labeled" || !pull || !payload.sender) return [];
  if (payload.label?.name?.toLowerCase() !== label.toLowerCase()) {
    core.info(`Label ${payload.label?.name ?? "?"} on #${pull.number} is not one aegis acts on.`);
    return [];
  }
  const login = payload.sender.login;
  const permission = await ctx.gh.permissionOf(login);
  const ledger = lazyLedger(ctx);
  return [await honour(ctx, pullFactsOf(pull), { login, permission }, ledger)];
}

/** The hourly catch-up: revert labels whose event aegis did not see (or was not sent). */
export async function sweepReverts(ctx: ModeContext): Promise<PlanLine[]> {
  const { gh, settings } = ctx;
  const label = settings.config.revertLabel;
  const since = new Date(Date.parse(ctx.now()) - REVERT_SWEEP_DAYS * 86_400_000).toISOString();
  const listed = (await gh.listLabelled(label, since)).filter((i) => i.pull_request);
  core.info(`${listed.length} pull request(s) updated in the last ${REVERT_SWEEP_DAYS} days carry ${label}.`);
  if (listed.length === 0) return [];
  const ledger = lazyLedger(ctx);
  const lines: PlanLine[] = [];
  for (const item of listed) {
    // Already reverted: the ledger answers without another call.
    const known = (await ledger.read()).ledger.tasks.find((t) => t.pr?.number === item.number);
    if (known && revertOf(known)) continue;
    try {
      // Who added the label decides trust, exactly as if the event had been seen.
      const actor = (await gh.labelActors(item.number)).get(label.toLowerCase());
      if (!actor) continue;
      const raw = await gh.getPull(item.number);
      if (!raw) continue;
      const permission = await gh.permissionOf(actor.login);
      lines.push(await honour(ctx, pullFactsOf(raw), { login: actor.login, permission }, ledger));
    } catch (error) {
      lines.push(failed(item.number, error));
    }
  }
  return lines;
}

/**
 * The ledger, read once and only when a request gets past the permission check. Its snapshot
 * starts the first compare-and-swap, so recording a revert costs one PUT and no second read.
 */
interface LazyLedger {
  read(): Promise<LedgerSnapshot>;
  /** The snapshot for the next write: only the first write may start from it. */
  takeStart(): LedgerSnapshot | undefined;
}

function lazyLedger(ctx: ModeContext): LazyLedger {
  let read: Promise<LedgerSnapshot> | undefined;
  let start: LedgerSnapshot | undefined;
  let taken = false;
  return {
    read: () =>
      (read ??= ctx.store.read().then((s) => {
        start = s;
        return s;
      })),
    takeStart() {
      if (taken) return undefined;
      taken = true;
      return start;
    },
  };
}

function failed(pr: number, error: unknown): PlanLine {
  const message = (error as Error).message;
  core.warning(`Revert of #${pr} failed: ${message}. The label stays; the next sweep tries again.`);
  return { issue: pr, decision: "revert failed", detail: `${message}; the next sweep retries` };
}

async function honour(
  ctx: ModeContext,
  pull: PullFacts,
  requester: { login: string; permission: Permission },
  ledger: LazyLedger,
): Promise<PlanLine> {
  const { settings } = ctx;
  const label = settings.config.revertLabel;
  // An outsider's label is refused before anything else is read: it costs one call.
  const decision =
    outsiderRefusal(requester, label) ?? judgeRevert((await ledger.read()).ledger, pull, requester, label);
  if (decision.kind === "refuse") {
    core.info(`#${pull.number}: revert refused: ${decision.line}.`);
    await refuse(ctx, pull.number, decision.reason);
    return { issue: pull.number, decision: "revert refused", detail: decision.line };
  }
  if (decision.kind === "already") {
    core.info(`#${pull.number} was already reverted by #${decision.record.pr}; nothing to do.`);
    return {
      issue: pull.number,
      decision: "already reverted",
      detail: `#${decision.record.pr} (by @${decision.record.by})`,
    };
  }
  const { task, mergeSha } = decision;
  if (settings.dryRun) {
    core.info(`Dry run: would revert #${pull.number} (task ${task.id}, merge ${mergeSha}).`);
    return { issue: pull.number, decision: "revert (dry run)", detail: `task ${task.id}` };
  }
  try {
    return await core.group(`Revert #${pull.number} (task ${task.id})`, () =>
      revert(ctx, pull, task, requester.login, mergeSha, ledger),
    );
  } catch (error) {
    return failed(pull.number, error);
  }
}

/** Takes the label off and says why; a failure here is logged, not fatal to the plan. */
async function refuse(ctx: ModeContext, pr: number, reason: string): Promise<void> {
  try {
    await ctx.gh.removeLabel(pr, ctx.settings.config.revertLabel);
    await ctx.gh.createComment(pr, renderNotice(reason));
  } catch (error) {
    core.warning(`#${pr}: could not remove the revert label or explain why: ${(error as Error).message}`);
  }
}

async function revert(
  ctx: ModeContext,
  pull: PullFacts,
  task: Task,
  by: string,
  mergeSha: string,
  ledger: LazyLedger,
): Promise<PlanLine> {
  const { gh, settings } = ctx;
  const taskId = task.id;
  const texts = { pull, task, by, mergeSha, label: settings.config.revertLabel };
  const branch = revertBranchFor(taskId);
  const defaultBranch =
    (settings.context.payload as { repository?: { default_branch?: string } }).repository?.default_branch ??
    (await gh.defaultBranch());
  const result = await revertAndPush({
    workspace: settings.context.workspace,
    scratch: path.join(settings.context.runnerTemp, "aegis-revert"),
    repoUrl: `${settings.context.serverUrl.replace(/\/+$/, "")}/${gh.owner}/${gh.repo}.git`,
    token: settings.githubToken,
    defaultBranch,
    mergeSha,
    branch,
    message: revertCommitMessage(texts),
  });
  if (result.kind === "conflict" || result.kind === "empty") {
    core.info(
      `#${pull.number}: ${result.kind === "conflict" ? `the revert conflicts in ${result.files.join(", ") || "unnamed files"}` : "the revert changes nothing"}.`,
    );
    await gh.removeLabel(pull.number, settings.config.revertLabel);
    await gh.createComment(
      pull.number,
      result.kind === "conflict" ? revertConflictComment(result.files, by) : revertEmptyComment(by),
    );
    return {
      issue: pull.number,
      decision: result.kind === "conflict" ? "revert conflicts" : "nothing to revert",
      detail: result.kind === "conflict" ? result.files.join(", ") || "git named no file" : "already undone",
    };
  }

  // The branch is ours (named for the task). If it was there already, an earlier run pushed it:
  // take its PR, or open the one that run did not get to.
  let opened: { number: number; url: string } | undefined;
  let created = false;
  if (result.kind === "branch-exists") {
    core.info(`${branch} exists already: an earlier run pushed it; looking for its pull request.`);
    opened = await gh.findPullByHead(branch);
  }
  if (!opened) {
    try {
      opened = await gh.createPull({
        head: branch,
        base: defaultBranch,
        title: revertTitle(pull.title),
        body: revertPullBody(texts, result.kind === "pushed" ? result.files : undefined),
      });
      created = opened !== undefined;
    } catch (error) {
      // 422: a concurrent run opened the PR for this head a moment ago.
      if (statusOf(error) !== 422) throw error;
      opened = await gh.findPullByHead(branch);
    }
  }
  if (!opened) throw new Error(`no pull request could be opened or found for ${branch}`);
  core.info(`#${opened.number} reverts #${pull.number}${created ? "" : " (opened by an earlier run)"}.`);

  const record: RevertRecord = { pr: opened.number, url: opened.url, at: ctx.now(), by, branch };
  const written = await ctx.store.update(
    `record the revert of #${pull.number} (task ${taskId})`,
    (draft) => recordRevert(draft, taskId, record),
    ledger.takeStart(),
  );
  const standing = written.result ?? record;
  // A PR this run did not create (its creation answered 5xx after landing, or an earlier run
  // opened it and stopped) may or may not have been announced: the original PR's comments say.
  if (standing.pr === opened.number && (created || !(await announced(ctx, pull.number, opened.number))))
    await gh.createComment(pull.number, revertOpenedComment(opened, by));
  return {
    issue: pull.number,
    decision: "revert opened",
    detail: `#${standing.pr} reverts task ${taskId} (issue #${task.issue}), requested by @${by}`,
  };
}

/** Whether the original PR already carries the comment announcing `revertPr` (first 100 comments). */
async function announced(ctx: ModeContext, pr: number, revertPr: number): Promise<boolean> {
  const expected = revertOpenedComment({ number: revertPr }, "").split("\n")[0]!;
  return (await ctx.gh.listComments(pr)).some(
    (c) => c.body.startsWith(expected) && c.body.includes(`#${revertPr} reverts this`),
  );
}
