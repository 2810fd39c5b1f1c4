// Contention after a run: run mode calls checkContention once it has opened (or updated) a
// task's pull request. Advisory: a failure to comment or label is logged, never fatal.
import * as core from "@actions/core";
import { statusOf } from "../adapters/github.js";
import {
  CONTENTION_MARKER,
  contentionMarkerFor,
  findOverlaps,
  openPullTasks,
  type Overlap,
  type PullFiles,
  recordedFiles,
  renderNewPullComment,
  renderOtherPullComment,
} from "../core/contention.js";
import { CONTENTION_LABEL } from "../core/labels.js";
import type { Ledger, Task } from "../core/ledger.js";
import type { ModeContext } from "./context.js";

export type { Overlap } from "../core/contention.js";

/**
 * Compares the files of `prNumber` (the task's new PR) with those of every other open aegis PR
 * in the ledger; on overlap, comments on both PRs naming the shared files and labels both
 * `aegis:contention`. Other PRs' files come from `attempts[].files` when run mode recorded them,
 * else from the API. Pass the ledger the caller already holds to save a read. Comments are
 * edited in place, so calling it again for the same PR adds none.
 */
export async function checkContention(
  ctx: Pick<ModeContext, "gh" | "store">,
  task: Task,
  prNumber: number,
  ledger?: Ledger,
): Promise<Overlap[]> {
  const { gh } = ctx;
  const others = openPullTasks(ledger ?? (await ctx.store.read()).ledger, task.id, prNumber);
  if (others.length === 0) return [];
  const files = await gh.listPullFiles(prNumber);
  const candidates: PullFiles[] = [];
  for (const other of others) {
    let otherFiles = recordedFiles(other);
    if (!otherFiles) {
      try {
        otherFiles = await gh.listPullFiles(other.pr.number);
      } catch (error) {
        // A deleted PR is the sweep's business, not a reason to fail the run.
        if (statusOf(error) !== 404) throw error;
        continue;
      }
    }
    candidates.push({ taskId: other.id, issue: other.issue, pr: other.pr.number, files: otherFiles });
  }
  const overlaps = findOverlaps(files, candidates);
  if (overlaps.length === 0) {
    core.info(`#${prNumber} shares no file with the ${others.length} other open aegis pull request(s).`);
    return [];
  }
  core.warning(
    `#${prNumber} shares files with ${overlaps.map((o) => `#${o.pr} (${o.files.join(", ")})`).join("; ")}; both labelled ${CONTENTION_LABEL}.`,
  );
  await advise(prNumber, async () => {
    await gh.upsertComment(prNumber, CONTENTION_MARKER, renderNewPullComment(overlaps));
    await gh.addLabels(prNumber, [CONTENTION_LABEL]);
  });
  const newPull = { pr: prNumber, taskId: task.id, issue: task.issue };
  for (const overlap of overlaps) {
    await advise(overlap.pr, async () => {
      await gh.upsertComment(
        overlap.pr,
        contentionMarkerFor(prNumber),
        renderOtherPullComment(newPull, overlap.files),
      );
      await gh.addLabels(overlap.pr, [CONTENTION_LABEL]);
    });
  }
  return overlaps;
}

async function advise(pr: number, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    core.warning(`Could not mark contention on #${pr}: ${(error as Error).message}`);
  }
}
