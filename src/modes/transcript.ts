// The session's transcript for the people who decide on the PR: read from the room after it is
// reaped, made readable (secrets masked, the room's paths shortened, core/transcript.ts) and
// uploaded as a workflow artifact (adapters/artifacts.ts). It never fails the task: without a
// link, the reason is logged and shown where the link would be.
import * as core from "@actions/core";
import { uploadTextArtifact } from "../adapters/artifacts.js";
import { readableTranscript, type TranscriptLink, transcriptFileName } from "../core/transcript.js";
import type { AgentRoom } from "../room/agent-room.js";
import type { ModeContext } from "./context.js";

export async function publishTranscript(
  ctx: ModeContext,
  agentRoom: AgentRoom,
  what: { taskId: string; attempt: number; fixRound?: number; sessionId?: string; secrets: string[] },
): Promise<TranscriptLink | undefined> {
  const { settings, gh } = ctx;
  if (!settings.config.run.transcript) return undefined;
  if (!what.sessionId) return { missing: "the session did not start" };
  return core.group("Session transcript", async () => {
    const read = await agentRoom.transcript(what.sessionId!);
    if ("reason" in read) {
      core.info(`No transcript artifact: ${read.reason}.`);
      return { missing: read.reason };
    }
    const readable = readableTranscript(read.text, { secrets: what.secrets, paths: read.paths });
    if (readable.masked)
      core.warning(
        `The session's transcript showed ${readable.masked} secret value(s); masked in the artifact.`,
      );
    const name = transcriptFileName(what.taskId, what.attempt, what.fixRound);
    const server = settings.context.serverUrl.replace(/\/+$/, "");
    const done = await uploadTextArtifact({
      fileName: name,
      text: readable.text,
      stageDir: settings.context.runnerTemp,
      runUrl: `${server}/${gh.owner}/${gh.repo}/actions/runs/${settings.context.runId}`,
    });
    if (!done.uploaded) {
      core.info(`No transcript artifact: ${done.reason}.`);
      return { missing: done.reason };
    }
    core.info(`Transcript: ${name} (${done.bytes} bytes${readable.truncated ? ", cut" : ""}) at ${done.url}`);
    return { url: done.url, name };
  });
}
