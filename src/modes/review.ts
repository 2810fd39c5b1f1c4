// mode: review — Codex reviews the task's pull request, one PR comment, one verdict label.
//
// Read the ledger → check the task and its PR → fetch the PR into the workspace → run Codex
// (read-only, no GitHub credential) → comment and labels on the PR → record the review in the
// ledger (compare-and-swap) → mirror the issue's label and status comment → outputs and summary.
// Advisory: a Codex failure (install, API error, timeout, unreadable answer) becomes verdict
// `error`, a comment and a label, never a failed step. A bad ledger, bad inputs or a GitHub API
// refusal still fail: those need a person to fix the setup.
import path from "node:path";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { runCodexReview, type CodexEvent, type CodexRunResult } from "../adapters/codex.js";
import { preparePrCheckout } from "../adapters/pr-checkout.js";
import { RoomError } from "../room/privilege.js";
import { installNpmTool } from "../adapters/tool-install.js";
import { type Finding, REVIEW_MARKER } from "../core/findings.js";
import { autoFixRound } from "../core/fix-rounds.js";
import { oneLine } from "../core/sanitize.js";
import { renderReviewComment } from "../core/review-comment.js";
import { findTask } from "../core/lifecycle.js";
import {
  type Assessment,
  assess,
  justOpenedPull,
  knownCommentId,
  pullSkipReason,
  recordReview,
  renderReviewSummary,
  type ReviewRecord,
  type ReviewVerdict,
  reviewLabelChanges,
  taskSkipReason,
  transitionReason,
} from "../core/review-plan.js";
import { enterReviewRoom } from "../room/review-room.js";
import type { ModeContext } from "./context.js";
import { mirrorTask } from "./effects.js";

export const CODEX_PACKAGE = "@openai/codex";

export interface ReviewOutcome {
  verdict: ReviewVerdict;
  pr?: { number: number; url: string };
  taskStatus?: string;
  commentId?: number;
  reason?: string;
}

