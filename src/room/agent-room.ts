// Inside the agent's room: everything of run mode that the agent (or the repository's own code)
// can influence runs here, as the room's user — the test command on the base, the Claude Code
// session with its hooks and tools, committing what the agent left, the test command on the
// branch. What comes out is data: the session's stream, a git bundle of the agent's commits, the
// tests' exit codes and output tails. Nothing in here holds a credential: Claude Code talks to a
// loopback proxy of the action's with a placeholder key, and git inside the room has no token.
//
// The publisher (publish.ts) takes the bundle, checks it and pushes; it never runs code in here.
import { mkdir, realpath } from "node:fs/promises";
import path from "node:path";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { runClaudeSession, type ClaudeSessionOptions, type SessionResult } from "../adapters/claude.js";
import * as git from "../adapters/git.js";
import { sanitizeAgentEnv } from "../core/agent-env.js";
import { buildBrief, type FixRoundBrief, maxTurnsFor, type NamedFile } from "../core/brief.js";
import { egressPolicy } from "../core/egress.js";
import type { Task } from "../core/ledger.js";
import * as decide from "../core/run-decisions.js";
import type { TestRun } from "../core/run-decisions.js";
import type { ModeContext } from "../modes/context.js";
import { sessionTimeoutMs } from "../modes/run-steps.js";
import { jobSecrets } from "../settings.js";
import type { ScrubPlan } from "./checkout-copy.js";
import { startModelProxy, type ModelProxy, type ProxySpend } from "./model-proxy.js";
import { openRoom, type Room } from "./room.js";
import { closeRunnerTo, handCheckoutOver, jobToolchain } from "./runner-access.js";
import { projectKey, restoreSession, saveSession } from "./session-store.js";
import { readSessionTranscript } from "./transcript-file.js";
import { type StagedTool, stageHooks, stageNode, stageTool } from "./stage.js";
import { runTestCommand } from "./test-command.js";

export const ANTHROPIC_API = "https://api.anthropic.com";
/** Saved for the post step, which reaps and removes the room whatever happened to the main step. */
export const ROOM_STATE = "aegis-room";

/** Said in the summary and the status comment whenever the agent is not in a room of its own. */
export const SHARED_USER_NOTE =
  "⚠️ `run.sandbox: none`: the agent shared the runner's OS user, so code it ran could read the action's credentials, and `run.egress` was not enforced.";

export interface AgentRoom {
  room: Room;
  /** Where the agent works (the room's working copy) and what it starts from. */
  work: string;
  startSha: string;
  /** Runs the configured test command inside the room; `sha` checks that commit out first. */
  /** The test command in the room: on the base, or on a fresh tree at the branch's `head`. */
  runTests(where: "base" | "branch", head?: string): Promise<TestRun>;
  /** The session, with its hooks, as the room's user; every process of the room is gone after it. */
  runSession(opts: SessionRequest): Promise<SessionResult>;
  /** Commits what the agent left and hands its commits out as a bundle file. */
  seal(opts: { leaveOut: (p: string) => boolean; message: string }): Promise<Sealed>;
  /** Saves the session's transcript to the Actions cache for the next attempt. */
  saveSession(attempt: number, sessionId: string, knownSecrets: string[]): Promise<void>;
  /**
   * The session's transcript, read after every process of the room is gone and its HOME is the
   * action's again; with the room's folders a reader would rather see short.
   */
  transcript(sessionId: string): Promise<RoomTranscript>;
  /** What the model proxy counted of the session's calls (the cost recorded is this one). */
  spend(): ProxySpend;
  /** Reaps, removes the room and stops the proxy; never throws. */
  close(): Promise<void>;
}

export type RoomTranscript = { text: string; paths: { from: string; to: string }[] } | { reason: string };

export type SessionRequest = Omit<
  ClaudeSessionOptions,
  "executable" | "executableArgs" | "cwd" | "settingsPath" | "hooksDir" | "env" | "launch" | "stop"
>;

export interface Sealed {
  committed: string[];
  leftOut: string[];
  /** Bundle of the commits from `startSha` to `head`; absent when the agent added none. */
  bundle?: { file: string; head: string };
}

