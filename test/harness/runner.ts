// Runner emulator: runs an action entry point (default: the committed bundle) as a child process
// with the environment and files the GitHub Actions runner provides, then parses what it wrote.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { type FakeGitHub, runGit } from "./fake-github.js";
import { inShared, sharedActionRoot } from "./shared-action.js";

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DEFAULT_ENTRY = path.join(PROJECT, "dist/index.js");
export const DEFAULT_ACTION_YML = path.join(PROJECT, "action.yml");
export const BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com";

export interface RunEvent {
  name: string;
  payload: Record<string, unknown>;
}

export interface RunActionOptions {
  /** Sets the `mode` input. */
  mode?: string;
  /** Input values by their action.yml name (`github-token`, `dry-run`). */
  inputs?: Record<string, string>;
  event: RunEvent;
  fake: FakeGitHub;
  /** Existing workspace; default: a fresh checkout (persist-credentials: false) of the fake's repo. */
  workspace?: string;
  /** Extra variables (e.g. ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, ANTHROPIC_*). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Script to run; default dist/index.js. */
  entry?: string;
  /** action.yml whose input defaults apply; default the project's (ignored when missing). */
  actionYml?: string;
  actor?: string;
  runId?: number;
  runAttempt?: number;
  job?: string;
  /** Runs the action as this OS user (the emulator's files are handed to it): a runner without root. */
  asUser?: { uid: number; gid: number };
  /** The runner's folders open to every local user (a HOME of mode 755, as some runners have). */
  worldReadable?: boolean;
  /** `RUNNER_NAME`; default a new `GitHub Actions <n>` for every run. */
  runnerName?: string;
  /** The node that runs the action (a runner's own, in its externals folder); default this process's. */
  node?: string;
  /** Sets up the runner's HOME before the step (a toolchain an earlier step installed); returns variables to add. */
  prepareHome?: (home: string) => Promise<Record<string, string> | void>;
}

export interface Annotation {
  level: "error" | "warning" | "notice";
  message: string;
  properties: Record<string, string>;
}

export interface ActionRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  /** Variables the step exported through GITHUB_ENV. */
  exportedEnv: Record<string, string>;
  /** Values saved through GITHUB_STATE (for a post step). */
  state: Record<string, string>;
  summary: string;
  annotations: Annotation[];
  durationMs: number;
  workspace: string;
  /** Temp root holding home, RUNNER_TEMP, the command files and (by default) the workspace. */
  root: string;
  /** The environment the child saw. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Test room users are named `aegt-…` so the suite's teardown finds and removes every one. */
export const TEST_ROOM_USER_PREFIX = "aegt-";

/**
 * The room user of one job: a hosted runner gives every job a fresh machine and its own
 * `RUNNER_NAME`, so the emulator gives every job its own runner name and with it its own room
 * user and folders — nothing that must survive from one job to the next can lean on either.
 */
export function roomUserFor(fake: FakeGitHub, runnerName: string): string {
  return `${TEST_ROOM_USER_PREFIX}${createHash("sha256").update(`${fake.url} ${runnerName}`).digest("hex").slice(0, 10)}`;
}

/** The room user the run was given. */
export function roomUserOf(run: ActionRun): string {
  return run.env.AEGIS_ROOM_USER ?? "";
}

/** Every room user handed to a run of this process (the demo removes them when it ends). */
export const roomUsersGiven = new Set<string>();

let jobs = 0;
/** `GitHub Actions <n>`, a new n for every job, as GitHub-hosted runners name theirs. */
function hostedRunnerName(): string {
  jobs += 1;
  return `GitHub Actions ${1 + ((process.pid * 7919 + jobs * 104729 + Math.floor(Math.random() * 1000)) % 1_000_000)}`;
}

/** `INPUT_<NAME>`: upper-cased, spaces to underscores, hyphens kept (as the runner does). */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