export async function review(ctx: ModeContext): Promise<ReviewOutcome> {
  const { settings, gh, store } = ctx;
  const taskId = settings.task;
  const snapshot = await core.group("Read the ledger", () => store.read());
  const task = findTask(snapshot.ledger, taskId);
  const skip = taskSkipReason(task, taskId);
  if (skip || !task?.pr)
    return finish(ctx, {
      verdict: "skipped",
      reason: `Nothing to review: ${skip ?? "no pull request"}.`,
      ...(task ? { taskStatus: task.state } : {}),
    });
  const pr = { number: task.pr.number, url: task.pr.url };

  const pull =
    justOpenedPull(task, settings.context.runId, `${gh.owner}/${gh.repo}`) ?? (await gh.getPull(pr.number));
  const pullSkip = pullSkipReason(pull, pr.number);
  if (pullSkip || !pull)
    return finish(ctx, {
      verdict: "skipped",
      pr,
      taskStatus: task.state,
      reason: `Nothing to review: ${pullSkip ?? "no pull request"}.`,
    });
  pr.url = pull.html_url;

  // Everything from here to the verdict is the review proper: its failures are reported, not thrown.
  let run: CodexRunResult | undefined;
  let headSha = pull.head.sha;
  let assessment: Assessment;
  try {
    const checkout = await core.group(`Fetch #${pr.number} (${pull.head.ref} onto ${pull.base.ref})`, () =>
      preparePrCheckout({
        dir: settings.context.workspace,
        repoUrl: `${settings.context.serverUrl.replace(/\/+$/, "")}/${gh.owner}/${gh.repo}.git`,
        token: settings.githubToken,
        headRef: pull.head.ref,
        headSha: pull.head.sha,
        baseRef: pull.base.ref,
      }),
    );
    headSha = checkout.headSha;
    if (!settings.openaiApiKey) throw new Error("no OpenAI API key (set the openai-api-key input)");
    const executable = await core.group("Codex CLI", () => codexExecutable(ctx));
    // The diff is the agent's text: Codex reads it in the agent's room, with a placeholder key.
    const reviewRoom = await core.group("The review's room", () =>
      enterReviewRoom(ctx, executable, checkout.cwd),
    );
    try {
      run = await core.group(`Codex reviews #${pr.number}`, () =>
        runCodexReview({
          executable: reviewRoom.codex.file,
          executableArgs: reviewRoom.codex.prefixArgs,
          cwd: checkout.cwd,
          baseRef: checkout.baseRef,
          headRef: checkout.headSha,
          ...(settings.reviewModel ? { model: settings.reviewModel } : {}),
          baseUrl: reviewRoom.proxy.url,
          apiKey: reviewRoom.proxy.placeholderKey,
          timeoutMs: settings.config.review.timeoutMinutes * 60_000,
          codexHome: path.join(reviewRoom.room.home, ".codex"),
          onEvent: logProgress,
          room: reviewRoom.codexRoom,
        }),
      );
    } finally {
      await reviewRoom.close();
    }
    assessment = assess(run);
  } catch (error) {
    // A room that cannot be built is the runner's setup, not Codex's failure: it fails the step.
    if (error instanceof RoomError) throw error;
    assessment = { verdict: "error", findings: [], critical: 0, error: (error as Error).message };
  }
  if (assessment.error) core.warning(`Codex review of #${pr.number} could not complete: ${assessment.error}`);
  else
    core.info(
      `Verdict: ${assessment.verdict} (${assessment.findings.length} finding(s), ${assessment.critical} critical).`,
    );

  const model = settings.reviewModel || undefined;
  const body = renderReviewComment({
    findings: assessment.findings,
    verdict: assessment.verdict,
    maxFindings: settings.config.review.maxFindings,
    marker: REVIEW_MARKER,
    ...(assessment.error ? { error: assessment.error } : {}),
    ...(assessment.note ? { note: assessment.note } : {}),
    ...(assessment.summary ? { summary: assessment.summary } : {}),
    ...(model ? { model } : {}),
    ...(run?.usage ? { usage: run.usage } : {}),
  });
  const labels = reviewLabelChanges(
    pull.labels.map((l) => l.name),
    assessment.verdict,
  );
  const commentId = await core.group(`Comment and label #${pr.number}`, async () => {
    // A task never reviewed has no review comment: create it without listing the PR's comments.
    const known = knownCommentId(task) ?? (task.review === undefined ? "none" : undefined);
    const id = await gh.upsertComment(pr.number, REVIEW_MARKER, body, known);
    if (labels.add.length) await gh.addLabels(pr.number, labels.add);
    for (const name of labels.remove) await gh.removeLabel(pr.number, name);
    return id;
  });

  const record: ReviewRecord = {
    verdict: assessment.verdict,
    at: ctx.now(),
    critical: assessment.critical,
    findings: assessment.findings.length,
    headSha,
    ...(commentId ? { commentId } : {}),
    ...(model ? { model } : {}),
    ...(run ? { durationMs: run.durationMs } : {}),
    ...(run?.usage ? { inputTokens: run.usage.inputTokens, outputTokens: run.usage.outputTokens } : {}),
    ...(assessment.error ? { error: assessment.error.slice(0, 500) } : {}),
    ...(assessment.findings.length ? { notes: findingNotes(assessment.findings) } : {}),
  };
  const reason = transitionReason(assessment);
  let autoRound: number | undefined;
  const written = await store.update(
    `review ${taskId}: ${assessment.verdict}`,
    (draft) => {
      const recorded = recordReview(draft, taskId, record, {
        reason,
        now: ctx.now(),
        runId: settings.context.runId,
      });
      // review.autoFix: a CRITICAL review sends the PR back to the agent by itself, while rounds remain.
      autoRound =
        recorded.kind === "recorded" && assessment.verdict === "critical"
          ? autoFixRound(recorded.task, settings.config, { now: ctx.now(), runId: settings.context.runId })
          : undefined;
      return recorded;
    },
    snapshot,
  );
  if (autoRound)
    core.info(`Fix round ${autoRound} of ${settings.config.review.maxFixRounds} queued by itself.`);
  const outcome = written.result;
  let taskStatus: string = task.state;
  let note: string | undefined;
  if (outcome.kind === "recorded") {
    taskStatus = outcome.task.state;
    if (written.written) await mirrorTask(gh, settings.config, outcome.task, outcome.from);
  } else {
    note =
      outcome.kind === "gone"
        ? `Task ${taskId} left the ledger meanwhile; the review is on the PR only.`
        : `Task ${taskId} moved to ${outcome.state} meanwhile; the review is on the PR only.`;
    if (outcome.kind === "moved-on") taskStatus = outcome.state;
    core.info(note);
  }

  return finish(ctx, {
    verdict: assessment.verdict,
    pr,
    taskStatus,
    commentId,
    ...(note ? { reason: note } : {}),
    summary: {
      assessment,
      headSha,
      labels,
      ...(model ? { model } : {}),
      ...(run ? { durationMs: run.durationMs } : {}),
      ...(run?.usage ? { usage: run.usage } : {}),
    },
  });
}

