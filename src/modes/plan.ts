// mode: plan — intake, approval, the sweep, admission and claiming, in one ledger write.
//
// Read → gather what the decisions need from GitHub → decide on a draft of the ledger (pure)
// → create status comments for new tasks → compare-and-swap the ledger → mirror labels and
// comments → summary. Side effects that must exist before the write (the status comment id
// recorded in the task) are undone if the write's final decision no longer needs them.
import * as core from "@actions/core";
import { statusOf } from "../adapters/github.js";
import {
  approve,
  canApprove,
  intake,
  issueViewOf,
  resetBreaker,
  type IssueView,
  type RawIssue,
  type Sender,
} from "../core/governance.js";
import { admitAndClaim, untrackedDependencies } from "../core/queue.js";
import { DUPLICATE_LABEL, labelDefinitions } from "../core/labels.js";
import type { Ledger, Task } from "../core/ledger.js";
import { openTaskForIssue } from "../core/lifecycle.js";
import { renderNotice, renderStatusComment } from "../core/status.js";
import type { CommandRequest } from "../core/commands.js";
import { type FixDecision, requestFixRound } from "../core/fix-rounds.js";
import { acknowledgeCommand, COMMAND_EVENTS, gatherCommand } from "./commands.js";
import type { ModeContext } from "./context.js";
import { mirrorChanges } from "./effects.js";
import { applyPullStates, type FixRequest, applySweep, gatherSweep, type SweepFindings } from "./sweep.js";
import { renderPlanSummary, type PlanLine } from "./plan-summary.js";
import { handleReverts } from "./rollback.js";

interface Intent {
  issue: IssueView;
  sender: Sender;
  approvedBy?: { login: string; at: string };
  via: "trigger" | "approval" | "sweep";
}

interface EventWork {
  intents: Intent[];
  approvals: { issue: number; sender: Sender }[];
  lines: PlanLine[];
  /** Issues whose approval label must be taken off again (added by someone who may not approve). */
  refusedApprovals: { issue: number; reason: string }[];
  /** A task's PR closed (the `pull_request: closed` event). */
  pulls: SweepFindings["prs"];
  /** `fixLabel` added to a PR (the `pull_request: labeled` event, or found by the sweep). */
  fixes: FixRequest[];
}

type Payload = {
  action?: string;
  label?: { name?: string };
  issue?: RawIssue & { pull_request?: unknown };
  pull_request?: {
    number: number;
    merged?: boolean | null;
    merged_at?: string | null;
    closed_at?: string | null;
  };
  sender?: { login: string; type?: string };
};

