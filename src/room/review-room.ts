/**
 * The review's room: Codex reads the agent's diff, so it runs where the agent ran.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import * as core from "@actions/core";
import { type CodexRoom, DEFAULT_OPENAI_BASE_URL } from "../adapters/codex.js";
import type { ModeContext } from "../modes/context.js";
import { ROOM_STATE, SHARED_USER_NOTE } from "./agent-room.js";
import { startModelProxy, type ModelProxy } from "./model-proxy.js";
import { openRoom, type Room } from "./room.js";
import { closeRunnerTo, handCheckoutOver } from "./runner-access.js";
import { type StagedTool, stageTool } from "./stage.js";

export interface ReviewRoom {
  room: Room;
  codex: StagedTool;
  proxy: ModelProxy;
  codexRoom: CodexRoom;
  close(): Promise<void>;
}

/**
 * The review's room: Codex reads the agent's diff, so it runs where the agent ran — as the room's
 * user, in a copy of the PR checkout, with a placeholder key and the action's loopback proxy to
 * `openai-base-url`.
 */
export async function enterReviewRoom(
  ctx: ModeContext,
  codexExecutable: string,
  checkout: string,
): Promise<ReviewRoom> {
  const { settings } = ctx;
  // Codex needs its model (the loopback proxy) and nothing else.
  const open = settings.config.run.egress.includes("*");
  const room = await openRoom({
    sandbox: settings.config.run.sandbox,
    runnerTemp: settings.context.runnerTemp,
    egress: open ? { kind: "open" } : { kind: "allow", entries: [] },
  });
  core.saveState(ROOM_STATE, JSON.stringify(room.describe()));
  await closeRunnerTo(room).catch(async (error: unknown) => {
    await room.dispose();
    throw error;
  });
  let proxy: ModelProxy | undefined;
  const close = async () => {
    await proxy?.close().catch(() => undefined);
    await room.reap().catch((error: Error) => core.warning(`The room: ${error.message}`));
    await room.dispose();
  };
  try {
    if (!room.user) core.warning(SHARED_USER_NOTE);
    const codex = await stageTool(room, "codex", codexExecutable).catch((error: Error) => {
      throw new Error(`could not start codex (${codexExecutable}): ${error.message}`, { cause: error });
    });
    await handCheckoutOver(ctx, checkout, room);
    const outDir = path.join(room.home, "out");
    await mkdir(path.join(room.home, ".codex"), { mode: 0o700 });
    await mkdir(outDir, { mode: 0o700 });
    await room.handOver();
    proxy = await startModelProxy({
      upstream: settings.openaiBaseUrl || DEFAULT_OPENAI_BASE_URL,
      apiKey: settings.openaiApiKey,
      scheme: "openai",
      stripPrefix: "/v1",
    });
    const codexRoom: CodexRoom = {
      launch: room.launch,
      stop: () => room.reap(),
      cwd: room.work,
      readOnlyDir: room.tools,
      outDir,
      takeBack: () => room.reclaim(outDir),
    };
    return { room, codex, proxy, codexRoom, close };
  } catch (error) {
    await close();
    throw error;
  }
}
