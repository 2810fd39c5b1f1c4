/**
 * Reading a file the room wrote, as the action (which may hold more rights than the room's
 * user). A path the room shaped can lead elsewhere three ways: a symbolic link (refused by
 * O_NOFOLLOW and a real-path check by the callers), a FIFO or device (refused: not a regular
 * file; O_NONBLOCK so opening one never hangs), and a hard link to a file of someone else's,
 * which no path check sees — refused by its link count: a file the room made itself has one name.
 * The checks are made on the open handle, so the file cannot be swapped between check and read.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";

export class NotOwnFile extends Error {}

export async function readRoomFile(p: string): Promise<string> {
  const handle = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new NotOwnFile(`${p} is not a regular file`);
    if (st.nlink !== 1) throw new NotOwnFile(`${p} has ${st.nlink} names (a hard link)`);
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** Whether a room-written regular file passes the same checks (for a copy made by other means). */
export async function isSingleLinkFile(p: string): Promise<boolean> {
  try {
    const handle = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      return st.isFile() && st.nlink === 1;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}
