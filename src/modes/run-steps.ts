// The steps run mode strings together, kept apart so the orchestrator (run.ts) reads as the
// sequence it is: the Claude Code install, the pre-push checks, the pull request, and recording an action error so a task never hangs in `running`.
import { lstat, readFile } from "node:fs/promises";
import path from "node:path";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import type { BranchState } from "../adapters/git.js";
import { statusOf } from "../adapters/github.js";
import { readInstructions } from "../adapters/repo-instructions.js";
import { installNpmTool } from "../adapters/tool-install.js";
import type { NamedFile } from "../core/brief.js";
import { renderInstructions, selectInstructions } from "../core/instructions.js";
import type { Task } from "../core/ledger.js";
import * as decide from "../core/run-decisions.js";
import type { FixRoundBrief } from "../core/brief.js";
import { prTitle } from "../core/run-report.js";
import { scanDiff, type Violation } from "../core/secret-scan.js";
import type { ModeContext } from "./context.js";
import { mirrorTask } from "./effects.js";

export const CLAUDE_PACKAGE = "@anthropic-ai/claude-code";

/** The CLI named by `claude-executable`, else the pinned version from the tool cache, Actions cache or npm. */
export async function claudeExecutable(ctx: ModeContext): Promise<string> {
  const { settings } = ctx;
  if (settings.claudeExecutable) {
    core.info(`Using claude at ${settings.claudeExecutable}.`);
    return settings.claudeExecutable;
  }
  try {
    const installed = await installNpmTool({
      packageName: CLAUDE_PACKAGE,
      version: settings.claudeVersion,
      binName: "claude",
      toolCacheDir: settings.context.toolCache,
      cache,
    });
    core.info(`Claude Code ${settings.claudeVersion} from ${installed.source}.`);
    return installed.binPath;
  } catch (error) {
    throw new Error(
      `could not install ${CLAUDE_PACKAGE}@${settings.claudeVersion}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * The pre-push checks. Secrets and protected paths over every commit (the push publishes the
 * history, not just the net change); the size limits over the net change a reviewer reads.
 */
export function checkBranch(
  state: BranchState,
  secrets: string[],
  settings: ModeContext["settings"],
): Violation[] {
  const { run } = settings.config;
  const history = scanDiff({
    diffText: state.historyPatches,
    changedPaths: state.historyPaths,
    knownSecrets: secrets,
    protectedPaths: [...run.protectedPaths],
    configPath: settings.configPath,
    instructionsWritable: run.instructionChanges === "flag",
    limits: { maxFiles: Infinity, maxBytes: Infinity },
  });
  const size = scanDiff({
    diffText: state.netDiff,
    changedPaths: state.netPaths,
    knownSecrets: [],
    protectedPaths: [],
    configPath: settings.configPath,
    limits: { maxFiles: run.maxChangedFiles, maxBytes: run.maxDiffBytes },
  }).filter((v) => v.check === "size");
  return [...history, ...size];
}

/**
 * Who is asked to review the task's PR: the maintainer who approved it, else the person who
 * added its trigger label when they may write to the repository; never a bot. No API call: a
 * task that needed no approval was requested by someone with write, maintain or admin
 * permission (governance admits no one else unapproved).
 */
export function reviewerFor(task: Task): string | undefined {
  const isBot = (login: string) => /\[bot\]$/i.test(login);
  const approver = task.approvedBy?.login;
  if (approver && !isBot(approver)) return approver;
  return !task.needsApproval && !isBot(task.requestedBy) ? task.requestedBy : undefined;
}

/** Asks for the review; a refusal (not a collaborator, the PR's own author) is a warning only. */
async function requestReview(ctx: ModeContext, task: Task, pr: number): Promise<void> {
  const who = reviewerFor(task);
  if (!who) return;
  try {
    await ctx.gh.requestReviewers(pr, [who]);
    core.info(`Asked @${who} to review #${pr}.`);
  } catch (error) {
    core.warning(`Could not ask @${who} to review #${pr}: ${(error as Error).message}`);
  }
}

/**
 * Opens the PR and labels it. An earlier open PR of this task (same branch: an earlier attempt's,
 * or one a crashed run opened without recording it) is closed first — GitHub allows one open PR
 * per head — and told which PR supersedes it.
 *
 * A repeat after a landed write is recognised: GitHub may answer 5xx to a creation that went
 * through, and the retry then gets 422 "A pull request already exists". The open PR on the head
 * whose head is the commit this attempt just pushed is this attempt's own: it is adopted (title
 * and body set if they differ), never closed. Only a PR on an older commit is superseded.
 */
export async function openPull(
  ctx: ModeContext,
  task: Task,
  branches: { head: string; base: string; headSha: string },
  title: string,
  body: string,
): Promise<{ number: number; url: string } | undefined> {
  const { gh, settings } = ctx;
  const superseded: number[] = [];
  if (task.pr && !task.pr.merged) {
    await gh.closePull(task.pr.number);
    superseded.push(task.pr.number);
  }
  const input = {
    head: branches.head,
    base: branches.base,
    title: prTitle(title),
    body,
    ...(settings.config.run.draft ? { draft: true } : {}),
  };
  let pr;
  try {
    pr = await gh.createPull(input);
  } catch (error) {
    if (statusOf(error) !== 422) throw error;
    const stray = await gh.findPullByHead(branches.head);
    if (!stray || stray.state !== "open") throw error;
    if (stray.headSha === branches.headSha) {
      core.info(
        `#${stray.number} on ${branches.head} is this attempt's own (head ${branches.headSha.slice(0, 12)}): adopted.`,
      );
      if (stray.title !== input.title || stray.body !== input.body)
        await gh.updatePull(stray.number, { title: input.title, body: input.body });
      pr = { number: stray.number, url: stray.url, base: branches.base };
    } else {
      await gh.closePull(stray.number);
      superseded.push(stray.number);
      pr = await gh.createPull(input);
    }
  }
  if (!pr) return undefined;
  await gh.addLabels(pr.number, [settings.config.triggerLabel, task.category]);
  await requestReview(ctx, task, pr.number);
  for (const old of superseded) {
    try {
      await gh.createComment(
        old,
        `Superseded by #${pr.number}: a later attempt of task \`${task.id}\` replaced this branch.`,
      );
    } catch (error) {
      core.warning(`Could not comment on superseded #${old}: ${(error as Error).message}`);
    }
  }
  core.info(`Opened ${pr.url}${superseded.length ? `, superseding #${superseded.join(", #")}` : ""}.`);
  return pr;
}

/** An error of the action itself after the claim: the attempt is closed so the task does not hang. */
export async function recordActionError(ctx: ModeContext, task: Task, attemptNumber: number, error: Error) {
  const { settings } = ctx;
  const retry = attemptNumber < settings.config.run.maxAttempts;
  const reason = `action error: ${error.message.slice(0, 240)}${retry ? "; queued for another attempt" : ""}`;
  const plan: decide.Plan = { push: "none", state: retry ? "queued" : "failed", reason };
  const record = decide.sessionlessRecord("action-error", reason);
  try {
    const written = await ctx.store.update(`run ${task.id}: action error`, (draft) =>
      decide.closeAttempt(draft, task.id, attemptNumber, record, plan, {
        now: ctx.now(),
        runId: settings.context.runId,
        breakerThreshold: settings.config.breaker.threshold,
        branch: decide.taskBranch(task),
      }),
    );
    if (written.result.kind === "recorded" && written.written)
      await mirrorTask(ctx.gh, settings.config, written.result.task, written.result.from);
  } catch (inner) {
    core.warning(`Could not record the failed attempt of ${task.id}: ${(inner as Error).message}`);
  }
}

export function repositoryDefaultBranch(payload: Record<string, unknown>): string | undefined {
  const value = (payload.repository as { default_branch?: unknown } | undefined)?.default_branch;
  return typeof value === "string" && value ? value : undefined;
}

/** `AEGIS_SESSION_TIMEOUT_MS` (tests and operators) overrides the configured minutes. */
export function sessionTimeoutMs(minutes: number): number {
  const override = Number(process.env.AEGIS_SESSION_TIMEOUT_MS ?? "");
  return Number.isFinite(override) && override > 0 ? override : minutes * 60_000;
}

/**
 * The repository's instructions for agents as the default branch has them at `baseSha`, chosen for
 * the files the task names and rendered for the brief; the log says which went in. A read that
 * fails leaves them out with a warning: the session still runs under aegis's own rules.
 */
export async function repositoryInstructions(
  cwd: string,
  baseSha: string,
  defaultBranch: string,
  taskFiles: string[],
): Promise<string> {
  let files;
  try {
    files = await readInstructions(cwd, baseSha);
  } catch (err) {
    core.warning(`The repository's instructions for agents could not be read: ${(err as Error).message}`);
    return "";
  }
  const chosen = selectInstructions(files, taskFiles);
  if (chosen.files.length)
    core.info(
      `The repository's instructions from ${defaultBranch}: ${chosen.files.map((f) => f.path + (f.truncated ? " (truncated)" : "")).join(", ")}.`,
    );
  for (const o of chosen.omitted) core.info(`Left out of the brief: ${o.path} (${o.why}).`);
  return renderInstructions(chosen, defaultBranch, "agent");
}

/** Line counts of the files the issue names that exist in the checkout (they raise max turns). */
export async function lineCounts(cwd: string, paths: string[]): Promise<NamedFile[]> {
  const out: NamedFile[] = [];
  for (const p of paths) {
    try {
      const full = path.resolve(cwd, p);
      // The issue names the paths: never one outside the checkout.
      if (!full.startsWith(`${path.resolve(cwd)}${path.sep}`)) continue;
      const stat = await lstat(full);
      if (!stat.isFile() || stat.size > 20 * 1024 * 1024) continue;
      const text = await readFile(full, "utf8");
      out.push({ path: p, lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0) });
    } catch {
      // Named but not there: the brief lists only files that exist.
    }
  }
  return out;
}

/**
 * A fix round's brief: the review's findings the ledger kept, and what people with write,
 * maintain or admin permission said on the PR — its conversation and the inline comments on its
 * diff, each with the file and line it is about (aegis's own marked comments and bots left out).
 */
export async function fixRoundBrief(
  ctx: ModeContext,
  task: Task,
  round: number,
  pr: number,
): Promise<FixRoundBrief> {
  const notes = (task.review as { notes?: unknown } | undefined)?.notes;
  const comments: { author: string; body: string }[] = [];
  const roles = new Map<string, Promise<string>>();
  const writer = async (author: string) => {
    if (!roles.has(author)) roles.set(author, ctx.gh.permissionOf(author));
    return ["write", "maintain", "admin"].includes(await roles.get(author)!);
  };
  try {
    for (const c of await ctx.gh.listComments(pr)) {
      if (c.bot || !c.author || /<!-- aegis:/.test(c.body)) continue;
      if (await writer(c.author)) comments.push({ author: c.author, body: c.body });
    }
  } catch (error) {
    core.warning(`Could not read the comments on #${pr}: ${(error as Error).message}`);
  }
  try {
    for (const c of await ctx.gh.listReviewComments(pr)) {
      if (c.bot || !c.author || /<!-- aegis:/.test(c.body)) continue;
      const where = `${c.path}${c.line ? `:${c.line}` : ""}`;
      if (await writer(c.author)) comments.push({ author: c.author, body: `(on ${where}) ${c.body}` });
    }
  } catch (error) {
    core.warning(`Could not read the review comments on #${pr}: ${(error as Error).message}`);
  }
  const command = task.command?.round === round ? task.command : undefined;
  return {
    ...(command
      ? {
          request: {
            author: command.author,
            text: command.text,
            ...(command.path ? { where: `${command.path}${command.line ? `:${command.line}` : ""}` } : {}),
          },
        }
      : {}),
    round,
    max: ctx.settings.config.review.maxFixRounds,
    pr,
    findings: Array.isArray(notes) ? notes.filter((n): n is string => typeof n === "string") : [],
    comments: comments.slice(-10),
  };
}