export async function plan(ctx: ModeContext): Promise<{ tasks: string[] }> {
  const { settings, gh, store } = ctx;
  const { config } = settings;
  const work: EventWork = {
    intents: [],
    approvals: [],
    lines: [],
    refusedApprovals: [],
    pulls: [],
    fixes: [],
  };
  let sweep: SweepFindings | undefined;

  // Rollback (aegis-revert) records its own revert in the ledger, so it runs before the read.
  work.lines.push(...(await handleReverts(ctx)));

  const snapshot = await core.group("Read the ledger", () => store.read());
  core.info(
    `Ledger: ${snapshot.ledger.tasks.length} task(s) on ${store.branch}${snapshot.sha ? "" : " (new)"}.`,
  );
  // First use in this repository: create aegis's labels with their colours and descriptions.
  if (!snapshot.branchExists)
    await core.group("Create labels", () => gh.ensureLabels(labelDefinitions(config)));

  const { eventName } = settings.context;
  if (eventName === "issues" || eventName === "pull_request" || eventName === "pull_request_target") {
    await core.group("Read the event", () => gatherEvent(ctx, snapshot.ledger, work));
  } else if (COMMAND_EVENTS.includes(eventName)) {
    const command = await core.group("Read the comment", () => gatherCommand(ctx, eventName));
    if (command) work.fixes.push(command);
  } else if (eventName === "schedule" || eventName === "workflow_dispatch") {
    sweep = await core.group("Sweep open issues", () => gatherSweep(ctx, snapshot.ledger));
    work.intents.push(...sweep.missed.map((m) => ({ ...m, via: "sweep" as const })));
    work.fixes.push(...sweep.fixes);
  } else {
    core.info(`Event ${eventName} needs no intake; admitting and claiming only.`);
  }

  const issueClosed = await dependencyStates(ctx, snapshot.ledger);
  // Dispatching the workflow is an explicit maintainer act: it may close an open circuit breaker.
  const dispatcher =
    eventName === "workflow_dispatch" && snapshot.ledger.breaker.open ? await dispatchSender(ctx) : undefined;
  const decide = (draft: Ledger, commentIds: ReadonlyMap<number, number>) => {
    const lines: PlanLine[] = [];
    const created: Task[] = [];
    const fixes: { pr: number; decision: FixDecision; command?: CommandRequest }[] = [];
    const breaker = dispatcher ? resetBreaker(draft, dispatcher, config, ctx.now()) : undefined;
    if (sweep) lines.push(...applySweep(draft, sweep, ctx));
    lines.push(...applyPullStates(draft, work.pulls, ctx));
    for (const intent of work.intents) {
      const decision = intake(draft, intent.issue, intent.sender, {
        config,
        now: ctx.now(),
        runId: settings.context.runId,
        ...(intent.approvedBy ? { approvedBy: intent.approvedBy } : {}),
      });
      if (decision.kind === "created") {
        const id = commentIds.get(intent.issue.number);
        if (id && !decision.task.statusCommentId) decision.task.statusCommentId = id;
        created.push(decision.task);
      }
      lines.push(lineFor(intent, decision));
    }
    for (const { issue, sender } of work.approvals) {
      const decision = approve(draft, issue, sender, {
        config,
        now: ctx.now(),
        runId: settings.context.runId,
      });
      if (decision.kind === "approved")
        lines.push({ issue, decision: "approved", detail: `by @${sender.login}; queued` });
      else if (decision.kind === "noop")
        lines.push({ issue, decision: "approval noted", detail: decision.reason });
      else if (decision.kind === "no-task")
        lines.push({
          issue,
          decision: "approval noted",
          detail: "no task yet; honoured when the trigger label is added",
        });
    }
    for (const { pr, sender, command } of work.fixes) {
      const decision = requestFixRound(draft, pr, sender, {
        config,
        now: ctx.now(),
        runId: settings.context.runId,
        ...(command ? { command } : {}),
      });
      fixes.push({ pr, decision, ...(command ? { command } : {}) });
      const issue = decision.task?.issue ?? pr;
      if (decision.kind === "queued")
        lines.push({
          issue,
          decision: "fix round",
          detail: `task ${decision.task.id}: ${decision.task.history.at(-1)!.reason}`,
        });
      else
        lines.push({
          issue,
          decision: decision.kind === "refused" ? "fix refused" : "fix noted",
          detail: decision.reason,
        });
    }
    const queue = admitAndClaim(draft, {
      config,
      now: ctx.now(),
      runId: settings.context.runId,
      runAttempt: settings.context.runAttempt,
      issueClosed: (n) => issueClosed.get(n),
    });
    return { lines, created, queue, breaker, fixes };
  };

  // Dry-decide first, to create the status comment of each new task before the write records its id.
  const preview = decide(structuredClone(snapshot.ledger), new Map());
  const commentIds = new Map<number, number>();
  const fresh = new Map<string, Task["state"]>();
  for (const task of preview.created.filter((t) => !t.statusCommentId)) {
    try {
      commentIds.set(task.issue, await gh.createComment(task.issue, renderStatusComment(task, config)));
    } catch (error) {
      if (![404, 410].includes(statusOf(error))) throw error;
      work.intents = work.intents.filter((i) => i.issue.number !== task.issue);
      work.lines.push({
        issue: task.issue,
        decision: "skipped",
        detail: "the issue no longer exists (deleted or transferred); nothing recorded",
      });
    }
  }

  const result = await store.update(
    `plan (${eventName}, run ${settings.context.runId})`,
    (draft) => decide(draft, commentIds),
    snapshot,
  );
  const { lines, created, queue, breaker, fixes } = result.result;
  if (breaker) core.info(breaker.note);

  // A concurrent run may have created the task first: our comment is then an orphan.
  for (const [issue, id] of commentIds) {
    const kept = created.find((t) => t.issue === issue && t.statusCommentId === id);
    if (kept) fresh.set(kept.id, kept.state);
    else await gh.deleteComment(id);
  }

  await core.group("Mirror labels and comments", async () => {
    // Mirror only what this run's write changed: a concurrent plan mirrors its own changes.
    const mirrored = await mirrorChanges(gh, config, result.base, result.ledger, { freshComments: fresh });
    for (const line of [...work.lines, ...lines]) {
      if (line.notice)
        await gh
          .createComment(line.issue, renderNotice(line.notice))
          .catch((e: unknown) => warn(line.issue, e));
      if (line.decision === "duplicate")
        await gh.addLabels(line.issue, [DUPLICATE_LABEL]).catch((e: unknown) => warn(line.issue, e));
    }
    for (const refused of work.refusedApprovals) {
      await gh.removeLabel(refused.issue, config.approvalLabel).catch((e: unknown) => warn(refused.issue, e));
      await gh
        .createComment(refused.issue, renderNotice(refused.reason))
        .catch((e: unknown) => warn(refused.issue, e));
    }
    // The fix label is consumed (a round queued or not); a refusal says why on the PR.
    for (const { pr, decision, command } of fixes) {
      if (command) {
        if (decision.kind === "queued") await acknowledgeCommand(ctx, command);
        else if (decision.kind === "refused")
          await gh.createComment(pr, renderNotice(decision.notice)).catch((e: unknown) => warn(pr, e));
        continue;
      }
      await gh.removeLabel(pr, config.fixLabel).catch((e: unknown) => warn(pr, e));
      if (decision.kind === "refused")
        await gh.createComment(pr, renderNotice(decision.notice)).catch((e: unknown) => warn(pr, e));
    }
    if (sweep) await sweep.repairDrift(result.ledger, mirrored);
    // A dependency that failed or was cancelled: one notice per task (governance remembers it).
    for (const { task, notice } of queue.reported)
      await gh.createComment(task.issue, renderNotice(notice)).catch((e: unknown) => warn(task.issue, e));
  });

  const tasks = queue.claimed.map((t) => t.id);
  core.setOutput("tasks", JSON.stringify(tasks));
  await core.summary
    .addRaw(
      renderPlanSummary({
        event: eventName,
        lines: [...work.lines, ...lines],
        claimed: queue.claimed,
        held: queue.held,
        notes: breaker ? [breaker.note] : [],
        ledger: result.ledger,
        written: result.written,
        conflicts: result.conflicts,
        apiCalls: gh.calls,
        dryRun: settings.dryRun,
      }),
    )
    .write();
  return { tasks };
}

