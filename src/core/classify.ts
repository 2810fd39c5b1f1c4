// Deterministic classification of an issue from its labels. Pure.
import type { Authority, Config } from "../config.js";
import { AUTHORITIES } from "../config.js";

export type Classification =
  | { kind: "task"; category: string; authority: Authority; matched: string[] }
  | { kind: "unmapped"; understood: string[] };

/**
 * Several mapped labels: the most restrictive authority wins, and the category is that of the
 * first matching label in the config's map order (the map's order is the documented category
 * precedence), so the outcome never depends on the order GitHub lists labels in.
 */
export function classify(labels: readonly string[], config: Config): Classification {
  const present = new Set(labels.map((l) => l.toLowerCase()));
  const matched = Object.entries(config.labels).filter(([name]) => present.has(name.toLowerCase()));
  if (matched.length === 0) return { kind: "unmapped", understood: Object.keys(config.labels) };
  const authority = matched
    .map(([, rule]) => rule.authority)
    .reduce((a, b) => (AUTHORITIES.indexOf(b) > AUTHORITIES.indexOf(a) ? b : a));
  const category = matched.find(([, rule]) => rule.authority === authority)![1].category;
  return { kind: "task", category, authority, matched: matched.map(([name]) => name) };
}

/**
 * Queue rank from priority labels: the list's order is precedence and an unlabeled issue sits
 * just before the last label (between `priority:high` and `priority:low` by default).
 */
export function priorityOf(labels: readonly string[], config: Config): number {
  const present = new Set(labels.map((l) => l.toLowerCase()));
  const list = config.priorityLabels.map((l) => l.toLowerCase());
  const hit = list.findIndex((l) => present.has(l));
  const unlabeled = Math.max(0, list.length - 1);
  if (hit === -1) return unlabeled;
  return hit >= unlabeled ? hit + 1 : hit;
}

export interface IssueFacts {
  labels: readonly string[];
  body: string;
  assignees: readonly string[];
}

/** Why an issue is not taken at all, or undefined when it may become a task. */
export function skipReason(issue: IssueFacts, config: Config): string | undefined {
  const present = new Set(issue.labels.map((l) => l.toLowerCase()));
  const skip = config.skipLabels.find((l) => present.has(l.toLowerCase()));
  if (skip)
    return `it carries the \`${skip}\` label, which aegis leaves alone (remove it and re-add \`${config.triggerLabel}\` to proceed)`;
  if (issue.assignees.length > 0) {
    return `it is assigned to ${issue.assignees.map((a) => `@${a}`).join(", ")}; aegis does not take work a person has claimed`;
  }
  const length = issue.body.trim().length;
  if (length < config.minBodyLength) {
    return `its description is ${length} characters long; aegis needs at least ${config.minBodyLength} to know what to do (describe the change, then re-add \`${config.triggerLabel}\`)`;
  }
  return undefined;
}

/** `Depends on #12`, `Blocked by #3, #4` in the body: issues whose tasks must be done first. */
export function dependenciesOf(body: string, self: number): number[] {
  const found = new Set<number>();
  for (const match of body.matchAll(
    /\b(?:depends\s+on|blocked\s+by)\s*:?\s*((?:#\d+(?:\s*(?:,|and)\s*)?)+)/gi,
  )) {
    for (const ref of match[1]!.matchAll(/#(\d+)/g)) {
      const n = Number(ref[1]);
      if (n > 0 && n !== self) found.add(n);
    }
  }
  return [...found].sort((a, b) => a - b);
}
