/**
 * The agent's commit messages, before they are published. GitHub reads a commit message that
 * reaches the default branch (a merge, a squash, a rebase) for closing keywords: `Closes #15`,
 * `fixes owner/repo#3`, `Resolves https://github.com/o/r/issues/9` close those issues, whoever
 * wrote the message, and none of it shows in the PR's "may close" list. The task's own issue is
 * the one the PR says it fixes; a keyword before any other reference becomes `Refs`, which links
 * without closing. `Co-authored-by:` trailers go too: GitHub credits whichever account owns the
 * address, and the agent picks both the message and the address.
 */

const KEYWORD = /\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(\s*:?\s+)/gi;
/** A reference GitHub resolves after a keyword, matched at the keyword's end. */
const REFERENCE =
  /^(?:#(\d+)|GH-(\d+)|[A-Za-z0-9][\w.-]*\/[\w.-]+#\d+|https?:\/\/\S+?\/(?:issues|pull)\/\d+)/i;

export function withoutCoAuthors(message: string): string {
  return message.replace(/^[ \t]*co-authored-by:.*(\r?\n|$)/gim, "").replace(/\s+$/, "\n");
}

/** `message` with every closing keyword that names anything but `#ownIssue` turned into `Refs`. */
export function withoutForeignClosers(message: string, ownIssue: number): string {
  return message.replace(KEYWORD, (match: string, _word: string, gap: string, offset: number) => {
    const ref = REFERENCE.exec(message.slice(offset + match.length));
    if (!ref) return match;
    const number = ref[1] ?? ref[2];
    return number !== undefined && Number(number) === ownIssue ? match : `Refs${gap}`;
  });
}

/** What aegis publishes of an agent's commit message. */
export function publishedMessage(message: string, ownIssue: number): string {
  return withoutForeignClosers(withoutCoAuthors(message), ownIssue);
}
