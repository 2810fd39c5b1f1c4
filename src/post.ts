// The post step (action.yml `post`, `post-if: always()`): whatever happened to the main step —
// a crash, a timeout, a cancelled job — the agent's room is reaped and removed, so nothing of
// it outlives the job (on a self-hosted runner, a later job would inherit it).
import * as core from "@actions/core";
import os from "node:os";
import { z } from "zod";
import { reopenRoom } from "./room/room.js";
import { ROOM_STATE } from "./room/agent-room.js";

/** The main step marks itself so the same bundle knows, when run again, that it is the post step. */
export const POST_MARK = "aegis-post";

// Only the kind of room is read from the state: the rest is derived again (see reopenRoom).
const description = z.object({
  sandbox: z.enum(["user", "none"]),
  tag: z.string().optional(),
});

export async function post(): Promise<void> {
  const raw = core.getState(ROOM_STATE);
  if (!raw) return;
  try {
    const room = await reopenRoom(description.parse(JSON.parse(raw)), {
      runnerTemp: process.env.RUNNER_TEMP ?? os.tmpdir(),
    });
    const reaped = await room.reap();
    if (reaped) core.info(`Stopped ${reaped} process(es) left in the agent's room.`);
    await room.dispose();
  } catch (error) {
    core.warning(`Could not clean up the agent's room: ${(error as Error).message}`);
  }
}
