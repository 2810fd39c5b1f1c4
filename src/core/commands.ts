/**
 * Maintainers' commands on an aegis PR: a comment whose first line, after leading blanks, starts
 * with `shepherd.command` (`/aegis`) followed by a blank or the end of the line. The request is
 * the rest of the comment; it starts a fix round (kind `command`) whose brief carries it as data,
 * with the file and line of an inline comment. Pure.
 */
import { cell } from "./status.js";

export type CommandSource = "conversation" | "inline" | "review";

export interface CommandRequest {
  source: CommandSource;
  /** The comment (conversation, inline) or review the command was written in. */
  commentId: number;
  author: string;
  /** What the maintainer asked for: the comment without the command word, capped. */
  text: string;
  path?: string;
  line?: number;
  at: string;
}

/** Longest request kept in the ledger and the brief. */
export const COMMAND_MAX_CHARS = 4000;

/** The request in `body`, or undefined when it is no command (`/aegis` must be the first word). */
export function parseCommand(body: string | null | undefined, command: string): string | undefined {
  if (!body || !command) return undefined;
  const text = body.replace(/^\s+/, "");
  if (!text.startsWith(command)) return undefined;
  const rest = text.slice(command.length);
  if (rest !== "" && !/^[ \t\r\n]/.test(rest)) return undefined;
  const request = rest.trim();
  return request.length > COMMAND_MAX_CHARS ? `${request.slice(0, COMMAND_MAX_CHARS - 1)}…` : request;
}

/** The marker of aegis's reply to a command: one reply per command, found again after a lost answer. */
export function replyMarker(commentId: number): string {
  return `<!-- aegis:command-reply ${commentId} -->`;
}

/**
 * The reply when the round ends: the commit it pushed, or why nothing changed. The reason is
 * aegis's own text, where the agent's words in it were made inert where they entered (outcome.ts).
 */
export function renderCommandReply(
  request: Pick<CommandRequest, "commentId" | "author">,
  outcome: { sha?: string; reason: string; round: number; max: number },
): string {
  const said = outcome.sha
    ? `Done in ${outcome.sha.slice(0, 12)} (fix round ${outcome.round} of ${outcome.max}); the review runs again.`
    : `Nothing changed (fix round ${outcome.round} of ${outcome.max}): ${cell(outcome.reason, 600)}`;
  return `${replyMarker(request.commentId)}\n${said}`;
}
