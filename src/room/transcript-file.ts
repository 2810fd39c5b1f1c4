/**
 * Reads a session's transcript out of the agent's HOME for publishing, after the room's processes
 * are gone and its HOME is the action's again (`reclaim`). The file is the agent's to shape: it is
 * read only when it is a regular file with one link inside that HOME (no symbolic link, no hard
 * link to a file of the action's), and whole JSONL records are kept.
 */
import { lstat, realpath } from "node:fs/promises";
import path from "node:path";
import { readRoomFile } from "./room-file.js";
import { isOwnEntry, projectDir, SESSION_ID, wholeLines } from "./session-store.js";

const MAX_READ_BYTES = 256 * 1024 * 1024;

export async function readSessionTranscript(
  home: string,
  cwd: string,
  sessionId: string,
): Promise<{ text: string } | { reason: string }> {
  if (!SESSION_ID.test(sessionId)) return { reason: "the session id has an unexpected form" };
  const real = await realpath(cwd).catch(() => cwd);
  const file = path.join(projectDir(home, real), `${sessionId}.jsonl`);
  if (!(await isOwnEntry(file, home)))
    return { reason: "the transcript is not a regular file inside the agent's HOME" };
  // Read whole into memory: a file the agent blew up is left, not read.
  const size = (await lstat(file)).size;
  if (size > MAX_READ_BYTES) return { reason: `the transcript is ${size} bytes, over ${MAX_READ_BYTES}` };
  try {
    const text = wholeLines(await readRoomFile(file));
    return text ? { text } : { reason: "the transcript is empty" };
  } catch (err) {
    return {
      reason: `the transcript could not be read safely (${err instanceof Error ? err.message : String(err)})`,
    };
  }
}
