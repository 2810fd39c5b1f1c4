// Loads the settings, dispatches on the mode, and is the one place that fails the step.
import * as core from "@actions/core";
import { GitHub, statusOf } from "./adapters/github.js";
import { GitHubUnavailable } from "./adapters/octokit.js";
import { LedgerStore } from "./adapters/ledger-store.js";
import type { ModeContext } from "./modes/context.js";
import { digest } from "./modes/digest.js";
import { plan } from "./modes/plan.js";
import { review } from "./modes/review.js";
import { runTask } from "./modes/run.js";
import { loadConfig, makeSettings, readContext, readInputs } from "./settings.js";

export async function run(): Promise<void> {
  let mode: keyof typeof REPAIR | undefined;
  try {
    const inputs = readInputs((name) => core.getInput(name));
    const context = readContext();
    const gh = new GitHub({
      token: inputs.githubToken,
      apiUrl: context.apiUrl,
      owner: context.owner,
      repo: context.repo,
      dryRun: inputs.dryRun,
    });
    const config = await loadConfig(context.workspace, inputs.configPath, () =>
      fetchConfig(gh, inputs.configPath),
    );
    const settings = makeSettings(inputs, context, config);
    mode = settings.mode;
    core.debug(
      `Settings: ${JSON.stringify({ ...settings, githubToken: "***", anthropicApiKey: "***", openaiApiKey: "***", context: { ...context, payload: "…" } })}`,
    );
    const now = () => new Date(Date.now() + clockSkewMs()).toISOString();
    const store = new LedgerStore({ gh, branch: settings.stateBranch, now, dryRun: settings.dryRun });
    const ctx: ModeContext = { settings, gh, store, now };

    switch (settings.mode) {
      case "plan":
        await plan(ctx);
        break;
      case "run":
        await runTask(ctx);
        break;
      case "review":
        await review(ctx);
        break;
      case "digest":
        await digest(ctx);
        break;
    }
    core.info(
      `GitHub API calls: ${gh.calls} (${gh.stats.http} HTTP requests, ${gh.stats.retries} rate-limit waits).`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : `aegis failed: ${String(error)}`;
    // GitHub kept failing past the retries: say which operation, and how the state gets repaired.
    const repair = error instanceof GitHubUnavailable && mode ? ` ${REPAIR[mode]}` : "";
    core.setFailed(`${message}${repair}`);
  }
}

/**
 * What a step that GitHub failed part-way left, and what repairs it. Every write aegis makes
 * recognises its own earlier attempt (see github.ts and ledger-store.ts), so finishing the work
 * again never doubles it.
 */
const REPAIR = {
  plan: "What this plan run wrote before it stopped is kept; the next plan run (the next issue event, or the hourly sweep) does the rest, recognising what already landed.",
  run: "The task stays as the ledger last recorded it. Still `running`, it goes back to the queue at the hourly sweep once its session timeout (run.timeoutMinutes) and 15 minutes have passed, and its next run continues the branch and PR this one left; the same sweep repairs drifted state labels.",
  review:
    "The PR keeps the labels it had; run the review again (re-run the job, or push to the PR): it edits its one comment rather than adding another.",
  digest: "A digest changes no task; the next scheduled run writes it.",
} as const;

/** Tests move the clock (budgets roll over, runners go stale) without waiting. */
function clockSkewMs(): number {
  const skew = Number(process.env.AEGIS_CLOCK_SKEW_MS ?? "0");
  return Number.isFinite(skew) ? skew : 0;
}

/** The config from the default branch, for a job that did not check out the repository. */
async function fetchConfig(gh: GitHub, path: string): Promise<string | undefined> {
  try {
    const { data } = await gh.octokit.rest.repos.getContent({ owner: gh.owner, repo: gh.repo, path });
    if (Array.isArray(data) || data.type !== "file") return undefined;
    return Buffer.from(data.content, "base64").toString("utf8");
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}
