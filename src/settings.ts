// Every input and the run's context, read once, validated, typed and frozen. No other module
// calls core.getInput or reads GITHUB_* variables.
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as core from "@actions/core";
import { z } from "zod";
import { type Config, ConfigError, deepFreeze, parseConfig } from "./config.js";

export const MODES = ["plan", "run", "review", "digest"] as const;
export type Mode = (typeof MODES)[number];

/** Input names as action.yml spells them, keyed by their camelCase name in code. */
export const INPUT_NAMES = {
  mode: "mode",
  task: "task",
  githubToken: "github-token",
  anthropicApiKey: "anthropic-api-key",
  anthropicBaseUrl: "anthropic-base-url",
  openaiApiKey: "openai-api-key",
  openaiBaseUrl: "openai-base-url",
  configPath: "config-path",
  stateBranch: "state-branch",
  claudeVersion: "claude-version",
  claudeExecutable: "claude-executable",
  codexVersion: "codex-version",
  codexExecutable: "codex-executable",
  model: "model",
  reviewModel: "review-model",
  dryRun: "dry-run",
} as const;

const semver = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const optionalUrl = (hint: string) =>
  z
    .string()
    .refine((v) => v === "" || /^https?:\/\/[^\s]+$/.test(v), { error: `expected an http(s) URL ${hint}` });
// Branch names go on git command lines and into API paths: keep them to a safe alphabet.
const branchName = z
  .string()
  .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}$/, { error: "expected a branch name" });

const inputsSchema = z.object({
  mode: z.enum(MODES, { error: `expected one of ${MODES.join(", ")}` }),
  task: z
    .string()
    .regex(/^$|^[0-9]+-[0-9]+$/, { error: "expected a task id from the plan's `tasks` output, like 42-7" }),
  githubToken: z.string().min(1, { error: "expected a token (the default is the workflow's github.token)" }),
  anthropicApiKey: z.string(),
  anthropicBaseUrl: optionalUrl("(the API root, without /v1)").refine((v) => !/\/v1\/?$/.test(v), {
    error: "expected the API root without /v1 (as ANTHROPIC_BASE_URL takes it)",
  }),
  openaiApiKey: z.string(),
  openaiBaseUrl: optionalUrl("ending in /v1").refine((v) => v === "" || /\/v1\/?$/.test(v), {
    error: "expected a URL ending in /v1 (as a Codex provider's base_url)",
  }),
  configPath: z
    .string()
    .min(1)
    .refine((v) => !v.startsWith("/") && !v.split("/").includes(".."), {
      error: "expected a path inside the repository",
    }),
  stateBranch: branchName,
  claudeVersion: z.string().regex(semver, { error: "expected an exact version like 2.1.330" }),
  claudeExecutable: z.string(),
  codexVersion: z.string().regex(semver, { error: "expected an exact version like 0.169.0" }),
  codexExecutable: z.string(),
  model: z.string().regex(/^[A-Za-z0-9._:@/-]*$/, { error: "expected a model name" }),
  reviewModel: z.string().regex(/^[A-Za-z0-9._:@/-]*$/, { error: "expected a model name" }),
  dryRun: z
    .enum(["true", "false", "True", "False", "TRUE", "FALSE"], { error: "expected true or false" })
    .transform((v) => v.toLowerCase() === "true"),
});
export type Inputs = z.output<typeof inputsSchema>;

export interface RunContext {
  owner: string;
  repo: string;
  eventName: string;
  payload: Record<string, unknown>;
  runId: string;
  runAttempt: number;
  workspace: string;
  apiUrl: string;
  serverUrl: string;
  runnerTemp: string;
  toolCache: string;
  /** Root of the action itself, where hooks/ lives. */
  actionPath: string;
}

export interface Settings extends Inputs {
  readonly context: Readonly<RunContext>;
  readonly config: Config;
}

export class InputError extends Error {
  override name = "InputError";
}

