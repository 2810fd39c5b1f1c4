/**
 * Fix rounds: a reviewed aegis PR sent back to the agent. `fixLabel` on the PR by someone with
 * write, maintain or admin permission — or a CRITICAL review, `review.autoFix` times — queues the
 * PR's task for one more attempt on the same branch; its commits update the same PR, and the
 * review runs again. `review.maxFixRounds` caps the rounds of a task. Pure, like the rest of the
 * lifecycle: safe to re-apply on a fresh ledger.
 */
import type { Config } from "../config.js";
import type { CommandRequest } from "./commands.js";
import { canApprove, type Sender } from "./governance.js";
import type { Ledger, RoundKind, Task } from "./ledger.js";
import { transition } from "./lifecycle.js";
import type { Plan } from "./run-decisions.js";

/** States a task's PR can be sent back from: open, reviewed or not. */
const FIXABLE = ["pr-open", "reviewed"] as const;

export type FixDecision =
  | { kind: "queued"; task: Task; round: number }
  /** The label is removed and the notice posted on the PR. */
  | { kind: "refused"; task?: Task; reason: string; notice: string }
  /** Nothing to do (not an aegis PR, or this round is already on its way); the label goes. */
  | { kind: "noop"; task?: Task; reason: string };

function queueRound(
  task: Task,
  config: Config,
  meta: { kind: RoundKind; actor: string; why: string; now: string; runId?: string },
): number {
  const round = (task.fixRounds ?? 0) + 1;
  task.fixRounds = round;
  task.fixRound = round;
  task.roundsBy = { ...task.roundsBy, [meta.kind]: (task.roundsBy?.[meta.kind] ?? 0) + 1 };
  transition(task, {
    to: "queued",
    actor: meta.actor,
    reason: `fix round ${round} of ${config.review.maxFixRounds} ${meta.why}`,
    now: meta.now,
    ...(meta.runId ? { runId: meta.runId } : {}),
  });
  return round;
}

/** `fixLabel` added to PR `pr` by `sender`, or `sender`'s `/aegis` command on it. */
export function requestFixRound(
  draft: Ledger,
  pr: number,
  sender: Sender,
  ctx: { config: Config; now: string; runId?: string; command?: CommandRequest },
): FixDecision {
  const { config, command } = ctx;
  const task = draft.tasks.find((t) => t.pr?.number === pr && !t.pr.merged);
  if (!task) return { kind: "noop", reason: `#${pr} belongs to no open aegis task` };
  // Anyone else's command starts nothing and is answered by nothing: no notice to spam with.
  if (command && (!canApprove(sender.permission) || sender.isBot))
    return {
      kind: "noop",
      task,
      reason: `@${sender.login} has ${sender.permission} permission; the command starts nothing`,
    };
  // The same comment delivered twice (a redelivered event, the sweep after the event).
  if (
    command &&
    (task.command?.commentId === command.commentId || task.commandsTaken?.includes(command.commentId))
  )
    return { kind: "noop", task, reason: `the command in comment ${command.commentId} was already taken` };
  if (command) task.commandsTaken = [...(task.commandsTaken ?? []), command.commentId].slice(-20);
  const what = command ? `\`${config.shepherd.command}\`` : `\`${config.fixLabel}\``;
  if (!canApprove(sender.permission) || sender.isBot)
    return {
      kind: "refused",
      task,
      reason: `@${sender.login} has ${sender.permission} permission`,
      notice: `@${sender.login} added \`${config.fixLabel}\`, but only people with write, maintain or admin permission can send an aegis pull request back to the agent, so the label was removed.`,
    };
  if (!(FIXABLE as readonly string[]).includes(task.state))
    return command
      ? {
          kind: "refused",
          task,
          reason: `task ${task.id} is ${task.state}`,
          notice: `Task \`${task.id}\` is ${task.state}, so @${command.author}'s ${what} was not taken. Comment again once it has finished.`,
        }
      : { kind: "noop", task, reason: `task ${task.id} is ${task.state}` };
  if ((task.fixRounds ?? 0) >= config.review.maxFixRounds)
    return {
      kind: "refused",
      task,
      reason: `task ${task.id} had its ${config.review.maxFixRounds} fix round(s)`,
      notice: `Task \`${task.id}\` has had all ${config.review.maxFixRounds} of its fix rounds (\`review.maxFixRounds\`), so ${command ? `${what} starts no round` : `${what} was removed`}. Fix the pull request by hand, or close it and re-add \`${config.triggerLabel}\` to the issue to start over.`,
    };
  const round = queueRound(task, config, {
    kind: command ? "command" : "label",
    actor: sender.login,
    why: command ? `asked for by @${sender.login} with ${what}` : `requested by @${sender.login}`,
    now: ctx.now,
    ...(ctx.runId ? { runId: ctx.runId } : {}),
  });
  if (command) task.command = { ...command, round };
  return { kind: "queued", task, round };
}

/** After a CRITICAL review: the next round starts by itself while `review.autoFix` allows. */
export function autoFixRound(
  task: Task,
  config: Config,
  meta: { now: string; runId?: string },
): number | undefined {
  const rounds = task.fixRounds ?? 0;
  if (rounds >= config.review.autoFix || rounds >= config.review.maxFixRounds) return undefined;
  if (!(FIXABLE as readonly string[]).includes(task.state)) return undefined;
  return queueRound(task, config, {
    kind: "review",
    actor: "aegis review",
    why: `started by itself after a CRITICAL review (review.autoFix: ${config.review.autoFix})`,
    ...meta,
  });
}

/**
 * A fix round never costs the PR what it had: new commits that passed every gate update it;
 * anything else (no new commit, a block, a failed check or test, a retryable error) leaves the
 * PR as it was and the task back at `pr-open`, with the reason. One attempt per round.
 */
export function planFixRound(plan: Plan, round: { number: number; max: number; newCommits: number }): Plan {
  const tag = `fix round ${round.number} of ${round.max}`;
  if (plan.state === "cancelled") return plan;
  if (plan.push === "pr" && round.newCommits > 0) return { ...plan, reason: `${tag}: ${plan.reason}` };
  const why = plan.push === "pr" ? "the agent changed nothing" : plan.reason;
  return {
    push: "none",
    state: "pr-open",
    reason: `${tag} ended without a fix (${why}); the pull request stays as it was`,
  };
}
