// The reconciliation sweep (schedule, workflow_dispatch): catches up on missed label events,
// closed issues, merged or closed PRs, runners that died, and labels that drifted. Its cost
// follows the number of issues carrying the trigger label, never the repository's size.
import * as core from "@actions/core";
import type { CommandRequest } from "../core/commands.js";
import { missedCommands } from "./commands.js";
import { canApprove, issueViewOf, type IssueView, type Sender } from "../core/governance.js";
import { labelDefinitions, stateLabelChanges } from "../core/labels.js";
import type { Ledger, Task } from "../core/ledger.js";
import { findTask, OPEN_STATES, openTaskForIssue, transition } from "../core/lifecycle.js";
import { recordPrEnd } from "../core/outcomes.js";
import type { ModeContext } from "./context.js";
import type { PlanLine } from "./plan-summary.js";

/** Minutes a `running` task may outlive its session timeout before the runner counts as lost. */
export const RUNNER_GRACE_MINUTES = 15;

export interface FixRequest {
  pr: number;
  sender: Sender;
  /** Set for a maintainer's `/aegis` command (modes/commands.ts) rather than the fix label. */
  command?: CommandRequest;
}

export interface SweepFindings {
  missed: { issue: IssueView; sender: Sender; approvedBy?: { login: string; at: string } }[];
  /** Open tasks whose issue is closed, deleted, or no longer carries the trigger label. */
  ended: { taskId: string; why: string; merged: boolean }[];
  /** PR state of tasks with an open PR. */
  prs: { taskId: string; merged: boolean; closed: boolean; at?: string }[];
  /** Open aegis PRs carrying `fixLabel`, with who added it. */
  fixes: FixRequest[];
  /** Up to when comments were read for commands; the ledger keeps it for the next sweep. */
  commandsSeenAt?: string;
  /** Fixes state labels that drifted; `skip` holds issues this run already mirrored. */
  repairDrift: (ledger: Ledger, skip: ReadonlySet<number>) => Promise<void>;
}

export async function gatherSweep(ctx: ModeContext, ledger: Ledger): Promise<SweepFindings> {
  const { gh, settings } = ctx;
  const { config } = settings;
  await gh.ensureLabels(labelDefinitions(config));
  const labelled = await gh.listOpenIssuesWithLabel(config.triggerLabel);
  const listed = labelled.filter((i) => !i.pull_request);
  // aegis labels its PRs with the trigger too, so the same listing says which are still open:
  // only a PR missing from it (merged, closed, or unlabelled) costs a request of its own.
  const openPulls = new Set(labelled.filter((i) => i.pull_request).map((i) => i.number));
  core.info(
    `${listed.length} open issue(s) and ${openPulls.size} open pull request(s) carry ${config.triggerLabel}.`,
  );
  const listedNumbers = new Set(listed.map((i) => i.number));

  const missed: SweepFindings["missed"] = [];
  for (const raw of listed) {
    if (openTaskForIssue(ledger, raw.number)) continue;
    // Who added the label decides trust, exactly as if the event had been seen.
    const actors = await gh.labelActors(raw.number);
    const trigger = actors.get(config.triggerLabel.toLowerCase());
    if (!trigger) continue;
    const sender: Sender = {
      login: trigger.login,
      permission: await gh.permissionOf(trigger.login),
      isBot: trigger.login.endsWith("[bot]"),
    };
    const approval = actors.get(config.approvalLabel.toLowerCase());
    const approvedBy = approval && canApprove(await gh.permissionOf(approval.login)) ? approval : undefined;
    missed.push({ issue: issueViewOf(raw), sender, ...(approvedBy ? { approvedBy } : {}) });
  }

  // A fix label whose event was missed: the same listing shows it on the PR (no request unless present).
  const fixes: FixRequest[] = [];
  for (const raw of labelled.filter((i) => i.pull_request)) {
    const names = (raw.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? "")).toLowerCase());
    if (!names.includes(config.fixLabel.toLowerCase())) continue;
    const actor = (await gh.labelActors(raw.number)).get(config.fixLabel.toLowerCase());
    if (!actor) continue;
    fixes.push({
      pr: raw.number,
      sender: {
        login: actor.login,
        permission: await gh.permissionOf(actor.login),
        isBot: actor.login.endsWith("[bot]"),
      },
    });
  }

  // A maintainer's `/aegis` comment whose event was missed: read from the repository's comments.
  const missedCommand = await missedCommands(ctx, ledger, openPulls);
  fixes.push(...missedCommand.requests);

  const ended: SweepFindings["ended"] = [];
  const prs: SweepFindings["prs"] = [];
  for (const task of ledger.tasks.filter((t) => OPEN_STATES.includes(t.state))) {
    if (task.pr && (task.state === "pr-open" || task.state === "reviewed")) {
      if (openPulls.has(task.pr.number)) continue;
      // One PR that cannot be read is left for the next sweep; the rest still reconcile.
      const pr = await gh.getPull(task.pr.number).catch((error: unknown) => {
        core.warning(`Could not read pull request #${task.pr!.number}: ${(error as Error).message}`);
        return null;
      });
      if (pr === undefined) prs.push({ taskId: task.id, merged: false, closed: true });
      else if (pr) {
        const at = (pr.merged ? pr.merged_at : pr.closed_at) ?? undefined;
        prs.push({
          taskId: task.id,
          merged: pr.merged === true,
          closed: pr.state === "closed",
          ...(at ? { at } : {}),
        });
      }
      continue;
    }
    if (listedNumbers.has(task.issue) || task.state === "running") continue;
    const issue = await gh.getIssue(task.issue);
    if (!issue) ended.push({ taskId: task.id, why: "the issue was deleted or transferred", merged: false });
    else if (issue.state === "closed")
      ended.push({ taskId: task.id, why: "the issue was closed", merged: false });
    else
      ended.push({ taskId: task.id, why: `the \`${config.triggerLabel}\` label was removed`, merged: false });
  }

  const repairDrift = async (final: Ledger, skip: ReadonlySet<number>) => {
    for (const raw of listed) {
      if (skip.has(raw.number)) continue;
      const task = openTaskForIssue(final, raw.number);
      const labels = (raw.labels ?? []).map((l) => (typeof l === "string" ? l : (l.name ?? "")));
      const { add, remove } = stateLabelChanges(labels, task?.state);
      if (!add.length && !remove.length) continue;
      core.info(`#${raw.number}: repairing labels (+${add.join(",") || "-"} −${remove.join(",") || "-"}).`);
      try {
        await gh.addLabels(raw.number, add);
        for (const name of remove) await gh.removeLabel(raw.number, name);
      } catch (error) {
        core.warning(`#${raw.number}: could not repair labels: ${(error as Error).message}`);
      }
    }
  };
  return {
    missed,
    ended,
    prs,
    fixes,
    repairDrift,
    ...(missedCommand.seenAt ? { commandsSeenAt: missedCommand.seenAt } : {}),
  };
}