function warn(issue: number, error: unknown) {
  core.warning(`Issue #${issue}: ${(error as Error).message}`);
}

function lineFor(intent: Intent, decision: ReturnType<typeof intake>): PlanLine {
  const issue = intent.issue.number;
  switch (decision.kind) {
    case "created":
      return {
        issue,
        decision: decision.task.state,
        detail: `task ${decision.task.id}: ${decision.task.history[0]!.reason}${decision.task.deferredReason ? `; ${decision.task.deferredReason}` : ""}`,
      };
    case "exists":
      return {
        issue,
        decision: "already tracked",
        detail: `task ${decision.task.id} is ${decision.task.state}`,
      };
    case "duplicate":
      return {
        issue,
        decision: "duplicate",
        detail: `same title as #${decision.original.issue}`,
        notice: `This issue has the same title as #${decision.original.issue}, which aegis already tracks (task \`${decision.original.id}\`, ${decision.original.state}). It was not taken; labelled \`${DUPLICATE_LABEL}\`.`,
      };
    case "reject":
      return { issue, decision: "not taken", detail: decision.reason, notice: decision.reason };
  }
}

async function gatherEvent(ctx: ModeContext, ledger: Ledger, work: EventWork): Promise<void> {
  const { settings, gh } = ctx;
  const { config } = settings;
  const payload = settings.context.payload as Payload;
  if (payload.action === "closed" && payload.pull_request) {
    // Merged or closed: the task ends now rather than at the next hourly sweep, so work that
    // depends on it is claimed in this run. The payload says it all; no request needed.
    const { number, merged, merged_at, closed_at } = payload.pull_request;
    const task = ledger.tasks.find((t) => t.pr?.number === number);
    const at = (merged ? merged_at : closed_at) ?? undefined;
    if (task)
      work.pulls.push({ taskId: task.id, merged: merged === true, closed: true, ...(at ? { at } : {}) });
    else core.info(`Pull request #${number} belongs to no aegis task.`);
    return;
  }
  if (
    payload.action === "labeled" &&
    payload.pull_request &&
    payload.sender &&
    payload.label?.name?.toLowerCase() === config.fixLabel.toLowerCase()
  ) {
    const { login, type } = payload.sender;
    work.fixes.push({
      pr: payload.pull_request.number,
      sender: {
        login,
        permission: await gh.permissionOf(login),
        isBot: type === "Bot" || login.endsWith("[bot]"),
      },
    });
    return;
  }
  if (payload.action !== "labeled" || !payload.issue || !payload.label?.name || !payload.sender) {
    core.info(
      `Event ${settings.context.eventName}/${payload.action ?? "?"} is not a label being added; nothing to take in.`,
    );
    return;
  }
  const label = payload.label.name.toLowerCase();
  const issue = issueViewOf(payload.issue);
  if (payload.issue.pull_request) {
    core.info(`#${issue.number} is a pull request; aegis takes issues only.`);
    return;
  }
  const senderOf = async (login: string, type?: string): Promise<Sender> => ({
    login,
    permission: await gh.permissionOf(login),
    isBot: type === "Bot" || login.endsWith("[bot]"),
  });
  const hasLabel = (name: string) => issue.labels.some((l) => l.toLowerCase() === name.toLowerCase());

  if (label === config.triggerLabel.toLowerCase()) {
    const sender = await senderOf(payload.sender.login, payload.sender.type);
    const intent: Intent = { issue, sender, via: "trigger" };
    if (hasLabel(config.approvalLabel)) {
      // Approval came first: honour it only if the person who added it may approve.
      const actor = (await gh.labelActors(issue.number)).get(config.approvalLabel.toLowerCase());
      if (actor && canApprove(await gh.permissionOf(actor.login))) intent.approvedBy = actor;
    }
    work.intents.push(intent);
  } else if (label === config.approvalLabel.toLowerCase()) {
    const sender = await senderOf(payload.sender.login, payload.sender.type);
    if (!canApprove(sender.permission)) {
      work.refusedApprovals.push({
        issue: issue.number,
        reason: `@${sender.login} added \`${config.approvalLabel}\`, but only people with write, maintain or admin permission can approve aegis work, so the label was removed.`,
      });
      work.lines.push({
        issue: issue.number,
        decision: "approval refused",
        detail: `@${sender.login} has ${sender.permission} permission`,
      });
      return;
    }
    work.approvals.push({ issue: issue.number, sender });
    if (hasLabel(config.triggerLabel) && !openTaskForIssue(ledger, issue.number)) {
      // Both labels at once: this run may see the issue before the trigger's run does.
      const actor = (await gh.labelActors(issue.number)).get(config.triggerLabel.toLowerCase());
      if (actor) {
        work.intents.push({
          issue,
          sender: actor.login === sender.login ? sender : await senderOf(actor.login),
          approvedBy: { login: sender.login, at: ctx.now() },
          via: "approval",
        });
      }
    }
  } else {
    core.info(`Label ${payload.label.name} on #${issue.number} is not one aegis acts on.`);
  }
}

/** Who started a workflow_dispatch run, with their permission (looked up only when it matters). */
async function dispatchSender(ctx: ModeContext): Promise<Sender | undefined> {
  const sender = (ctx.settings.context.payload as Payload).sender;
  if (!sender?.login) return undefined;
  return {
    login: sender.login,
    permission: await ctx.gh.permissionOf(sender.login),
    isBot: sender.type === "Bot" || sender.login.endsWith("[bot]"),
  };
}

/** Closed-or-open for dependency issues the ledger cannot answer for (one call each, rare). */
async function dependencyStates(ctx: ModeContext, ledger: Ledger): Promise<Map<number, boolean>> {
  const states = new Map<number, boolean>();
  for (const issue of untrackedDependencies(ledger)) {
    const data = await ctx.gh.getIssue(issue);
    states.set(issue, data === undefined || data.state === "closed");
  }
  return states;
}