export interface RoomRequest {
  /** The claude CLI the action installed (staged into the room). */
  claude: string;
  /** The action's checkout, already on the task branch at `startSha`. */
  workspace: string;
  baseSha: string;
  startSha: string;
  branch: string;
  taskId: string;
  /** The attempt about to run; > 1 restores an earlier session when `resume` is set. */
  attempt: number;
  resume: boolean;
  /** What the session may spend and on which model, counted and enforced by the model proxy. */
  meter: { limitUsd: number; model?: string };
}

/** Builds the room, stages the tools, hands it a copy of the checkout, starts the model proxy. */
export async function enterRoom(
  ctx: ModeContext,
  req: RoomRequest,
): Promise<{ agentRoom: AgentRoom; resumeSessionId?: string }> {
  const { settings } = ctx;
  const { config, context } = settings;
  const toolchain = await jobToolchain(config.run.sandbox);
  const room = await openRoom({
    sandbox: config.run.sandbox,
    runnerTemp: context.runnerTemp,
    egress: egressPolicy(config.run.egress),
    ...(toolchain ? { toolchain } : {}),
  });
  core.saveState(ROOM_STATE, JSON.stringify(room.describe()));
  await closeRunnerTo(room).catch(async (error: unknown) => {
    await room.dispose();
    throw error;
  });
  if (room.unresolved.length)
    core.info(`run.egress: ${room.unresolved.join(", ")} did not resolve; the room cannot reach them.`);
  let proxy: ModelProxy | undefined;
  const close = async () => {
    await proxy?.close().catch(() => undefined);
    try {
      const reaped = await room.reap();
      if (reaped) core.info(`Stopped ${reaped} process(es) left in the room.`);
    } catch (error) {
      core.warning(`The room: ${(error as Error).message}`);
    }
    await room.dispose();
  };
  try {
    if (room.user)
      core.info(`The agent's room: user ${room.user.name} (uid ${room.user.uid}), ${room.base}.`);
    else core.warning(SHARED_USER_NOTE);
    const claude = await stageTool(room, "claude", req.claude);
    const hooksDir = await stageHooks(room, path.join(context.actionPath, "hooks"));
    const node = await stageNode(room);
    const scrub = await handCheckoutOver(ctx, req.workspace, room);
    await mkdir(path.join(room.home, "tmp"), { mode: 0o700 });
    await mkdir(path.join(room.testHome, "tmp"), { mode: 0o700 });
    const store = { cache, home: room.home, cwd: room.work, taskId: req.taskId };
    const resumed =
      req.resume && req.attempt > 1
        ? await core.group("Earlier session", () => restoreSession({ ...store, attempt: req.attempt }))
        : undefined;
    await room.handOver();
    proxy = await startModelProxy({
      upstream: settings.anthropicBaseUrl || ANTHROPIC_API,
      apiKey: settings.anthropicApiKey,
      scheme: "anthropic",
      meter: req.meter,
    });
    const agentRoom = makeAgentRoom(ctx, room, {
      ...req,
      claude,
      hooksDir,
      node,
      proxy,
      store,
      scrub,
      close,
    });
    return { agentRoom, ...(resumed?.restored ? { resumeSessionId: resumed.sessionId } : {}) };
  } catch (error) {
    await close();
    throw error;
  }
}

interface RoomParts extends Omit<RoomRequest, "claude"> {
  claude: StagedTool;
  hooksDir: string;
  node: string;
  proxy: ModelProxy;
  store: { cache: typeof cache; home: string; cwd: string; taskId: string };
  /** How the session's tree was scrubbed: the tests' fresh tree plans again from it. */
  scrub: ScrubPlan;
  close: () => Promise<void>;
}

