/**
 * What of the runner the room may and may not reach: the runner's folders closed to it, the job's
 * toolchain shown to it read-only, and the checkout handed over as a scrubbed tree (a view or a copy).
 */
import os from "node:os";
import path from "node:path";
import { readFile, readlink } from "node:fs/promises";
import * as core from "@actions/core";
import type { ModeContext } from "../modes/context.js";
import { jobSecrets } from "../settings.js";
import { planScrub, type ScrubPlan } from "./checkout-copy.js";
import type { Room } from "./room.js";
import { planToolchainView, type ToolchainView } from "./toolchain-view.js";

/** The job's own folders: the workspace, RUNNER_TEMP and those of the runner's file commands. */
function jobFolders(env: NodeJS.ProcessEnv): string[] {
  return [
    env.GITHUB_WORKSPACE ?? "",
    env.RUNNER_TEMP ?? "",
    ...[
      "GITHUB_EVENT_PATH",
      "GITHUB_ENV",
      "GITHUB_OUTPUT",
      "GITHUB_STATE",
      "GITHUB_PATH",
      "GITHUB_STEP_SUMMARY",
    ].map((name) => (env[name] ? path.dirname(env[name]) : "")),
  ];
}

/**
 * Where the runner keeps what the room must never read: the job's HOME (a docker login, tool
 * credentials), the workspace (a checkout's persisted auth header), RUNNER_TEMP (the file
 * commands, credential files other actions write), the event payload's folder, and the runner's
 * own directory (its `.credentials`). A GitHub-hosted runner's HOME may be open to other users:
 * each of these the room's user can reach is closed to it before anything of the room runs, and
 * the room fails closed if one stays reachable.
 */
export async function closeRunnerTo(room: Room): Promise<void> {
  const env = process.env;
  const paths = [os.homedir(), env.HOME ?? "", ...jobFolders(env), ...(await runnerRoots())];
  const closed = await room.closeOff(paths);
  if (closed.length) core.info(`Closed to the agent's room: ${closed.join(", ")}.`);
}

/**
 * What of the runner's HOME the session and the test ratchet may use: the folders of the job's
 * toolchain (PATH entries, CARGO_HOME, nvm's, …), read-only; never the workspace or RUNNER_TEMP.
 */
export async function jobToolchain(sandbox: string): Promise<ToolchainView | undefined> {
  if (sandbox === "none") return undefined;
  const env = process.env;
  const closed = [...jobFolders(env)];
  const view = await planToolchainView(env, os.homedir(), closed);
  for (const l of view?.leftOut ?? []) core.warning(`Not shown to the agent's room: ${l.path} (${l.why}).`);
  if (view?.binds.length)
    core.info(
      `The job's toolchain, read-only in the agent's room: ${view.binds.map((b) => b.target).join(", ")}.`,
    );
  return view;
}

/** The directories of the runner processes above this one (Runner.Worker, Runner.Listener). */
async function runnerRoots(): Promise<string[]> {
  const roots: string[] = [];
  let pid = process.ppid;
  for (let depth = 0; depth < 12 && pid > 1; depth++) {
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => "");
    if (/^Runner\.(Worker|Listener)$/.test(path.basename(exe))) roots.push(path.dirname(path.dirname(exe)));
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    pid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return roots;
}

/**
 * The room's tree of a checkout (checkout-copy.ts says what it leaves out; checkout-view.ts how
 * it is laid without a copy); what was left out, and how the tree was laid, is said in the log.
 */
export async function handCheckoutOver(
  ctx: ModeContext,
  from: string,
  room: Room,
  earlier?: ScrubPlan,
): Promise<ScrubPlan> {
  const scratch = ctx.settings.context.runnerTemp;
  const plan = await planScrub(from, { secrets: jobSecrets(ctx.settings), scratch }, earlier);
  const taken = await room.takeCheckout(from, plan, scratch);
  core.info(
    taken.kind === "view"
      ? "The checkout in the agent's room: a view over the runner's checkout (its writes kept apart)."
      : `The checkout in the agent's room: a copy (${taken.why || "no view on this runner"}).`,
  );
  // Said once per step: the tests' tree leaves out what the session's did.
  for (const l of plan.leftOut)
    if (!earlier?.leftOut.some((e) => e.path === l.path))
      core.warning(`Left out of the agent's tree of the checkout: ${l.path} (${l.why}).`);
  return plan;
}
