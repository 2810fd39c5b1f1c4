// The end of a run: close the attempt in the ledger (compare-and-swap), mirror the task on its
// issue (the `aegis:<state>` label and the status comment naming the outcome and the PR), check
// the new PR for contention, and report (outputs and the step summary).
import * as core from "@actions/core";
import * as decide from "../core/run-decisions.js";
import { redactAll, renderRunSummary, type RunSummary } from "../core/run-report.js";
import { SHARED_USER_NOTE } from "../room/agent-room.js";
import type { ModeContext } from "./context.js";
import { replyToCommand } from "./commands.js";
import { checkContention } from "./contention.js";
import { mirrorTask } from "./effects.js";
import type { Conclusion, RunReport } from "./run-attempt.js";
import { jobSecrets } from "../settings.js";

/** Closes the attempt in the ledger, mirrors it on the issue, and reports. */
export async function conclude(ctx: ModeContext, c: Conclusion): Promise<RunReport> {
  const { settings, gh, store } = ctx;
  const record = c.record ?? decide.sessionlessRecord(c.plan.state, c.plan.reason);
  const written = await core.group("Record the attempt", () =>
    store.update(
      `run ${c.task.id}: ${c.plan.state}`,
      (draft) => {
        const closed = decide.closeAttempt(draft, c.task.id, c.attemptNumber, record, c.plan, {
          now: ctx.now(),
          runId: settings.context.runId,
          breakerThreshold: settings.config.breaker.threshold,
          branch: c.branch,
          ...(c.outcome ? { outcome: c.outcome } : {}),
          ...(c.pr ? { pr: c.pr } : {}),
        });
        // A command's round answers once: marked in the same write, replied to after it.
        const command = closed.kind === "recorded" ? closed.task.command : undefined;
        const answers =
          command?.round && !command.replied && command.round === c.task.fixRound
            ? { ...command, round: command.round }
            : undefined;
        if (answers) command!.replied = true;
        return { ...closed, answers };
      },
      c.snapshot,
    ),
  );
  const result = written.result;
  let state: string = c.plan.state;
  let note: string | undefined;
  if (result.kind === "recorded") {
    // The status comment names the outcome and links the PR (#N); the label mirrors the state.
    if (written.written) await mirrorTask(gh, settings.config, result.task, result.from);
    if (written.written && result.answers && result.task.pr)
      await replyToCommand(ctx, result.task.pr.number, result.answers, {
        ...(c.plan.push === "pr" && record.branchSha ? { sha: record.branchSha } : {}),
        reason: c.plan.reason,
      });
    if (c.pr) {
      try {
        await checkContention(ctx, result.task, c.pr.number, written.ledger);
      } catch (error) {
        core.warning(`Could not check contention for #${c.pr.number}: ${(error as Error).message}`);
      }
    }
  } else {
    note =
      result.kind === "gone"
        ? `Task ${c.task.id} left the ledger meanwhile; nothing recorded.`
        : `Task ${c.task.id} moved to ${result.state} meanwhile; the attempt was not recorded.`;
    if (result.kind === "moved-on") state = result.state;
    core.warning(note);
  }
  return finish(ctx, {
    taskId: c.task.id,
    issue: c.task.issue,
    state,
    outcome: c.outcome ? decide.OUTCOME_LABEL[c.outcome.outcome] : c.plan.state,
    reason: c.plan.reason,
    turns: record.turns,
    costUsd: record.costUsd,
    sessionMs: c.session?.durationMs ?? 0,
    wallMs: Date.now() - c.started,
    apiCalls: gh.calls,
    ...(c.pr ? { pr: c.pr } : {}),
    ...(c.violations ? { violations: c.violations } : {}),
    ...(c.tests ? { tests: c.tests } : {}),
    ...(c.model ? { model: c.model } : {}),
    ...(c.leftOut?.length ? { leftOut: c.leftOut } : {}),
    ...(c.egress ? { egress: c.egress } : {}),
    ...(c.transcript ? { transcript: c.transcript } : {}),
    ...(c.session?.toolCalls
      ? {
          toolCalls: {
            total: c.session.toolCalls,
            calls: (c.session.calls ?? []).map((call) => ({
              ...call,
              input: redactAll(call.input, jobSecrets(settings)),
            })),
          },
        }
      : {}),
    ...(note || c.sandboxed === false
      ? { note: [c.sandboxed === false ? SHARED_USER_NOTE : "", note ?? ""].filter(Boolean).join("\n\n") }
      : {}),
  });
}

export async function finish(ctx: ModeContext, s: RunSummary): Promise<RunReport> {
  core.setOutput("task-status", s.state ?? "");
  core.setOutput("pr-number", s.pr ? String(s.pr.number) : "");
  core.setOutput("pr-url", s.pr?.url ?? "");
  core.setOutput("cost-usd", (s.costUsd ?? 0).toFixed(4));
  const overhead = Math.max(0, s.wallMs - (s.sessionMs ?? 0));
  core.info(`Action overhead: ${overhead} ms of ${s.wallMs} ms; ${ctx.gh.calls} GitHub API calls.`);
  await core.summary.addRaw(renderRunSummary(s)).write();
  return {
    taskId: s.taskId,
    ...(s.state ? { state: s.state } : {}),
    ...(s.outcome ? { outcome: s.outcome } : {}),
    ...(s.pr ? { pr: s.pr } : {}),
    costUsd: s.costUsd ?? 0,
  };
}
