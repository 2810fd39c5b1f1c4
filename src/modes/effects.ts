// Mirrors ledger changes onto GitHub after a successful write: the `aegis:<state>` label and
// the status comment of every task that moved. The ledger is the truth; these are its shadow,
// so a failure here is logged and repaired by the next sweep instead of failing the run.
import * as core from "@actions/core";
import type { Config } from "../config.js";
import type { GitHub } from "../adapters/github.js";
import { stateLabel } from "../core/labels.js";
import type { Ledger, Task } from "../core/ledger.js";
import { openTaskForIssue, TERMINAL_STATES } from "../core/lifecycle.js";
import { renderStatusComment, STATUS_MARKER } from "../core/status.js";

export interface MirrorOptions {
  /** Status comments already written with this exact state (created just before the write). */
  freshComments?: ReadonlyMap<string, Task["state"]>;
}

/** Mirrors every task that changed between `before` and `after`; returns the issues relabelled. */
export async function mirrorChanges(
  gh: GitHub,
  config: Config,
  before: Ledger,
  after: Ledger,
  options: MirrorOptions = {},
): Promise<Set<number>> {
  const old = new Map(before.tasks.map((t) => [t.id, t]));
  const touched = new Set<number>();
  for (const task of after.tasks) {
    const previous = old.get(task.id);
    if (previous && previous.state === task.state && previous.history.length === task.history.length)
      continue;
    const current = openTaskForIssue(after, task.issue);
    // A task superseded by a newer one for the same issue (a retry) leaves the issue to it.
    if (current && current.id !== task.id) continue;
    // A new task inherits the issue's labels from the task it replaces.
    const from = previous?.state ?? lastTaskOf(before, task.issue)?.state;
    if (from !== task.state) touched.add(task.issue);
    await mirrorTask(gh, config, task, from, options.freshComments?.get(task.id) === task.state);
  }
  return touched;
}

function lastTaskOf(ledger: Ledger, issue: number): Task | undefined {
  return ledger.tasks.filter((t) => t.issue === issue).at(-1);
}

export async function mirrorTask(
  gh: GitHub,
  config: Config,
  task: Task,
  from: Task["state"] | undefined,
  commentIsFresh = false,
) {
  try {
    if (from !== task.state) {
      await gh.addLabels(task.issue, [stateLabel(task.state)]);
      if (from) await gh.removeLabel(task.issue, stateLabel(from));
      // An ended task releases the trigger label, so the sweep does not take the issue again;
      // adding the label anew asks for new work.
      if (TERMINAL_STATES.includes(task.state)) await gh.removeLabel(task.issue, config.triggerLabel);
    }
    if (!commentIsFresh) {
      await gh.upsertComment(
        task.issue,
        STATUS_MARKER,
        renderStatusComment(task, config),
        task.statusCommentId,
      );
    }
  } catch (error) {
    core.warning(
      `Could not mirror task ${task.id} on issue #${task.issue}: ${(error as Error).message}. The next sweep repairs it.`,
    );
  }
}