/** The CLI named by `codex-executable`, else the pinned version from the tool cache, Actions cache or npm. */
async function codexExecutable(ctx: ModeContext): Promise<string> {
  const { settings } = ctx;
  if (settings.codexExecutable) {
    core.info(`Using codex at ${settings.codexExecutable}.`);
    return settings.codexExecutable;
  }
  try {
    const installed = await installNpmTool({
      packageName: CODEX_PACKAGE,
      version: settings.codexVersion,
      binName: "codex",
      toolCacheDir: settings.context.toolCache,
      cache,
    });
    return installed.binPath;
  } catch (error) {
    throw new Error(
      `could not install ${CODEX_PACKAGE}@${settings.codexVersion}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Live progress: what Codex does, one line per completed step. */
function logProgress(event: CodexEvent): void {
  if (event.type === "item.completed") {
    const item = event.item as { type?: string; command?: unknown } | undefined;
    if (item?.type === "command_execution" && typeof item.command === "string")
      core.info(`codex ran: ${oneLine(item.command, 200)}`);
    else if (item?.type === "agent_message") core.info("codex answered.");
  } else if (event.type === "turn.failed" || event.type === "error") {
    core.info(`codex: ${oneLine(event.type, 80)}`);
  }
}

type Finish = ReviewOutcome & {
  summary?: Omit<
    Parameters<typeof renderReviewSummary>[0],
    "taskId" | "verdict" | "pr" | "reason" | "taskState" | "apiCalls"
  >;
};

async function finish(ctx: ModeContext, f: Finish): Promise<ReviewOutcome> {
  if (f.verdict === "skipped") core.info(f.reason ?? "Skipped.");
  core.setOutput("review-verdict", f.verdict);
  core.setOutput("pr-number", f.pr ? String(f.pr.number) : "");
  core.setOutput("pr-url", f.pr?.url ?? "");
  core.setOutput("task-status", f.taskStatus ?? "");
  await core.summary
    .addRaw(
      renderReviewSummary({
        taskId: ctx.settings.task,
        verdict: f.verdict,
        ...(f.pr ? { pr: f.pr } : {}),
        ...(f.reason ? { reason: f.reason } : {}),
        ...(f.taskStatus ? { taskState: f.taskStatus } : {}),
        apiCalls: ctx.gh.calls,
        ...f.summary,
      }),
    )
    .write();
  const { summary: _summary, ...outcome } = f;
  return outcome;
}

/** One line per finding for the ledger: severity, place and title, CRITICAL first, five at most. */
export function findingNotes(findings: readonly Finding[]): string[] {
  return [...findings]
    .sort((a, b) => Number(b.severity === "critical") - Number(a.severity === "critical"))
    .slice(0, 5)
    .map((f) =>
      oneLine(
        `${f.severity === "critical" ? "CRITICAL" : "NON-CRITICAL"}${f.file ? ` ${f.file}${f.line ? `:${f.line}` : ""}` : ""}: ${f.title}`,
        300,
      ),
    );
}
