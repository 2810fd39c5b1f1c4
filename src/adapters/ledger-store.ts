// The ledger on its branch, written by compare-and-swap.
//
// Transport: the contents API with the file's blob `sha`. A PUT names the blob it replaces and
// GitHub refuses it (409) when the file changed since it was read — a true compare-and-swap on
// the one file, in two requests per write (GET + PUT). The alternative, git push without
// force, needs a clone and git credentials in the job for every write, costs seconds, and is
// invisible to the API call count. The branch is created once as an orphan (tree → commit →
// ref), so it never carries a copy of the code.
//
// Reads take the raw media type and compute the blob sha locally (git's own hash of the
// bytes): one call at any size, where the JSON form inlines nothing over 1 MB and would need a
// second request.
//
// Finished tasks leave state.json in batches (see dueForArchive): their full records are first
// appended to archive/<month>.jsonl on the same branch, then the live ledger drops them.
import { createHash } from "node:crypto";
import * as core from "@actions/core";
import { appendToArchive, groupByArchiveFile } from "../core/archive.js";
import { archiveTasks, dueForArchive } from "../core/lifecycle.js";
import {
  emptyLedger,
  LEDGER_FILE,
  type Ledger,
  LedgerError,
  parseLedger,
  assertWritable,
  serializeLedger,
  serializeTasks,
  joinLedger,
  type Task,
} from "../core/ledger.js";
import { type GitHub, statusOf } from "./github.js";

export interface LedgerSnapshot {
  ledger: Ledger;
  /** Blob sha of state.json; undefined when the file or branch does not exist yet. */
  sha: string | undefined;
  branchExists: boolean;
  /** The file as read, for a cheap "did anything change" check and a fresh draft. */
  text?: string;
}

export interface LedgerStoreOptions {
  gh: GitHub;
  branch: string;
  now: () => string;
  dryRun?: boolean;
  /** Compare-and-swap attempts before giving up; each conflict re-reads and re-applies. */
  maxAttempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface UpdateResult<T> {
  /** The ledger as this update left it (or found it, when nothing changed). */
  ledger: Ledger;
  /** The ledger the successful write replaced: diff against it to mirror only this run's changes. */
  base: Ledger;
  result: T;
  written: boolean;
  conflicts: number;
}

export class LedgerConflictError extends Error {
  override name = "LedgerConflictError";
}

export class LedgerStore {
  private readonly gh: GitHub;
  readonly branch: string;
  private readonly now: () => string;
  private readonly dryRun: boolean;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Total conflicts this process met, for the summary and the benchmark. */
  conflicts = 0;