function makeAgentRoom(ctx: ModeContext, room: Room, parts: RoomParts): AgentRoom {
  const { settings } = ctx;
  const { config } = settings;
  const work = room.work;
  const identity: Record<string, string> = room.user ? { USER: room.user.name, LOGNAME: room.user.name } : {};
  const testCommand = config.run.testCommand.trim();

  /**
   * The tree the branch's tests run on: a fresh copy of the runner's checkout (its installed
   * dependencies included) at the commit that would be pushed, and a fresh test HOME — never the
   * tree the session shaped, where an ignored file the agent patched (a module in node_modules,
   * a test HOME's rc file) could make failing code pass.
   */
  const freshTree = async (head: string): Promise<void> => {
    await room.reap();
    await room.renew(work);
    await room.renew(room.testHome);
    await mkdir(path.join(room.testHome, "tmp"), { mode: 0o700 });
    await handCheckoutOver(ctx, parts.workspace, room, parts.scrub);
    await room.handOver();
    await git.checkoutInRoom(work, room.launch, head, parts.branch);
  };

  const runTests = async (where: "base" | "branch", head?: string): Promise<TestRun> => {
    // The base run sees the base; the session then starts where the task starts.
    if (where === "base" && parts.startSha !== parts.baseSha)
      await git.checkoutInRoom(work, room.launch, parts.baseSha);
    if (where === "branch" && head) await freshTree(head);
    const env = sanitizeAgentEnv(process.env, {
      extra: { HOME: room.testHome, TMPDIR: path.join(room.testHome, "tmp"), ...identity },
    });
    delete env.RUNNER_TEMP;
    const result = await core.group(`Tests on the ${where}`, () =>
      runTestCommand({
        command: testCommand,
        cwd: work,
        env,
        timeoutMs: config.run.timeoutMinutes * 60_000,
        secrets: jobSecrets(settings),
        launch: room.launch,
        stop: () => room.reap(),
      }),
    );
    if (where === "base" && parts.startSha !== parts.baseSha)
      await git.checkoutInRoom(work, room.launch, parts.startSha, parts.branch);
    core.info(`Tests on the ${where}: ${result.passed ? "pass" : "fail"} (${result.durationMs} ms).`);
    return result;
  };

  return {
    room,
    work,
    startSha: parts.startSha,
    runTests,
    async runSession(opts) {
      const env = sanitizeAgentEnv(process.env, {
        extra: {
          HOME: room.home,
          TMPDIR: path.join(room.home, "tmp"),
          ...identity,
          ANTHROPIC_API_KEY: parts.proxy.placeholderKey,
          ANTHROPIC_BASE_URL: parts.proxy.url,
          // An operator's knob (tests set it to 0 so a refused connection fails at once).
          ...(process.env.CLAUDE_CODE_MAX_RETRIES
            ? { CLAUDE_CODE_MAX_RETRIES: process.env.CLAUDE_CODE_MAX_RETRIES }
            : {}),
          AEGIS_WORKSPACE: work,
          AEGIS_CONFIG_PATH: settings.configPath,
          AEGIS_PROTECTED_PATHS: config.run.protectedPaths.join("\n"),
          ...(config.run.instructionChanges === "flag" ? { AEGIS_INSTRUCTIONS_WRITABLE: "1" } : {}),
          AEGIS_NODE: parts.node,
        },
      });
      delete env.RUNNER_TEMP;
      const session = await runClaudeSession({
        ...opts,
        executable: parts.claude.file,
        executableArgs: parts.claude.prefixArgs,
        cwd: work,
        settingsPath: path.join(parts.hooksDir, "settings.json"),
        hooksDir: parts.hooksDir,
        env,
        launch: room.launch,
        stop: () => room.reap(),
      });
      const stats = parts.proxy.stats();
      const spent = parts.proxy.spend();
      core.info(
        `Model proxy: ${stats.forwarded} request(s) forwarded${stats.refused ? `, ${stats.refused} refused (a wrong key, a call outside the model API, a dearer model or a spent budget)` : ""}${stats.failed ? `, ${stats.failed} failed` : ""}; counted $${spent.costUsd.toFixed(4)} over ${spent.calls} model call(s) (the CLI reported $${Number.isFinite(session.costUsd) ? session.costUsd.toFixed(4) : String(session.costUsd)}).`,
      );
      if (spent.unpriced.length)
        core.warning(
          `Priced at the dearest known rate (aegis does not know these models): ${spent.unpriced.join(", ")}.`,
        );
      return session;
    },
    async seal(opts) {
      const leftovers = await git.commitLeftovers(work, { ...opts, launch: room.launch });
      const file = path.join(settings.context.runnerTemp, `aegis-${parts.taskId}-${Date.now()}.bundle`);
      const bundle = await git.bundleFromRoom(work, room.launch, parts.startSha, file);
      // git ran as the room's user in a repository the agent shaped: nothing of it may linger.
      await room.reap();
      return { ...leftovers, ...(bundle ? { bundle: { file, head: bundle.head } } : {}) };
    },
    async saveSession(attempt, sessionId, knownSecrets) {
      await room.reap();
      await room.reclaim(room.home);
      await core.group("Save the session for the next attempt", () =>
        saveSession({ ...parts.store, attempt, sessionId, knownSecrets }),
      );
    },
    async transcript(sessionId) {
      await room.reap();
      await room.reclaim(room.home);
      const read = await readSessionTranscript(room.home, room.work, sessionId);
      if ("reason" in read) return read;
      const real = await realpath(room.work).catch(() => room.work);
      const paths = [
        // Claude Code names its project folder after the checkout's path, escaped.
        { from: projectKey(real), to: "checkout" },
        { from: real, to: "<checkout>" },
        { from: room.work, to: "<checkout>" },
        { from: room.home, to: "~" },
        { from: room.tools, to: "<aegis-tools>" },
        { from: room.base, to: "<room>" },
      ];
      return { text: read.text, paths };
    },
    spend: () => parts.proxy.spend(),
    close: parts.close,
  };
}

