// A maintainer's `/aegis` command, heard from the comment's event: in the PR's conversation
// (`issue_comment`), on a line of its diff (`pull_request_review_comment`) or as a review's body
// (`pull_request_review`). The command becomes a fix request (core/fix-rounds.ts decides it); once
// the round is queued aegis reacts `eyes` on the comment, and when the round ends it replies
// (run-conclude.ts). The comment's text is the request, carried into the brief as data.
import * as core from "@actions/core";
import {
  type CommandRequest,
  type CommandSource,
  parseCommand,
  renderCommandReply,
} from "../core/commands.js";
import type { Ledger } from "../core/ledger.js";
import type { ModeContext } from "./context.js";
import type { FixRequest } from "./sweep.js";

export const COMMAND_EVENTS = ["issue_comment", "pull_request_review_comment", "pull_request_review"];

interface User {
  login?: string;
  type?: string;
}
interface CommandPayload {
  action?: string;
  issue?: { number: number; pull_request?: unknown };
  pull_request?: { number: number };
  comment?: {
    id: number;
    body?: string | null;
    user?: User | null;
    created_at?: string;
    path?: string;
    line?: number | null;
  };
  review?: { id: number; body?: string | null; user?: User | null; submitted_at?: string | null };
}

/** The fix request a command event carries, or undefined (not a command, not on a PR, an edit). */
export async function gatherCommand(ctx: ModeContext, eventName: string): Promise<FixRequest | undefined> {
  const payload = ctx.settings.context.payload as CommandPayload;
  const word = ctx.settings.config.shepherd.command;
  let found:
    | {
        pr: number;
        source: CommandSource;
        id: number;
        body?: string | null;
        user?: User | null;
        at?: string | null;
        path?: string;
        line?: number | null;
      }
    | undefined;
  if (
    eventName === "issue_comment" &&
    payload.action === "created" &&
    payload.issue?.pull_request &&
    payload.comment
  )
    found = { pr: payload.issue.number, source: "conversation", ...fromComment(payload.comment) };
  else if (
    eventName === "pull_request_review_comment" &&
    payload.action === "created" &&
    payload.pull_request &&
    payload.comment
  )
    found = {
      pr: payload.pull_request.number,
      source: "inline",
      ...fromComment(payload.comment),
      ...(payload.comment.path ? { path: payload.comment.path } : {}),
      line: payload.comment.line ?? null,
    };
  else if (
    eventName === "pull_request_review" &&
    payload.action === "submitted" &&
    payload.pull_request &&
    payload.review
  )
    found = {
      pr: payload.pull_request.number,
      source: "review",
      id: payload.review.id,
      body: payload.review.body ?? null,
      user: payload.review.user ?? null,
      at: payload.review.submitted_at ?? null,
    };
  if (!found) {
    core.info(`Event ${eventName}/${payload.action ?? "?"} carries no new comment on a pull request.`);
    return undefined;
  }
  const text = parseCommand(found.body, word);
  const login = found.user?.login;
  if (text === undefined || !login) {
    core.info(`The comment on #${found.pr} is not a ${word} command.`);
    return undefined;
  }
  const command: CommandRequest = {
    source: found.source,
    commentId: found.id,
    author: login,
    text,
    ...(found.path ? { path: found.path } : {}),
    ...(found.line ? { line: found.line } : {}),
    at: found.at && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(found.at) ? found.at : ctx.now(),
  };
  return {
    pr: found.pr,
    sender: {
      login,
      permission: await ctx.gh.permissionOf(login),
      isBot: found.user?.type === "Bot" || login.endsWith("[bot]"),
    },
    command,
  };
}

function fromComment(c: NonNullable<CommandPayload["comment"]>) {
  return { id: c.id, body: c.body ?? null, user: c.user ?? null, at: c.created_at ?? null };
}

/** `eyes` on the command's comment: the round is queued (a review's body takes no reaction). */
export async function acknowledgeCommand(ctx: ModeContext, command: CommandRequest): Promise<void> {
  if (command.source === "review") return;
  await ctx.gh.react(command.source, command.commentId, "eyes").catch((error: unknown) => {
    core.warning(`Could not react on comment ${command.commentId}: ${(error as Error).message}`);
  });
}

/**
 * The reply when a command's round ends: in the thread of an inline command, else on the PR.
 * Idempotent: the reply carries a marker the adapter finds again after a lost answer.
 */
export async function replyToCommand(
  ctx: ModeContext,
  pr: number,
  command: CommandRequest & { round: number },
  outcome: { sha?: string; reason: string },
): Promise<void> {
  const body = renderCommandReply(command, {
    ...outcome,
    round: command.round,
    max: ctx.settings.config.review.maxFixRounds,
  });
  try {
    if (command.source === "inline") await ctx.gh.replyToReviewComment(pr, command.commentId, body);
    else await ctx.gh.createComment(pr, body);
  } catch (error) {
    core.warning(`Could not reply to the command on #${pr}: ${(error as Error).message}`);
  }
}

/** How far back the first sweep looks for commands, with no earlier sweep to go by. */
const FIRST_LOOK_MS = 2 * 3_600_000;
/** Overlap with the previous look: a comment made while it read is read again (and deduplicated). */
const OVERLAP_MS = 60_000;

/**
 * Commands on open aegis PRs whose events were missed (the workflow did not listen, or GitHub did
 * not deliver). Reads the repository's comments since the last sweep looked — two calls, one per
 * kind, however many PRs are open, and none when no aegis PR is open. A review's body has no
 * repository-wide listing, so a missed review command is not found here. Returns the requests
 * and the time the next sweep reads from.
 */
export async function missedCommands(
  ctx: ModeContext,
  ledger: Ledger,
  openPulls: ReadonlySet<number>,
): Promise<{ requests: FixRequest[]; seenAt?: string }> {
  const prs = new Set(
    ledger.tasks.filter((t) => t.pr && !t.pr.merged && openPulls.has(t.pr.number)).map((t) => t.pr!.number),
  );
  if (!prs.size) return { requests: [] };
  const started = ctx.now();
  const since = ledger.commandsSeenAt ?? new Date(Date.parse(started) - FIRST_LOOK_MS).toISOString();
  const word = ctx.settings.config.shepherd.command;
  const taken = new Set(
    ledger.tasks.flatMap((t) => [...(t.commandsTaken ?? []), ...(t.command ? [t.command.commentId] : [])]),
  );
  const found = await ctx.gh.commentsSince(since);
  const requests: FixRequest[] = [];
  const candidates = [
    ...found.conversation.map((c) => ({ ...c, source: "conversation" as const })),
    ...found.inline.map((c) => ({ ...c, source: "inline" as const })),
  ];
  for (const c of candidates) {
    if (!prs.has(c.number) || c.bot || !c.author || taken.has(c.id)) continue;
    const text = parseCommand(c.body, word);
    if (text === undefined) continue;
    requests.push({
      pr: c.number,
      sender: { login: c.author, permission: await ctx.gh.permissionOf(c.author), isBot: false },
      command: {
        source: c.source,
        commentId: c.id,
        author: c.author,
        text,
        ...("path" in c && c.path ? { path: c.path } : {}),
        ...("line" in c && c.line ? { line: c.line } : {}),
        at: c.at,
      },
    });
  }
  core.info(
    `Read ${found.conversation.length + found.inline.length} comment(s) since ${since} for missed ${word} commands: ${requests.length} found.`,
  );
  return {
    requests,
    seenAt: new Date(Date.parse(started) - OVERLAP_MS).toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
}