  constructor(options: LedgerStoreOptions) {
    this.gh = options.gh;
    this.branch = options.branch;
    this.now = options.now;
    this.dryRun = options.dryRun ?? false;
    this.maxAttempts = options.maxAttempts ?? 12;
    this.baseDelayMs = options.baseDelayMs ?? 150;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  private get where(): string {
    return `branch ${this.branch}`;
  }

  async read(): Promise<LedgerSnapshot> {
    const file = await this.getFile(LEDGER_FILE);
    if (!file)
      return { ledger: emptyLedger(this.now()), sha: undefined, branchExists: await this.branchExists() };
    return { ledger: parseLedger(file.text, this.where), sha: file.sha, branchExists: true, text: file.text };
  }

  /** A file on the branch and its blob sha; undefined when it (or the branch) does not exist. */
  private async getFile(path: string): Promise<{ text: string; sha: string } | undefined> {
    const { octokit, owner, repo } = this.gh;
    let data: unknown;
    try {
      ({ data } = await octokit.rest.repos.getContent({
        owner,
        repo,
        path,
        ref: `refs/heads/${this.branch}`,
        mediaType: { format: "raw" },
      }));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      return undefined;
    }
    // A directory answers with its JSON listing whatever media type was asked for.
    if (typeof data !== "string" && !(data instanceof ArrayBuffer)) {
      throw new LedgerError(
        `${path} on ${this.where} is not a file. Remove it by hand; aegis will not overwrite it.`,
      );
    }
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
    return { text: bytes.toString("utf8"), sha: blobSha(bytes) };
  }

  private async branchExists(): Promise<boolean> {
    try {
      await this.gh.octokit.rest.git.getRef({
        owner: this.gh.owner,
        repo: this.gh.repo,
        ref: `heads/${this.branch}`,
      });
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /**
   * Applies `mutate` to a fresh copy of the ledger and writes it if anything changed. On a
   * conflict the ledger is re-read and `mutate` runs again on the new copy, so `mutate` must
   * decide from the ledger it is given (check before it adds or moves) — then a retried or
   * duplicated write can never apply a change twice.
   */
  async update<T>(
    message: string,
    mutate: (draft: Ledger) => T,
    start?: LedgerSnapshot,
  ): Promise<UpdateResult<T>> {
    let conflicts = 0;
    // A caller that already read the ledger to prepare side effects passes its snapshot: the
    // first attempt then costs no extra read, and a stale snapshot just means one conflict.
    let given = start;
    for (let attempt = 1; ; attempt++) {
      // A snapshot read here belongs to no one else, so it becomes the draft itself; a caller's
      // snapshot is left intact and the draft re-parsed from the text (cheaper than a deep clone).
      const own = given === undefined;
      const snapshot = given ?? (await this.read());
      given = undefined;
      const draft = own || !snapshot.text ? snapshot.ledger : (JSON.parse(snapshot.text) as Ledger);
      const before = snapshot.text ?? serializeLedger(snapshot.ledger);
      const outcome = (ledger: Ledger, written: boolean): UpdateResult<T> => {
        let base: Ledger | undefined;
        return {
          ledger,
          // The pre-write ledger, re-read from the text only if someone asks (the draft may be it).
          get base() {
            base ??= draft !== snapshot.ledger ? snapshot.ledger : (JSON.parse(before) as Ledger);
            return base;
          },
          result,
          written,
          conflicts,
        };
      };
      const result = mutate(draft);
      const now = this.now();
      // Archiving first keeps the costly serialisation to the bounded task list.
      const due = this.dryRun || !snapshot.branchExists ? [] : dueForArchive(draft, now);
      const archived = due.length ? await this.archive(due, message) : "none";
      if (archived !== "conflict") {
        if (archived === "saved") archiveTasks(draft, due, now);
        const tasksText = serializeTasks(draft.tasks);
        if (joinLedger(draft, tasksText) === before) return outcome(draft, false);
        draft.updatedAt = now;
        assertWritable(draft, tasksText, before);
        if (this.dryRun) {
          core.info(`Dry run: ledger not written (${message}).`);
          return outcome(draft, false);
        }
        if (await this.write(snapshot, joinLedger(draft, tasksText), message)) return outcome(draft, true);
      }
      conflicts += 1;
      this.conflicts += 1;
      if (attempt >= this.maxAttempts) {
        throw new LedgerConflictError(
          `The ledger on ${this.where} kept changing under this run (${conflicts} conflicts); giving up on "${message}". Nothing was overwritten; the next run retries.`,
        );
      }
      // Full jitter: concurrent writers that collided spread out instead of colliding again.
      const ceiling = Math.min(3000, this.baseDelayMs * 2 ** Math.min(attempt, 5));
      await this.sleep(Math.floor(Math.random() * ceiling));
    }
  }

  /** One compare-and-swap. Returns false when another writer got there first. */
  private async write(snapshot: LedgerSnapshot, text: string, message: string): Promise<boolean> {
    if (!snapshot.branchExists) return this.createBranch(text, message);
    return this.putFile(LEDGER_FILE, text, snapshot.sha, `aegis: ${message}`);
  }

  private async putFile(
    path: string,
    text: string,
    sha: string | undefined,
    message: string,
  ): Promise<boolean> {
    const { octokit, owner, repo } = this.gh;
    try {
      await octokit.rest.repos.createOrUpdateFileContents({
        owner,
        repo,
        path,
        branch: this.branch,
        message,
        content: Buffer.from(text, "utf8").toString("base64"),
        ...(sha ? { sha } : {}),
      });
      return true;
    } catch (error) {
      // 409: the file moved on. 422 without a sha: someone created it since we looked.
      if (statusOf(error) !== 409 && statusOf(error) !== 422) throw error;
      // Or it moved on to exactly this text: GitHub answered 5xx to our write after it landed and
      // the retry met our own commit. The text carries the write's timestamp, so no other writer
      // makes the same bytes: read back, and a matching blob sha is our write, done once.
      const now = await this.getFile(path);
      return now?.sha === blobSha(Buffer.from(text, "utf8"));
    }
  }

  /**
   * Appends finished tasks to their monthly archive files before the live ledger drops them.
   * "unreadable": an archive file is not ours to rewrite, so the tasks stay live (with a warning)
   * and the ledger works on; "conflict": another writer moved a file, so the caller starts over.
   */
  private async archive(
    tasks: readonly Task[],
    message: string,
  ): Promise<"saved" | "unreadable" | "conflict"> {
    for (const [path, group] of groupByArchiveFile(tasks)) {
      const file = await this.getFile(path);
      let next: { text: string; added: number };
      try {
        next = appendToArchive(file?.text, group, `${path} on ${this.where}`);
      } catch (error) {
        if (!(error instanceof LedgerError)) throw error;
        core.warning(error.message);
        return "unreadable";
      }
      if (next.added === 0) continue; // saved by an earlier attempt of this write
      const commit = `aegis: archive ${next.added} finished task(s) (${message})`;
      if (!(await this.putFile(path, next.text, file?.sha, commit))) return "conflict";
    }
    core.info(`Ledger: archived ${tasks.length} finished task(s); their daily counts stay in the ledger.`);
    return "saved";
  }

  private async createBranch(text: string, message: string): Promise<boolean> {
    const { octokit, owner, repo } = this.gh;
    const tree = await octokit.rest.git.createTree({
      owner,
      repo,
      tree: [{ path: LEDGER_FILE, mode: "100644", type: "blob", content: text }],
    });
    const commit = await octokit.rest.git.createCommit({
      owner,
      repo,
      message: `aegis: create ledger (${message})`,
      tree: tree.data.sha,
      parents: [],
    });
    try {
      await octokit.rest.git.createRef({
        owner,
        repo,
        ref: `refs/heads/${this.branch}`,
        sha: commit.data.sha,
      });
      core.info(`Created the ledger branch ${this.branch}.`);
      return true;
    } catch (error) {
      if (statusOf(error) !== 422) throw error;
      // 422 "already exists": created concurrently (re-read and re-apply) — or by this very
      // request, answered 5xx after it landed and retried: the ref then points at our commit.
      const { data } = await octokit.rest.git
        .getRef({ owner, repo, ref: `heads/${this.branch}` })
        .catch(() => ({ data: undefined }));
      return data?.object.sha === commit.data.sha;
    }
  }
}

/** git's name for a blob of these bytes (what the contents API reports as a file's sha). */
function blobSha(bytes: Buffer): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}