const MAX_ISSUE_BYTES = 32_000;

export interface RoomWork {
  task: Task;
  attemptNumber: number;
  issue: { title: string; body: string };
  namedFiles: NamedFile[];
  /** The repository's instructions for agents, read on the default branch and rendered. */
  instructions?: string;
  /** Set when this attempt is a fix round of the task's open PR. */
  fixRound?: FixRoundBrief;
  /** The live ledger's tasks, for the memory of earlier tasks of the same issue. */
  tasks: readonly Task[];
  model?: string;
  resumeSessionId?: string;
}

/**
 * What happens in the room, in order: the test command on the base, the brief, the session, then
 * the seal (what the agent left is committed, its commits handed out as a bundle).
 */
export async function workInRoom(ctx: ModeContext, agentRoom: AgentRoom, w: RoomWork) {
  const { config } = ctx.settings;
  const { task, attemptNumber } = w;
  const testCommand = config.run.testCommand.trim();
  const baseTests = testCommand ? await agentRoom.runTests("base") : undefined;
  const dirtyBefore = new Set(await git.dirtyPaths(agentRoom.work, agentRoom.room.launch));
  const brief = buildBrief({
    task: {
      id: task.id,
      issue: task.issue,
      title: w.issue.title,
      category: task.category,
      attempt: attemptNumber,
    },
    issueBody: w.issue.body,
    ...(testCommand ? { testCommand } : {}),
    namedFiles: w.namedFiles,
    previousAttempts: decide.earlierAttempts(task, attemptNumber),
    earlierTasks: decide.earlierTasks(w.tasks, task),
    ...(w.fixRound ? { fixRound: w.fixRound } : {}),
    maxBodyBytes: MAX_ISSUE_BYTES,
    protectedPaths: [...config.run.protectedPaths],
    ...(w.instructions ? { instructions: w.instructions } : {}),
    instructionsWritable: config.run.instructionChanges === "flag",
  });
  const session = await core.group(`Claude Code session (task ${task.id}, attempt ${attemptNumber})`, () =>
    agentRoom.runSession({
      prompt: brief.prompt,
      appendSystemPrompt: brief.appendSystemPrompt,
      maxTurns: maxTurnsFor(config.run.maxTurns, w.namedFiles),
      ...(w.model ? { model: w.model } : {}),
      ...(config.budgets.perTaskUsd > 0 ? { maxBudgetUsd: config.budgets.perTaskUsd } : {}),
      ...(w.resumeSessionId ? { resumeSessionId: w.resumeSessionId } : {}),
      timeoutMs: sessionTimeoutMs(config.run.timeoutMinutes),
    }),
  );
  const sealed = await agentRoom.seal({
    leaveOut: (p) => decide.isSecretLikePath(p) || dirtyBefore.has(p),
    message: `aegis: commit the session's uncommitted changes (task ${task.id})`,
  });
  if (sealed.committed.length) core.info(`Committed ${sealed.committed.length} file(s) the session left.`);
  const leftOut = sealed.leftOut.filter((p) => decide.isSecretLikePath(p));
  if (leftOut.length) core.warning(`Not committed (they look like credentials): ${leftOut.join(", ")}`);
  return { ...(baseTests ? { baseTests } : {}), session, sealed };
}