/** Parses the `name=value` / `name<<DELIM … DELIM` file format of GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line === "") continue;
    const heredoc = /^([^=]+?)<<(.+)$/.exec(line);
    const eq = line.indexOf("=");
    if (heredoc && (eq < 0 || line.indexOf("<<") < eq)) {
      const [, name = "", delim = ""] = heredoc;
      const body: string[] = [];
      i++;
      while (i < lines.length && lines[i] !== delim) body.push(lines[i++] ?? "");
      if (i >= lines.length) throw new Error(`command file: no closing delimiter ${delim} for ${name}`);
      out[name] = body.join("\n");
    } else if (eq > 0) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
    } else {
      throw new Error(`command file: cannot parse line ${JSON.stringify(line)}`);
    }
  }
  return out;
}

const unescapeData = (s: string) => s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
const unescapeProp = (s: string) => unescapeData(s).replace(/%3A/g, ":").replace(/%2C/g, ",");

/** `::error file=a,line=1::message` workflow commands in stdout. */
export function parseAnnotations(stdout: string): Annotation[] {
  const found: Annotation[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!m) continue;
    const properties: Record<string, string> = {};
    for (const kv of (m[2] ?? "").split(",").filter(Boolean)) {
      const i = kv.indexOf("=");
      if (i > 0) properties[kv.slice(0, i)] = unescapeProp(kv.slice(i + 1));
    }
    found.push({ level: m[1] as Annotation["level"], message: unescapeData(m[3] ?? ""), properties });
  }
  return found;
}

/** Input defaults from action.yml, with the `${{ … }}` expressions the runner would evaluate. */
export async function actionDefaults(
  file: string,
  context: Record<string, string>,
): Promise<Record<string, string>> {
  if (!existsSync(file)) return {};
  const doc = parseYaml(await readFile(file, "utf8")) as {
    inputs?: Record<string, { default?: unknown }>;
  } | null;
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(doc?.inputs ?? {})) {
    if (spec?.default === undefined || spec.default === null) continue;
    out[name] = String(spec.default).replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (whole, expr: string) => {
      if (!(expr in context))
        throw new Error(`runner emulator: cannot evaluate ${whole} in the default of input ${name}`);
      return context[expr] ?? "";
    });
  }
  return out;
}