/** Reads and validates the inputs; `get` is core.getInput in the action, a map in tests. */
export function readInputs(get: (name: string) => string): Inputs {
  const raw: Record<string, string> = {};
  for (const [key, name] of Object.entries(INPUT_NAMES)) raw[key] = get(name).trim();
  if (raw.dryRun === "") raw.dryRun = "false";
  const result = inputsSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof typeof INPUT_NAMES;
      const value = key.endsWith("ApiKey") || key === "githubToken" ? "(hidden)" : JSON.stringify(raw[key]);
      return `input \`${INPUT_NAMES[key] ?? key}\`: ${issue.message}, got ${value}`;
    });
    throw new InputError(`Invalid inputs:\n  ${lines.join("\n  ")}`);
  }
  const inputs = result.data;
  if (["run", "review"].includes(inputs.mode) && inputs.task === "") {
    throw new InputError(
      `input \`task\`: mode ${inputs.mode} needs a task id (pass \${{ matrix.task }} from the plan's \`tasks\` output)`,
    );
  }
  return inputs;
}

export function readContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const repository = env.GITHUB_REPOSITORY ?? "";
  const [owner, repo] = repository.split("/");
  if (!owner || !repo)
    throw new InputError(`GITHUB_REPOSITORY must be owner/name, got ${JSON.stringify(repository)}`);
  let payload: Record<string, unknown> = {};
  if (env.GITHUB_EVENT_PATH) {
    try {
      payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new InputError(
        `Could not read the event payload at GITHUB_EVENT_PATH (${(error as Error).message})`,
        { cause: error },
      );
    }
  }
  const here = dirname(fileURLToPath(import.meta.url));
  return {
    owner,
    repo,
    eventName: env.GITHUB_EVENT_NAME ?? "workflow_dispatch",
    payload,
    runId: env.GITHUB_RUN_ID ?? "0",
    runAttempt: Number(env.GITHUB_RUN_ATTEMPT ?? "1") || 1,
    workspace: resolve(env.GITHUB_WORKSPACE ?? process.cwd()),
    apiUrl: env.GITHUB_API_URL ?? "https://api.github.com",
    serverUrl: env.GITHUB_SERVER_URL ?? "https://github.com",
    runnerTemp: env.RUNNER_TEMP ?? tmpdir(),
    toolCache: env.RUNNER_TOOL_CACHE ?? join(tmpdir(), "aegis-tool-cache"),
    // The bundle is dist/index.js; the action's root is one level up.
    actionPath: env.GITHUB_ACTION_PATH ?? resolve(here, ".."),
  };
}

/**
 * The config file is read from the checked-out workspace. `fetchFromRepo` is the fallback for
 * a job that did not check out (it costs one API call); it returns undefined when absent.
 */
export async function loadConfig(
  workspace: string,
  configPath: string,
  fetchFromRepo: () => Promise<string | undefined>,
): Promise<Config> {
  let text: string | undefined;
  try {
    text = readFileSync(join(workspace, configPath), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    let isCheckout = true;
    try {
      readFileSync(join(workspace, ".git", "HEAD"));
    } catch {
      isCheckout = false;
    }
    text = isCheckout ? undefined : await fetchFromRepo();
  }
  if (text === undefined) core.info(`No ${configPath}: using the defaults.`);
  try {
    return parseConfig(text, configPath);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`Could not load ${configPath}: ${(error as Error).message}`, { cause: error });
  }
}

export function makeSettings(inputs: Inputs, context: RunContext, config: Config): Settings {
  for (const secret of [inputs.githubToken, inputs.anthropicApiKey, inputs.openaiApiKey])
    if (secret) core.setSecret(secret);
  return deepFreeze({ ...inputs, context, config });
}

/**
 * Every credential this job holds: the inputs' token and keys, and the runner's own tokens (the
 * cache/artifact runtime token, the OIDC request token). Nothing the agent's room receives may
 * hold one of them; what the agent pushes may not either.
 */
export function jobSecrets(
  settings: Pick<Inputs, "githubToken" | "anthropicApiKey" | "openaiApiKey">,
  env = process.env,
): string[] {
  return [
    settings.githubToken,
    settings.anthropicApiKey,
    settings.openaiApiKey,
    env.ACTIONS_RUNTIME_TOKEN,
    env.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
  ].filter((s): s is string => typeof s === "string" && s.length > 0);
}