/** Applies the sweep's findings to the ledger draft. Pure apart from the clock. */
export function applySweep(draft: Ledger, findings: SweepFindings, ctx: ModeContext): PlanLine[] {
  const { config, context } = ctx.settings;
  const now = ctx.now();
  const lines: PlanLine[] = [];
  const move = (task: Task, to: Task["state"], reason: string) => {
    transition(task, { to, actor: "aegis", reason, now, runId: context.runId });
    lines.push({ issue: task.issue, decision: to, detail: `task ${task.id}: ${reason}` });
  };
  lines.push(...applyPullStates(draft, findings.prs, ctx));
  // Never backwards: a slower concurrent sweep must not make the next one read less.
  const seen = findings.commandsSeenAt;
  if (seen && (!draft.commandsSeenAt || Date.parse(seen) > Date.parse(draft.commandsSeenAt)))
    draft.commandsSeenAt = seen;
  for (const { taskId, why } of findings.ended) {
    const task = findTask(draft, taskId);
    if (task && OPEN_STATES.includes(task.state) && task.state !== "running") move(task, "cancelled", why);
  }
  const limitMs = (config.run.timeoutMinutes + RUNNER_GRACE_MINUTES) * 60_000;
  for (const task of draft.tasks.filter((t) => t.state === "running")) {
    const attempt = task.attempts[task.attempts.length - 1];
    if (!attempt || attempt.endedAt || Date.parse(now) - Date.parse(attempt.startedAt) <= limitMs) continue;
    attempt.endedAt = now;
    attempt.outcome = "lost";
    attempt.reason = `no result ${config.run.timeoutMinutes + RUNNER_GRACE_MINUTES} minutes after the claim: the runner died or the job was cancelled`;
    if (task.attempts.length < config.run.maxAttempts) move(task, "queued", `${attempt.reason}; retrying`);
    else move(task, "failed", `${attempt.reason}; no attempts left`);
  }
  return lines;
}

/** GitHub's timestamp as the ledger writes times, or undefined when it is not one. */
function validTime(at: string | undefined): string | undefined {
  return at && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(at) ? at : undefined;
}

/**
 * Merged → done, closed → cancelled, for tasks still waiting on their PR. Shared by the sweep
 * and the `pull_request: closed` event, which brings the news at once. Pure apart from the clock.
 */
export function applyPullStates(draft: Ledger, prs: SweepFindings["prs"], ctx: ModeContext): PlanLine[] {
  const now = ctx.now();
  const lines: PlanLine[] = [];
  for (const { taskId, merged, closed, at } of prs) {
    const task = findTask(draft, taskId);
    if (!task?.pr || !(task.state === "pr-open" || task.state === "reviewed")) continue;
    if (!merged && !closed) continue;
    recordPrEnd(draft, task, merged ? "merged" : "closed", validTime(at) ?? now, now);
    const to = merged ? "done" : "cancelled";
    const reason = `pull request #${task.pr.number} was ${merged ? "merged" : "closed without merging"}`;
    transition(task, { to, actor: "aegis", reason, now, runId: ctx.settings.context.runId });
    lines.push({ issue: task.issue, decision: to, detail: `task ${task.id}: ${reason}` });
  }
  return lines;
}