/** actions/checkout with persist-credentials: false — a plain clone, nothing stored in .git/config. */
export async function checkout(fake: FakeGitHub, dir: string, ref = fake.defaultBranch): Promise<string> {
  await runGit(path.dirname(dir), ["clone", "--quiet", "--branch", ref, fake.cloneUrl, dir]);
  await runGit(dir, ["config", "user.name", "github-actions[bot]"]);
  await runGit(dir, ["config", "user.email", BOT_EMAIL]);
  return dir;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

export async function runAction(opts: RunActionOptions): Promise<ActionRun> {
  const { fake } = opts;
  const root = await mkdtemp(path.join(os.tmpdir(), "aegis-runner-"));
  const dirs = {
    home: path.join(root, "home"),
    temp: path.join(root, "runner-temp"),
    tools: path.join(root, "tool-cache"),
    files: path.join(root, "files"),
  };
  await Promise.all(Object.values(dirs).map((d) => mkdir(d, { recursive: true })));
  const workspace = opts.workspace ?? (await checkout(fake, path.join(root, "workspace")));
  const files = {
    GITHUB_OUTPUT: path.join(dirs.files, "output"),
    GITHUB_ENV: path.join(dirs.files, "env"),
    GITHUB_STATE: path.join(dirs.files, "state"),
    GITHUB_PATH: path.join(dirs.files, "path"),
    GITHUB_STEP_SUMMARY: path.join(dirs.files, "step_summary"),
  };
  await Promise.all(Object.values(files).map((f) => writeFile(f, "")));
  const eventPath = path.join(dirs.files, "event.json");
  await writeFile(eventPath, JSON.stringify(opts.event.payload, null, 2));

  // Another runner user reads the action where it can reach it (a clone in a HOME of mode 700).
  const shared = opts.asUser ? await sharedActionRoot() : undefined;
  const reach = (p: string) => (shared ? inShared(shared, p) : p);
  const entry = reach(opts.entry ?? DEFAULT_ENTRY);
  const runnerName = opts.runnerName ?? hostedRunnerName();
  const sha = (await fake.branchSha(fake.defaultBranch)) ?? "";
  const repository = `${fake.owner}/${fake.repo}`;
  const context: Record<string, string> = {
    "github.token": fake.token,
    "github.repository": repository,
    "github.server_url": fake.url,
    "github.api_url": fake.url,
    "github.workspace": workspace,
    "runner.temp": dirs.temp,
  };
  const inputs = {
    ...(await actionDefaults(opts.actionYml ?? DEFAULT_ACTION_YML, context)),
    ...(opts.mode ? { mode: opts.mode } : {}),
    ...(opts.inputs ?? {}),
  };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dirs.home,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: opts.event.name,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: repository,
    GITHUB_REPOSITORY_OWNER: fake.owner,
    GITHUB_WORKSPACE: workspace,
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: fake.url,
    GITHUB_GRAPHQL_URL: `${fake.url}/graphql`,
    GITHUB_RUN_ID: String(opts.runId ?? 1000 + Math.floor(Math.random() * 9000)),
    GITHUB_RUN_ATTEMPT: String(opts.runAttempt ?? 1),
    GITHUB_RUN_NUMBER: "1",
    GITHUB_JOB: opts.job ?? "aegis",
    GITHUB_ACTION: "__aegis",
    GITHUB_ACTION_PATH: path.dirname(path.dirname(path.resolve(entry))),
    GITHUB_ACTOR: opts.actor ?? "octocat",
    GITHUB_WORKFLOW: "aegis",
    GITHUB_SHA: sha,
    GITHUB_REF: `refs/heads/${fake.defaultBranch}`,
    GITHUB_REF_NAME: fake.defaultBranch,
    RUNNER_TEMP: dirs.temp,
    RUNNER_TOOL_CACHE: dirs.tools,
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_NAME: runnerName,
    // One room user per job, named after the fake and the job's runner: tests in parallel never
    // reap each other's rooms, and a task's next attempt works in another room (as on hosted runners).
    AEGIS_ROOM_USER: roomUserFor(fake, runnerName),
    ...files,
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [inputEnvName(k), reach(v)])),
    ...(opts.env ?? {}),
    ...((await opts.prepareHome?.(dirs.home)) ?? {}),
  };
  roomUsersGiven.add(env.AEGIS_ROOM_USER!);

  if (opts.worldReadable) await chmod(root, 0o755);
  if (opts.asUser) {
    const { uid, gid } = opts.asUser;
    await new Promise<void>((resolve, reject) =>
      spawn("chown", ["-R", `${uid}:${gid}`, root], { stdio: "ignore" }).once("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`chown of ${root} exited ${code}`)),
      ),
    );
  }
  const started = performance.now();
  const result = await new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    timedOut: boolean;
  }>((resolve, reject) => {
    // detached: own process group, so a timeout kills the action and everything it spawned.
    const child = spawn(opts.node ?? process.execPath, [entry], {
      cwd: workspace,
      env,
      detached: true,
      ...(opts.asUser ? { uid: opts.asUser.uid, gid: opts.asUser.gid } : {}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, opts.timeoutMs ?? 120_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`runner emulator: cannot start ${entry}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // Reap grandchildren the action left behind in its group.
      killGroup(child.pid);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
  });
  const read = (f: string) => readFile(f, "utf8").catch(() => "");
  return {
    exitCode: result.code,
    signal: result.signal,
    timedOut: result.timedOut,
    stdout: result.stdout,
    stderr: result.stderr,
    outputs: parseCommandFile(await read(files.GITHUB_OUTPUT)),
    exportedEnv: parseCommandFile(await read(files.GITHUB_ENV)),
    state: parseCommandFile(await read(files.GITHUB_STATE)),
    summary: await read(files.GITHUB_STEP_SUMMARY),
    annotations: parseAnnotations(result.stdout),
    durationMs: Math.round(performance.now() - started),
    workspace,
    root,
    env,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

// ---- Event payloads built from the fake's current state ----

function base(fake: FakeGitHub, sender: string): Record<string, unknown> {
  return { repository: fake.views.repository(), sender: fake.views.user(sender) };
}

export function issueLabeledEvent(
  fake: FakeGitHub,
  issueNumber: number,
  label: string,
  sender = "octocat",
): RunEvent {
  return {
    name: "issues",
    payload: {
      action: "labeled",
      issue: fake.views.issue(issueNumber),
      label: fake.views.label(label),
      ...base(fake, sender),
    },
  };
}

export async function pullRequestLabeledEvent(
  fake: FakeGitHub,
  pullNumber: number,
  label: string,
  sender = "octocat",
): Promise<RunEvent> {
  const pr = await fake.views.pull(pullNumber);
  return {
    name: "pull_request",
    payload: {
      action: "labeled",
      number: pullNumber,
      pull_request: pr,
      label: fake.views.label(label),
      ...base(fake, sender),
    },
  };
}

/** `pull_request: closed`, after the fake merged or closed the PR (the payload says which). */
export async function pullRequestClosedEvent(
  fake: FakeGitHub,
  pullNumber: number,
  sender = "octocat",
): Promise<RunEvent> {
  const pr = await fake.views.pull(pullNumber);
  return {
    name: "pull_request",
    payload: { action: "closed", number: pullNumber, pull_request: pr, ...base(fake, sender) },
  };
}

/** `issue_comment: created` for conversation comment `commentId` on pull request `pr`. */
export async function prCommentEvent(
  fake: FakeGitHub,
  pr: number,
  commentId: number,
  sender: string,
): Promise<RunEvent> {
  const pull = await fake.views.pull(pr);
  // The issue side of a PR, as GitHub sends it: an issue with a `pull_request` key.
  const issue = {
    ...fake.views.issue(pr),
    pull_request: {
      url: pull.url,
      html_url: pull.html_url,
      diff_url: pull.diff_url,
      patch_url: pull.patch_url,
      merged_at: null,
    },
  };
  return {
    name: "issue_comment",
    payload: {
      action: "created",
      issue,
      // The webhook's comment carries `performed_via_github_app` (null for a person); REST's may not.
      comment: { ...fake.views.comment(commentId), performed_via_github_app: null },
      ...base(fake, sender),
    },
  };
}

/** `pull_request_review_comment: created` for inline comment `commentId` on pull request `pr`. */
export async function reviewCommentEvent(
  fake: FakeGitHub,
  pr: number,
  commentId: number,
  sender: string,
): Promise<RunEvent> {
  return {
    name: "pull_request_review_comment",
    payload: {
      action: "created",
      pull_request: await fake.views.pull(pr),
      // A single-line comment: the webhook names the multi-line fields, as null.
      comment: {
        ...fake.views.reviewComment(commentId),
        start_line: null,
        original_start_line: null,
        start_side: null,
      },
      ...base(fake, sender),
    },
  };
}

/** `pull_request_review: submitted`: a review (not stored by the fake) whose body is `body`. */
export async function reviewSubmittedEvent(
  fake: FakeGitHub,
  pr: number,
  review: { id: number; user: string; body: string; state?: "commented" | "changes_requested" | "approved" },
): Promise<RunEvent> {
  const pull = await fake.views.pull(pr);
  const html = `${String(pull.html_url)}#pullrequestreview-${review.id}`;
  return {
    name: "pull_request_review",
    payload: {
      action: "submitted",
      pull_request: pull,
      review: {
        id: review.id,
        node_id: `PRR_${review.id}`,
        user: fake.views.user(review.user),
        body: review.body,
        commit_id: (pull.head as { sha: string }).sha,
        submitted_at: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        state: review.state ?? "commented",
        html_url: html,
        pull_request_url: pull.url,
        author_association: "MEMBER",
        _links: { html: { href: html }, pull_request: { href: pull.url } },
      },
      ...base(fake, review.user),
    },
  };
}

export function scheduleEvent(fake: FakeGitHub, cron = "17 * * * *"): RunEvent {
  return {
    name: "schedule",
    payload: { schedule: cron, workflow: ".github/workflows/aegis.yml", repository: fake.views.repository() },
  };
}

export function workflowDispatchEvent(
  fake: FakeGitHub,
  inputs: Record<string, string> = {},
  sender = "octocat",
): RunEvent {
  return {
    name: "workflow_dispatch",
    payload: {
      inputs,
      ref: `refs/heads/${fake.defaultBranch}`,
      workflow: ".github/workflows/aegis.yml",
      ...base(fake, sender),
    },
  };
}

export { validateWebhookPayload } from "./fake-github/webhooks.js";
