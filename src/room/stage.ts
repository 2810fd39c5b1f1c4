/**
 * Staging the tools the room runs (the CLIs, node, the hooks) into the room's `tools/`, where the
 * room can run them and not change them.
 */
import { constants } from "node:fs";
import { access, copyFile, link, lstat, mkdir, open, readdir, realpath } from "node:fs/promises";
import path from "node:path";
import type { Room } from "./room.js";

/** An executable as the room runs it: a native binary, or a script run by the staged node. */
export interface StagedTool {
  file: string;
  prefixArgs: string[];
}

async function isElf(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const buf = Buffer.alloc(4);
    await handle.read(buf, 0, 4, 0);
    return buf.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await handle.close();
  }
}

/** A hard link where the file system allows it (instant, no space), else a copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to, constants.COPYFILE_FICLONE);
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  const stat = await lstat(from);
  if (stat.isSymbolicLink()) {
    // Packages may link inside themselves; follow once and copy what it names.
    return copyTree(await realpath(from), to);
  }
  if (stat.isDirectory()) {
    await mkdir(to, { recursive: true, mode: 0o755 });
    for (const entry of await readdir(from)) await copyTree(path.join(from, entry), path.join(to, entry));
    return;
  }
  if (stat.isFile()) await linkOrCopy(from, to);
}

async function packageRoot(file: string): Promise<string | undefined> {
  let dir = path.dirname(file);
  while (dir !== path.dirname(dir)) {
    try {
      await access(path.join(dir, "package.json"), constants.R_OK);
      return dir;
    } catch {
      dir = path.dirname(dir);
    }
  }
  return undefined;
}

/**
 * Puts `executable` where the room can run it and not change it: a native binary is linked in
 * alone; an npm script comes with its package (with its whole scope, where platform binaries
 * sit beside it, as @openai/codex's do) and runs under the staged `node`.
 */
export async function stageTool(room: Room, name: string, executable: string): Promise<StagedTool> {
  const real = await realpath(executable);
  if (await isElf(real)) {
    const to = path.join(room.tools, name);
    await linkOrCopy(real, to);
    return { file: to, prefixArgs: [] };
  }
  const pkg = await packageRoot(real);
  if (!pkg) throw new Error(`${executable} is neither a native binary nor part of an npm package`);
  const scoped = path.basename(path.dirname(pkg)).startsWith("@");
  const from = scoped ? path.dirname(pkg) : pkg;
  const to = path.join(room.tools, name, "node_modules", path.basename(from));
  await copyTree(from, to);
  const node = await stageNode(room);
  return { file: node, prefixArgs: [path.join(to, path.relative(from, real))] };
}

/** The action's own node, for the hooks and npm-script tools: never whatever `node` is on PATH. */
export async function stageNode(room: Room): Promise<string> {
  const to = path.join(room.tools, "node");
  try {
    await access(to, constants.X_OK);
  } catch {
    await linkOrCopy(process.execPath, to);
  }
  return to;
}

/** The hooks (settings and bundled scripts), copied so the room reads them but cannot change them. */
export async function stageHooks(room: Room, hooksDir: string): Promise<string> {
  const to = path.join(room.tools, "hooks");
  await copyTree(hooksDir, to);
  return to;
}
