/**
 * Workflow artifacts through `@actions/artifact` (the Actions results service that
 * `actions/upload-artifact` uses). aegis uploads one file per session — its transcript — unzipped,
 * so the browser shows it as it is. An upload is never worth failing a task over: every failure
 * is a reason, logged, and the task goes on without a link.
 *
 * Exactly once: the results client retries a 5xx by itself, so a call that landed before its
 * answer was lost comes back as an error ("already exists" for CreateArtifact). After any failure
 * the run's finished artifact of that name is looked up, and its id is the upload's; a name that
 * was created but never finished (only listed artifacts are finished) is spent, and the file goes
 * up once more under a second name.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as core from "@actions/core";
import { DefaultArtifactClient } from "@actions/artifact";

export interface ArtifactClientLike {
  uploadArtifact(
    name: string,
    files: string[],
    rootDirectory: string,
    options?: { retentionDays?: number; skipArchive?: boolean },
  ): Promise<{ id?: number; size?: number }>;
  getArtifact(name: string): Promise<{ artifact: { id: number; size: number } }>;
}

export type UploadResult =
  { uploaded: true; id: number; url: string; bytes: number } | { uploaded: false; reason: string };

export interface UploadOptions {
  /** The file name, which is also the artifact's name. */
  fileName: string;
  text: string;
  /** A folder of the action's own (RUNNER_TEMP), where the file is staged. */
  stageDir: string;
  /** `${server}/${owner}/${repo}/actions/runs/${runId}`: the artifact's page is under it. */
  runUrl: string;
  retentionDays?: number;
  env?: NodeJS.ProcessEnv;
  client?: ArtifactClientLike;
}

/** Why this runner has no artifact service aegis can use, if it has none. */
export function artifactServiceMissing(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.ACTIONS_RUNTIME_TOKEN || !env.ACTIONS_RESULTS_URL) return "no artifact service on this runner";
  const host = hostOf(env.GITHUB_SERVER_URL ?? "https://github.com");
  // The results service exists on github.com and GHE.com only (GHES has the older protocol).
  if (!(host === "github.com" || host.endsWith(".ghe.com") || host.endsWith(".localhost")))
    return "workflow artifacts of this kind are not available on GitHub Enterprise Server";
  return undefined;
}

export async function uploadTextArtifact(opts: UploadOptions): Promise<UploadResult> {
  const missing = artifactServiceMissing(opts.env);
  if (missing) return { uploaded: false, reason: missing };
  const client = opts.client ?? new DefaultArtifactClient();
  const dir = path.join(opts.stageDir, `aegis-artifact-${process.pid}-${Date.now()}`);
  const bytes = Buffer.byteLength(opts.text);
  const link = (id: number, size = bytes): UploadResult => ({
    uploaded: true,
    id,
    url: `${opts.runUrl}/artifacts/${id}`,
    bytes: size,
  });
  const upload = async (name: string) => {
    const file = path.join(dir, name);
    await writeFile(file, opts.text, { mode: 0o600 });
    const done = await client.uploadArtifact(name, [file], dir, {
      skipArchive: true,
      ...(opts.retentionDays ? { retentionDays: opts.retentionDays } : {}),
    });
    if (!done.id) throw new Error("the artifact service gave no id");
    return link(done.id);
  };
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      return await upload(opts.fileName);
    } catch (err) {
      // Read back: an upload whose last answer was lost may have landed whole.
      const found = await finalized(client, opts.fileName);
      if (found) {
        core.info(`Artifact ${opts.fileName} is in this run already (id ${found.id}): linking it.`);
        return link(found.id, found.size);
      }
      if (!/already exists|\(409\)/i.test(message(err))) throw err;
      // Created under a lost answer but never finished: that name is spent, and invisible.
      const again = opts.fileName.replace(/(\.[a-z]+)?$/, ".retry$1");
      core.info(`Artifact ${opts.fileName} was created but never finished; uploading as ${again}.`);
      return await upload(again);
    }
  } catch (err) {
    return { uploaded: false, reason: `the upload failed: ${message(err).split("\n")[0]!.slice(0, 300)}` };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function finalized(client: ArtifactClientLike, name: string) {
  try {
    return (await client.getArtifact(name)).artifact;
  } catch {
    return undefined;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return "";
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
