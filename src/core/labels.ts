// The labels aegis owns: one `aegis:<state>` per issue mirrors its task. Pure.
import type { Config } from "../config.js";
import { TASK_STATES, type TaskState } from "./ledger.js";

export const STATE_LABEL_PREFIX = "aegis:";
export const DUPLICATE_LABEL = "aegis:duplicate";
export const CONTENTION_LABEL = "aegis:contention";
/** On a PR that changes AGENTS.md and the like (`run.instructionChanges: flag`): a person looks first. */
export const INSTRUCTIONS_CHANGED_LABEL = "aegis:instructions-changed";
export const NEEDS_FIX_LABEL = "needs-fix";
export const REVIEWED_LABEL = "codex-reviewed";
export const REVIEW_FAILED_LABEL = "codex-review-failed";

export function stateLabel(state: TaskState): string {
  return `${STATE_LABEL_PREFIX}${state}`;
}

const STATE_STYLE: Record<TaskState, [color: string, description: string]> = {
  "awaiting-approval": ["fbca04", "aegis: waiting for a maintainer to add the approval label"],
  queued: ["c5def5", "aegis: approved and waiting for a runner"],
  deferred: ["d4c5f9", "aegis: held by a cap, budget or dependency; admitted automatically"],
  running: ["1d76db", "aegis: a Claude Code session is working on it"],
  "pr-open": ["0e8a16", "aegis: a pull request is open"],
  reviewed: ["2ea44f", "aegis: the pull request was reviewed by Codex"],
  blocked: ["b60205", "aegis: the agent stopped and explained why"],
  failed: ["d93f0b", "aegis: the task failed; see the status comment"],
  done: ["5319e7", "aegis: merged"],
  cancelled: ["cfd3d7", "aegis: cancelled"],
};

export interface LabelDef {
  name: string;
  color: string;
  description: string;
}

export function labelDefinitions(config: Config): LabelDef[] {
  return [
    {
      name: config.triggerLabel,
      color: "7057ff",
      description: "aegis: turn this issue into a reviewed pull request",
    },
    { name: config.approvalLabel, color: "0e8a16", description: "aegis: a maintainer approved this task" },
    { name: config.revertLabel, color: "b60205", description: "aegis: revert this merged pull request" },
    {
      name: config.fixLabel,
      color: "d93f0b",
      description: "aegis: send this pull request back to the agent",
    },
    ...TASK_STATES.map((state) => ({
      name: stateLabel(state),
      color: STATE_STYLE[state][0],
      description: STATE_STYLE[state][1],
    })),
    { name: DUPLICATE_LABEL, color: "cfd3d7", description: "aegis: same title as an open task" },
    {
      name: CONTENTION_LABEL,
      color: "e99695",
      description: "aegis: touches the same files as another open aegis PR",
    },
    {
      name: INSTRUCTIONS_CHANGED_LABEL,
      color: "d93f0b",
      description: "aegis: changes the repository's instructions for agents; read before merging",
    },
    { name: NEEDS_FIX_LABEL, color: "d93f0b", description: "Codex found a critical problem" },
    { name: REVIEWED_LABEL, color: "0e8a16", description: "Codex found nothing critical" },
    {
      name: REVIEW_FAILED_LABEL,
      color: "fbca04",
      description: "The Codex review could not run; see the comment",
    },
  ];
}

/** What to add and remove so the issue carries exactly the label of `state` (or none). */
export function stateLabelChanges(
  current: readonly string[],
  state: TaskState | undefined,
): { add: string[]; remove: string[] } {
  const want = state ? stateLabel(state) : undefined;
  const ours = new Set(TASK_STATES.map((s) => stateLabel(s)));
  const remove = current.filter((l) => ours.has(l.toLowerCase()) && l.toLowerCase() !== want);
  const add = want && !current.some((l) => l.toLowerCase() === want) ? [want] : [];
  return { add, remove };
}
