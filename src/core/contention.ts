// Task contention after a run: a new aegis pull request that changes files another open aegis
// pull request changes too. Whichever merges second will conflict or silently undo the other,
// so both are labelled and told. Pure: src/modes/contention.ts does the I/O.
import { code } from "./inert.js";
import type { Ledger, Task } from "./ledger.js";

/** Edited in place on the new PR: all of its overlaps in one comment. */
export const CONTENTION_MARKER = "<!-- aegis:contention -->";

/** One comment per pair on the older PR, so a second new PR does not overwrite the first's note. */
export function contentionMarkerFor(newPr: number): string {
  return `<!-- aegis:contention #${newPr} -->`;
}

export interface PullFiles {
  taskId: string;
  issue: number;
  pr: number;
  files: string[];
}

export type Overlap = PullFiles;

/** Tasks whose pull request is open (pr-open or reviewed), other than `taskId` and `prNumber`. */
export function openPullTasks(
  ledger: Ledger,
  taskId: string,
  prNumber: number,
): (Task & { pr: { number: number } })[] {
  return ledger.tasks.filter(
    (t): t is Task & { pr: { number: number; url: string } } =>
      (t.state === "pr-open" || t.state === "reviewed") &&
      t.pr !== undefined &&
      t.id !== taskId &&
      t.pr.number !== prNumber,
  );
}

/** Files run mode recorded for the task's attempts (their union), or undefined when none were. */
export function recordedFiles(task: Task): string[] | undefined {
  const recorded = task.attempts.filter((a) => a.files !== undefined);
  if (recorded.length === 0) return undefined;
  return [...new Set(recorded.flatMap((a) => a.files ?? []))];
}

/** The other PRs sharing at least one file with `files`, each with the shared files, sorted. */
export function findOverlaps(files: readonly string[], others: readonly PullFiles[]): Overlap[] {
  const mine = new Set(files);
  const overlaps: Overlap[] = [];
  for (const other of others) {
    const shared = [...new Set(other.files.filter((f) => mine.has(f)))].sort();
    if (shared.length) overlaps.push({ ...other, files: shared });
  }
  return overlaps.sort((a, b) => a.pr - b.pr);
}

function fileList(files: readonly string[], max = 15): string {
  const shown = files.slice(0, max).map((f) => `${code(f, 200)}`);
  return files.length > max ? `${shown.join(", ")} and ${files.length - max} more` : shown.join(", ");
}

export function renderNewPullComment(overlaps: readonly Overlap[]): string {
  return [
    CONTENTION_MARKER,
    "### aegis · contention",
    "",
    "This pull request changes files that other open aegis pull requests change too. Merge one, then rebase or re-run the other, so neither silently undoes the other.",
    "",
    "| Other pull request | Task | Shared files |",
    "|---|---|---|",
    ...overlaps.map((o) => `| #${o.pr} (issue #${o.issue}) | \`${o.taskId}\` | ${fileList(o.files)} |`),
  ].join("\n");
}

export function renderOtherPullComment(
  newPull: { pr: number; taskId: string; issue: number },
  files: readonly string[],
): string {
  return [
    contentionMarkerFor(newPull.pr),
    "### aegis · contention",
    "",
    `#${newPull.pr} (task \`${newPull.taskId}\`, issue #${newPull.issue}) was just opened and changes the same ${files.length === 1 ? "file" : "files"} as this pull request: ${fileList(files)}. Merge one, then rebase or re-run the other.`,
  ].join("\n");
}
