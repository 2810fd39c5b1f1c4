/**
 * The digest of an installed tool's tree: every regular file (path, executable bit, sha256 of its
 * bytes) and every symbolic link (path, target) under `node_modules`, in a fixed order, hashed
 * together. npm's own bookkeeping (`node_modules/.package-lock.json`, which records where the
 * tarballs came from and so differs with a registry mirror) is left out; anything else — a file
 * more, a file less, a changed byte, a link moved — changes the digest. Anything that is neither a
 * file, a directory nor a link (a FIFO, a device) makes the tree untrusted.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import path from "node:path";

const SKIP = new Set(["node_modules/.package-lock.json"]);

async function fileHash(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function treeDigest(dir: string): Promise<string> {
  const entries: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(path.join(dir, rel))).sort();
    for (const name of names) {
      const child = rel ? `${rel}/${name}` : name;
      if (SKIP.has(child)) continue;
      const full = path.join(dir, child);
      const st = await lstat(full);
      if (st.isSymbolicLink()) entries.push(`l ${child} ${await readlink(full)}`);
      else if (st.isDirectory()) await walk(child);
      else if (st.isFile()) entries.push(`f ${child} ${st.mode & 0o111 ? "x" : "-"} ${await fileHash(full)}`);
      else throw new Error(`${child} is not a file, a directory or a link`);
    }
  };
  await walk("node_modules");
  const all = createHash("sha256");
  for (const e of entries) all.update(`${e}\n`);
  return `sha256-${all.digest("hex")}`;
}
