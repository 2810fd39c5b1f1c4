// The post step (action.yml `post`, `post-if: always()`): whatever happened to the main step —
// a crash, a timeout, a cancelled job — the agent's room is reaped and removed, so nothing of
// it outlives the job (on a self-hosted runner, a later job would inherit it).
import * as core from "@actions/core";
import { z } from "zod";
import { reopenRoom } from "./adapters/room.js";
import { ROOM_STATE } from "./modes/agent-room.js";

/** The main step marks itself so the same bundle knows, when run again, that it is the post step. */
export const POST_MARK = "aegis-post";

const description = z.object({
  sandbox: z.enum(["user", "none"]),
  base: z.string().startsWith("/"),
  tag: z.string().optional(),
  egress: z.boolean().optional(),
  user: z.object({ name: z.string(), uid: z.int().positive(), gid: z.int().min(0) }).optional(),
});

export async function post(): Promise<void> {
  const raw = core.getState(ROOM_STATE);
  if (!raw) return;
  try {
    const room = await reopenRoom(description.parse(JSON.parse(raw)));
    const reaped = await room.reap();
    if (reaped) core.info(`Stopped ${reaped} process(es) left in the agent's room.`);
    await room.dispose();
  } catch (error) {
    core.warning(`Could not clean up the agent's room: ${(error as Error).message}`);
  }
}
