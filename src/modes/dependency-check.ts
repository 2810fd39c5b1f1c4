// The pre-push look at new dependencies: what the diff adds or upgrades in the common manifests
// (core/manifests.ts), looked up in GitHub's advisory database (adapters/advisories.ts). Malware
// stops the push; a high or critical vulnerability is named in the PR body; a lookup that fails is
// a warning there and in the log, never a silent pass.
import * as core from "@actions/core";
import { type AdvisoryHit, lookUpAdvisories } from "../adapters/advisories.js";
import * as git from "../adapters/git.js";
import { changedDependencies, type Dependency, manifestKind } from "../core/manifests.js";
import { oneLine } from "../core/sanitize.js";
import type { ModeContext } from "./context.js";

export interface DependencyCheck {
  /** Dependencies added or upgraded (every one was looked up, unless `problem` says otherwise). */
  checked: Dependency[];
  malware: AdvisoryHit[];
  /** High or critical vulnerabilities. */
  severe: AdvisoryHit[];
  /** Why some or all of them could not be looked up. */
  problem?: string;
}

async function fileAt(cwd: string, rev: string, file: string): Promise<string | undefined> {
  try {
    return await git.runGit(cwd, ["show", `${rev}:${file}`], `git show ${file}`);
  } catch {
    return undefined;
  }
}

/** Undefined when the diff changes no manifest (and nothing is asked of GitHub). */
export async function checkDependencies(
  ctx: ModeContext,
  cwd: string,
  baseSha: string,
  state: git.BranchState,
): Promise<DependencyCheck | undefined> {
  const manifests = state.netPaths.filter((p) => manifestKind(p));
  if (!manifests.length) return undefined;
  const files = await Promise.all(
    manifests.map(async (p) => ({
      path: p,
      ...(await fileAt(cwd, baseSha, p).then((t) => (t === undefined ? {} : { base: t }))),
      ...(await fileAt(cwd, state.headSha, p).then((t) => (t === undefined ? {} : { head: t }))),
    })),
  );
  const { dependencies, unreadable, invalid } = changedDependencies(files);
  const problems = unreadable.length ? [`${unreadable.join(", ")} could not be parsed`] : [];
  if (invalid.length) problems.push(`names no registry serves: ${invalid.slice(0, 5).join(", ")}`);
  let hits: AdvisoryHit[] = [];
  if (dependencies.length) {
    const found = await lookUpAdvisories(ctx.gh, dependencies);
    hits = found.hits;
    if (found.errors.length)
      problems.push(`GitHub's advisory database could not be asked (${found.errors.slice(0, 3).join("; ")})`);
  }
  const check: DependencyCheck = {
    checked: dependencies,
    malware: hits.filter((h) => h.type === "malware"),
    severe: hits.filter((h) => h.type === "reviewed" && (h.severity === "high" || h.severity === "critical")),
    ...(problems.length ? { problem: problems.join("; ") } : {}),
  };
  const names = dependencies.map((d) => `${d.name}${d.version ? `@${d.version}` : ""}`);
  // Names come from the agent's files: one line, so none of it can be a workflow command.
  core.info(
    oneLine(
      `New or upgraded dependencies: ${names.length ? names.slice(0, 20).join(", ") : "none"}; ` +
        `${check.malware.length} malware, ${check.severe.length} high or critical advisories.`,
      2000,
    ),
  );
  if (check.problem)
    core.warning(oneLine(`Dependencies not checked for advisories: ${check.problem}.`, 2000));
  return check;
}

/** The one-line reason a task with malware among its new dependencies was not pushed. */
export function malwareReason(hits: readonly AdvisoryHit[]): string {
  const named = hits.slice(0, 5).map((h) => `${h.dependency.name} (${h.ghsaId})`);
  return `a dependency the change adds is known malware: ${named.join(", ")}`;
}

/** What the PR body says of the check (core/run-report.ts). */
export function dependencyFacts(check: DependencyCheck) {
  return {
    checked: check.checked.length,
    severe: check.severe.map((h) => ({
      ghsaId: h.ghsaId,
      severity: h.severity,
      summary: h.summary,
      url: h.url,
      name: h.dependency.name,
      ...(h.dependency.version ? { version: h.dependency.version } : {}),
    })),
    ...(check.problem ? { problem: check.problem } : {}),
  };
}
