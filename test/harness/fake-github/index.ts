// startFakeGitHub: wires the spec validator, the bare repository, the issue store and the routes,
// and offers seeding, inspection and fault helpers to tests.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type ActiveFault, type FaultSpec, Faults } from "./faults.js";
import { BareRepo } from "./git.js";
import type { Handler } from "./http.js";
import { BOT_LOGIN, type Site } from "./render.js";
import * as render from "./render.js";
import type { Ctx } from "./http.js";
import { advisoryHandlers } from "./routes/advisories.js";
import { contentHandlers } from "./routes/contents.js";
import { gitDataHandlers } from "./routes/git-data.js";
import { gitObjectHandlers } from "./routes/git-objects.js";
import { issueHandlers } from "./routes/issues.js";
import { labelHandlers } from "./routes/labels.js";
import { type Pull, pullHandlers, renderPull } from "./routes/pulls.js";
import { repoHandlers } from "./routes/repo.js";
import { type Call, startServer } from "./server.js";
import { createSpecValidator } from "./spec.js";
import {
  type AdvisoryRec,
  type CommentRec,
  type IssueRec,
  type LabelRec,
  type Permission,
  type ReactionRec,
  type ReviewCommentRec,
  Store,
} from "./state.js";

export interface FakeGitHubOptions {
  owner?: string;
  repo?: string;
  /** The valid token (full write access); identity `github-actions[bot]`. */
  token?: string;
  /** A token that may read but gets 403 on every write. */
  readOnlyToken?: string;
  /** Login the tokens act as; default `github-actions[bot]`. */
  actor?: string;
  defaultBranch?: string;
  /** Files of the initial commit; default README.md and a package.json whose `test` passes. */
  files?: Record<string, string | Buffer>;
  /** login → permission. Logins not listed are non-collaborators of a public repo: `read`. */
  users?: Record<string, Permission>;
  /** Let requests without a token read (github.com does for public repos); default false, so a
   * client that forgets its token fails loudly with 401. */
  allowAnonymousReads?: boolean;
  /** Runs after startup, before the fake is returned. */
  seed?: (fake: FakeGitHub) => Promise<void> | void;
}

export interface SeedIssue {
  title: string;
  body?: string | null;
  labels?: string[];
  user?: string;
  assignees?: string[];
  state?: "open" | "closed";
  stateReason?: IssueRec["stateReason"];
}

export const DEFAULT_FILES: Record<string, string> = {
  "README.md": "# sandbox\n\nA repository served by the aegis fake GitHub.\n",
  "package.json": `${JSON.stringify({ name: "sandbox", version: "1.0.0", private: true, scripts: { test: 'node -e "process.exit(0)"' } }, null, 2)}\n`,
};

export interface FakeGitHub {
  /** API root; also the server URL: `${url}/${owner}/${repo}.git` serves git smart-HTTP. */
  readonly url: string;
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  readonly readOnlyToken: string;
  readonly cloneUrl: string;
  readonly defaultBranch: string;
  /** Path of the bare repository. */
  readonly gitDir: string;
  readonly calls: Call[];
  /** Requests that broke the spec, unmodelled operations (501), handler crashes. */
  readonly harnessErrors: string[];
  /** Responses of the fake that broke the spec (a bug in the fake). */
  readonly validationErrors: string[];
  /** Startup timing: total ms, and whether the patched spec came from the disk cache. */
  readonly startup: { ms: number; specCached: boolean };
  readonly store: Store;
  resetCalls(): void;
  /** Calls whose route is exactly `METHOD template` or whose operationId matches. */
  callsTo(route: string): Call[];
  /** Throws listing every harness and validation error; use at the end of a test. */
  assertClean(): void;
  inject(fault: FaultSpec): ActiveFault;
  clearFaults(): void;
  latency(ms: number): void;
  seedUser(login: string, permission: Permission): void;
  seedLabel(name: string, color?: string, description?: string | null): LabelRec;
  /** An advisory of GitHub's global database (`GET /advisories`). */
  seedAdvisory(advisory: AdvisoryRec): void;
  seedIssue(issue: SeedIssue): IssueRec;
  deleteIssue(n: number): void;
  issue(n: number): IssueRec | undefined;
  labelsOf(n: number): string[];
  comments(n: number): CommentRec[];
  /** Reactions on comments, oldest first. */
  reactions(): ReactionRec[];
  /** The inline review comments of pull request `pr`, replies included, oldest first. */
  reviewComments(pr: number): ReviewCommentRec[];
  /** An inline review comment on pull request `pr`'s diff, at its head commit. */
  /** A conversation comment on issue or pull request `n` by `user`; returns its id. */
  seedComment(n: number, c: { user: string; body: string }): number;
  seedReviewComment(
    pr: number,
    c: { user: string; path: string; line: number; body: string },
  ): Promise<number>;
  pulls(): IssueRec[];
  git(args: string[], input?: string | Buffer): Promise<string>;
  branchSha(branch: string): Promise<string | null>;
  readFile(branch: string, filePath: string): Promise<string | null>;
  /** Commits one file on `branch` (created from the default branch when missing); returns the sha. */
  commitFile(branch: string, filePath: string, content: string | Buffer, message?: string): Promise<string>;
  /** REST representations built from current state, for webhook payloads (no call recorded). */
  readonly views: {
    issue(n: number): Record<string, unknown>;
    pull(n: number): Promise<Record<string, unknown>>;
    label(name: string): Record<string, unknown>;
    user(login: string): Record<string, unknown>;
    repository(): Record<string, unknown>;
    comment(id: number): Record<string, unknown>;
    reviewComment(id: number): Record<string, unknown>;
  };
  close(): Promise<void>;
}

