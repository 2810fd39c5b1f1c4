// The archive: every finished task's full record, kept on the state branch after it leaves the
// live ledger, so state.json stays small while nothing about a task is ever thrown away.
// One file per month the task ended in, one task per line (JSON Lines): appending is a small
// diff, and `grep '"issue":123,' archive/*.jsonl` answers "what happened to #123".
import { LedgerError, type Task } from "./ledger.js";

export const ARCHIVE_DIR = "archive";

/** `archive/2026-11.jsonl` for a task that ended in November 2026. */
export function archivePathOf(task: Task): string {
  return `${ARCHIVE_DIR}/${task.updatedAt.slice(0, 7)}.jsonl`;
}

/** The tasks grouped by the archive file they belong in, files in name order. */
export function groupByArchiveFile(tasks: readonly Task[]): [path: string, tasks: Task[]][] {
  const groups = new Map<string, Task[]>();
  for (const task of tasks) {
    const path = archivePathOf(task);
    groups.set(path, [...(groups.get(path) ?? []), task]);
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * The archive file with `tasks` appended, skipping any already in it (a write retried after a
 * conflict must not add a task twice). A line that is not a task record is refused rather than
 * rewritten: the archive is history, and aegis never overwrites what it could not read.
 */
export function appendToArchive(
  text: string | undefined,
  tasks: readonly Task[],
  where: string,
): { text: string; added: number } {
  const present = new Set<string>();
  const lines = (text ?? "").split("\n").filter((line) => line.trim() !== "");
  lines.forEach((line, index) => {
    let id: unknown;
    try {
      id = (JSON.parse(line) as { id?: unknown } | null)?.id;
    } catch {
      id = undefined;
    }
    if (typeof id !== "string")
      throw new LedgerError(
        `${where}, line ${index + 1}, is not a task record. Fix or move the file by hand; until then finished tasks stay in the live ledger.`,
      );
    present.add(id);
  });
  const fresh = tasks.filter((task) => !present.has(task.id));
  const all = [...lines, ...fresh.map((task) => JSON.stringify(task))];
  return { text: all.length ? `${all.join("\n")}\n` : "", added: fresh.length };
}
