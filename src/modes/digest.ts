// mode: digest — the run's step summary: this run's tasks, the queue, recent outcomes, spend and
// budgets. One ledger read (one API call) and no writes: it runs last with `if: always()`, so it
// must work whatever the earlier jobs did, and must never change state behind their backs.
import * as core from "@actions/core";
import { renderDigest } from "../core/digest.js";
import type { ModeContext } from "./context.js";

export async function digest(ctx: ModeContext): Promise<void> {
  const { settings, gh, store } = ctx;
  const { context } = settings;
  let snapshot;
  try {
    snapshot = await core.group("Read the ledger", () => store.read());
  } catch (error) {
    // The summary is where people look: say there why the digest is missing, then fail the step.
    await core.summary
      .addRaw(
        `## aegis digest\n\nThe digest could not read the ledger on \`${store.branch}\`: ${(error as Error).message}\n`,
      )
      .write();
    throw error;
  }
  const markdown = renderDigest({
    ledger: snapshot.ledger,
    config: settings.config,
    now: ctx.now(),
    runId: context.runId,
    repoUrl: `${context.serverUrl.replace(/\/+$/, "")}/${context.owner}/${context.repo}`,
    apiCalls: gh.calls,
    dryRun: settings.dryRun,
    stateBranch: store.branch,
  });
  core.info(
    `Ledger: ${snapshot.ledger.tasks.length} task(s) on ${store.branch}; digest written to the step summary.`,
  );
  await core.summary.addRaw(markdown).write();
}