export async function startFakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const t0 = performance.now();
  const owner = opts.owner ?? "aegis-test";
  const repoName = opts.repo ?? "sandbox";
  const token = opts.token ?? "ghs_fakeToken0123456789";
  const readOnlyToken = opts.readOnlyToken ?? "ghs_fakeReadOnly0123456789";
  const actor = opts.actor ?? BOT_LOGIN;
  const defaultBranch = opts.defaultBranch ?? "main";
  const tmp = await mkdtemp(path.join(os.tmpdir(), "fake-github-"));
  const [{ validator, cached }, repo] = await Promise.all([
    createSpecValidator(),
    BareRepo.init(path.join(tmp, `${repoName}.git`), opts.files ?? DEFAULT_FILES, defaultBranch),
  ]);
  const store = new Store();
  for (const [login, p] of Object.entries(opts.users ?? {})) store.users.set(login, p);
  const site: Site = { url: "", owner, repo: repoName };
  const faults = new Faults();
  const calls: Call[] = [];
  const harnessErrors: string[] = [];
  const validationErrors: string[] = [];
  const handlers: Record<string, Handler> = {
    ...repoHandlers,
    ...advisoryHandlers,
    ...issueHandlers,
    ...labelHandlers,
    ...pullHandlers,
    ...gitDataHandlers,
    ...gitObjectHandlers,
    ...contentHandlers,
  };
  const tokens = new Map([
    [token, { login: actor, write: true }],
    [readOnlyToken, { login: actor, write: false }],
  ]);
  const { server, port } = await startServer({
    site,
    store,
    repo,
    defaultBranch,
    validator,
    faults,
    handlers,
    tokens,
    calls,
    harnessErrors,
    validationErrors,
    allowAnonymousReads: opts.allowAnonymousReads ?? false,
  });
  site.url = `http://127.0.0.1:${port}`;

  const getIssue = (n: number): IssueRec => {
    const i = store.issues.get(n);
    if (!i) throw new Error(`fake-github: no issue #${n}`);
    return i;
  };

  const viewCtx = (): Ctx => ({
    method: "GET",
    params: {},
    query: {},
    headers: {},
    body: undefined,
    actor,
    url: new URL(site.url),
    site,
    store,
    repo,
    defaultBranch,
  });

  const fake: FakeGitHub = {
    url: site.url,
    owner,
    repo: repoName,
    token,
    readOnlyToken,
    cloneUrl: `${site.url}/${owner}/${repoName}.git`,
    defaultBranch,
    gitDir: repo.dir,
    calls,
    harnessErrors,
    validationErrors,
    startup: { ms: 0, specCached: cached },
    store,
    resetCalls: () => void calls.splice(0),
    callsTo: (route) => calls.filter((c) => c.route === route || c.operationId === route),
    assertClean() {
      const all = [...harnessErrors, ...validationErrors];
      if (all.length > 0) throw new Error(`fake-github saw ${all.length} problem(s):\n${all.join("\n")}`);
    },
    inject: (f) => faults.add(f),
    clearFaults: () => faults.clear(),
    latency(ms) {
      faults.latencyMs = ms;
    },
    seedUser: (login, p) => void store.users.set(login, p),
    seedAdvisory: (a) => void store.advisories.push(a),
    seedLabel(name, color = "ededed", description = null) {
      const l = store.ensureLabel(name);
      l.color = color;
      l.description = description;
      return l;
    },
    seedComment(n, c) {
      const now = store.clock.now();
      const id = store.id();
      store.comments.set(id, { id, issue: n, body: c.body, user: c.user, createdAt: now, updatedAt: now });
      return id;
    },
    async seedReviewComment(pr, c) {
      const pull = store.issues.get(pr);
      if (!pull?.pull) throw new Error(`#${pr} is not a pull request`);
      const id = store.id();
      const commitId = (await repo.refSha(`refs/heads/${pull.pull.head}`)) ?? "0".repeat(40);
      store.reviewComments.set(id, { id, pull: pr, ...c, commitId, createdAt: store.clock.now() });
      return id;
    },
    seedIssue(s) {
      const now = store.clock.now();
      const closed = s.state === "closed";
      const i: IssueRec = {
        number: store.issueNumber(),
        id: store.id(),
        title: s.title,
        body: s.body ?? null,
        state: closed ? "closed" : "open",
        stateReason: s.stateReason ?? (closed ? "completed" : null),
        labels: (s.labels ?? []).map((n) => store.ensureLabel(n).id),
        assignees: s.assignees ?? [],
        user: s.user ?? "octocat",
        createdAt: now,
        updatedAt: now,
        closedAt: closed ? now : null,
        closedBy: closed ? (s.user ?? "octocat") : null,
        locked: false,
        deleted: false,
      };
      store.issues.set(i.number, i);
      return i;
    },
    deleteIssue: (n) => void (getIssue(n).deleted = true),
    issue: (n) => store.issues.get(n),
    labelsOf: (n) => store.labelNames(getIssue(n)),
    comments: (n) => store.commentsOf(n),
    reactions: () => [...store.reactions],
    reviewComments: (pr) =>
      [...store.reviewComments.values()].filter((c) => c.pull === pr).sort((a, b) => a.id - b.id),
    pulls: () => [...store.issues.values()].filter((i) => i.pull !== undefined),
    git: async (args, input) =>
      (await repo.git(args, input === undefined ? {} : { input })).stdout.toString("utf8"),
    branchSha: (b) => repo.refSha(`refs/heads/${b}`),
    async readFile(branch, filePath) {
      const data = await repo.readFile(`refs/heads/${branch}`, filePath);
      return data ? data.toString("utf8") : null;
    },
    async commitFile(branch, filePath, content, message = `Update ${filePath}`) {
      const ref = `refs/heads/${branch}`;
      return repo.locks.run(ref, async () => {
        const parent = (await repo.refSha(ref)) ?? (await repo.refSha(`refs/heads/${defaultBranch}`));
        const sha = await repo.commitChanges(
          parent,
          [{ path: filePath, content: Buffer.from(content) }],
          message,
        );
        if (!(await repo.casRef(ref, sha, (await repo.refSha(ref)) ?? null)))
          throw new Error(`fake-github: ${ref} moved during commitFile`);
        return sha;
      });
    },
    views: {
      issue: (n) => render.issue(site, store, getIssue(n)),
      async pull(n) {
        const p = getIssue(n);
        if (!p.pull) throw new Error(`fake-github: #${n} is not a pull request`);
        return renderPull(viewCtx(), p as Pull, true);
      },
      label(name) {
        const l = store.findLabel(name);
        if (!l) throw new Error(`fake-github: no label ${name}`);
        return render.label(site, l);
      },
      user: (login) => render.user(site, login),
      comment(id) {
        const c = store.comments.get(id);
        if (!c) throw new Error(`fake-github: no comment ${id}`);
        return render.comment(site, store, c);
      },
      reviewComment(id) {
        const c = store.reviewComments.get(id);
        if (!c) throw new Error(`fake-github: no review comment ${id}`);
        return render.reviewComment(site, store, c);
      },
      repository: () => render.repository(site, defaultBranch, "2024-01-01T00:00:00Z", "admin"),
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      repo.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  if (opts.seed) await opts.seed(fake);
  (fake.startup as { ms: number }).ms = Math.round(performance.now() - t0);
  return fake;
}

export type { Call, FaultSpec, ActiveFault, IssueRec, LabelRec, CommentRec, Permission };
