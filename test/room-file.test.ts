// Reading what the room wrote: a regular file with one name is read; a symbolic link, a FIFO
// (which must not hang the reader) and a hard link to another file are refused.
import { execFile } from "node:child_process";
import { link, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { isSingleLinkFile, readRoomFile } from "../src/room/room-file.js";
import { lineCounts } from "../src/modes/run-steps.js";

const exec = promisify(execFile);
let dir = "";
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("reading a file the room wrote", () => {
  it("reads a file of one name and refuses links and FIFOs", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "aegis-roomfile-"));
    const own = path.join(dir, "own.txt");
    await writeFile(own, "the review");
    const secret = path.join(dir, "secret.txt");
    await writeFile(secret, "not the room's", { mode: 0o600 });
    await link(secret, path.join(dir, "hard.txt"));
    await symlink(secret, path.join(dir, "soft.txt"));
    await exec("mkfifo", [path.join(dir, "fifo")]);

    expect(await readRoomFile(own)).toBe("the review");
    await expect(readRoomFile(path.join(dir, "hard.txt"))).rejects.toThrow(/hard link/);
    await expect(readRoomFile(path.join(dir, "soft.txt"))).rejects.toThrow(/ELOOP/);
    await expect(readRoomFile(path.join(dir, "fifo"))).rejects.toThrow(/not a regular file/);
    expect(await isSingleLinkFile(own)).toBe(true);
    expect(await isSingleLinkFile(path.join(dir, "hard.txt"))).toBe(false);
  });

  it("counts lines only of files inside the checkout, whatever path the issue names", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "aegis-roomfile-"));
    await writeFile(path.join(dir, "a.md"), "1\n2\n");
    const counted = await lineCounts(dir, ["a.md", "../../../../etc/passwd", "/etc/passwd"]);
    expect(counted).toEqual([{ path: "a.md", lines: 2 }]);
  });
});
