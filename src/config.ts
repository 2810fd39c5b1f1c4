// The repository's `.github/aegis.yml`: one zod schema is the single source of truth for
// validation, defaults, the committed JSON Schema (schema/aegis.schema.json) and the README's
// configuration reference.
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { DEFAULT_EGRESS, parseEgressEntry } from "./core/egress.js";

const posInt = (what = "a positive integer") =>
  z.int({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const nonNegInt = (what = "a non-negative integer") =>
  z.int({ error: `expected ${what}` }).min(0, { error: `expected ${what}` });
const usd = () =>
  z
    .number({ error: "expected an amount in USD (a number ≥ 0)" })
    .min(0, { error: "expected an amount in USD (a number ≥ 0)" });
const label = () =>
  z
    .string({ error: "expected a label name" })
    .trim()
    .min(1, { error: "expected a non-empty label name" })
    .max(50, { error: "expected a label name of at most 50 characters (GitHub's limit)" });
const labelList = () => z.array(label(), { error: "expected a list of label names" });

/** Authority tiers, least restrictive first: the most restrictive of an issue's mapped labels wins. */
export const AUTHORITIES = ["auto_safe", "proposed"] as const;
export type Authority = (typeof AUTHORITIES)[number];

const category = () =>
  z.string({ error: "expected a category name" }).regex(/^[a-z0-9][a-z0-9-]{0,30}$/, {
    error: "expected a category of lowercase letters, digits and dashes (it becomes part of a branch name)",
  });

const labelRule = z.strictObject({
  category: category(),
  authority: z.enum(AUTHORITIES, { error: `expected one of ${AUTHORITIES.join(", ")}` }),
});

export const DEFAULT_LABEL_MAP: Readonly<Record<string, z.infer<typeof labelRule>>> = {
  bug: { category: "bugfix", authority: "proposed" },
  enhancement: { category: "feature", authority: "proposed" },
  documentation: { category: "docs", authority: "auto_safe" },
  test: { category: "tests", authority: "auto_safe" },
  research: { category: "research", authority: "auto_safe" },
  refactor: { category: "refactor", authority: "auto_safe" },
};

const caps = z.strictObject({
  pendingPerRepo: posInt().default(5).describe("Most tasks awaiting approval, queued or running at once."),
  running: posInt().default(2).describe("Most tasks running at once."),
});

const run = z.strictObject({
  maxTurns: posInt()
    .default(25)
    .describe("Turn limit of a session; raised to 40/50 when the issue names a file over 800/1,500 lines."),
  timeoutMinutes: posInt()
    .default(30)
    .describe("Wall-clock limit of a session; the process group is killed."),
  maxAttempts: posInt().default(2).describe("Attempts per task, counting retries of transient failures."),
  testCommand: z
    .string({ error: "expected a shell command" })
    .default("")
    .describe("Run on the base and the branch; a pass→fail regression opens no PR."),
  protectedPaths: z
    .array(z.string({ error: "expected a path glob" }).min(1), { error: "expected a list of path globs" })
    .default([])
    .describe("Globs the change may not touch, added to the built-in list."),
  instructionChanges: z
    .enum(["refuse", "flag"], { error: "expected `refuse` or `flag`" })
    .default("refuse")
    .describe(
      "A change to the repository's instructions for agents (AGENTS.md, CLAUDE.md, .github/copilot-instructions.md, .github/instructions/): `refuse` opens no PR; `flag` opens it with the change named in its body and the `aegis:instructions-changed` label. Sessions and reviews read the default branch's version either way.",
    ),
  transcript: z
    .boolean({ error: "expected true or false" })
    .default(true)
    .describe(
      "Upload each session's transcript (secrets masked) as a workflow artifact, linked from the PR, the status comment and the step summary. Anyone who can read the repository can download it.",
    ),
  maxChangedFiles: posInt()
    .default(100)
    .describe("Most files a change may touch before the push is refused."),
  maxDiffBytes: posInt()
    .default(1_000_000)
    .describe("Largest diff (bytes) a change may have before the push is refused."),
  sandbox: z
    .enum(["user", "none"], { error: "expected `user` (the agent's own OS user) or `none`" })
    .default("user")
    .describe(
      "`user`: the agent, its tools, the test command and the review run as a separate unprivileged OS user that cannot read the action's credentials; `none`: they share the runner's user (only where the room cannot be built).",
    ),
  egress: z
    .array(
      z
        .string({ error: 'expected a host, host:port, [IPv6]:port or "*"' })
        .refine((s) => s === "*" || parseEgressEntry(s) !== undefined, {
          error: 'expected a host, host:port, [IPv6]:port or "*"',
        }),
      { error: 'expected a list of hosts (host, host:port, [IPv6]:port) or ["*"]' },
    )
    .default([...DEFAULT_EGRESS])
    .describe(
      'Where the agent\'s room may connect besides its model and loopback (kernel-enforced, names resolved when the step starts); `"*"` lifts the limit. Cloud metadata addresses are never reachable.',
    ),
  verifiedCommits: z
    .boolean({ error: "expected true or false" })
    .default(false)
    .describe(
      "Publish the agent's commits through the REST API (blobs, tree, commit, ref), which GitHub signs: they show as Verified and pass a rule that requires signed commits. Costs API calls per commit and file.",
    ),
  draft: z
    .boolean({ error: "expected true or false" })
    .default(false)
    .describe("Open the pull request as a draft."),
});

const budgets = z.strictObject({
  perTaskUsd: usd().default(5).describe("Cost cap of one session (0 = none)."),
  dailyUsd: usd().default(0).describe("Spend per UTC day for the repository (0 = no limit)."),
  monthlyUsd: usd().default(0).describe("Spend per UTC month for the repository (0 = no limit)."),
});

const review = z.strictObject({
  maxFindings: posInt().default(5).describe("Most findings listed in the review comment."),
  timeoutMinutes: posInt().default(10).describe("Wall-clock limit of the Codex review."),
  autoFix: nonNegInt()
    .default(0)
    .describe("Fix rounds that start by themselves after a CRITICAL review (0 = only on `fixLabel`)."),
  maxFixRounds: nonNegInt()
    .default(3)
    .describe("Most fix rounds of a task, by label or by themselves; the label is refused after that."),
});

const shepherd = z.strictObject({
  command: z
    .string({ error: "expected a command word such as /aegis" })
    .regex(/^\/[A-Za-z0-9_-]+$/, { error: "expected a slash and a word, such as /aegis" })
    .default("/aegis")
    .describe(
      "A comment on an aegis PR whose first line starts with this, by someone with write permission, starts a fix round carrying the request.",
    ),
});

const breaker = z.strictObject({
  threshold: posInt()
    .default(3)
    .describe("Consecutive infrastructure failures (auth, API) that stop claiming."),
});

export const configSchema = z
  .strictObject({
    triggerLabel: label().default("aegis").describe("Label that asks aegis to work on an issue."),
    approvalLabel: label()
      .default("aegis-approved")
      .describe("Label by which a maintainer approves proposed work."),
    revertLabel: label()
      .default("aegis-revert")
      .describe("Label on a merged aegis PR that opens a revert PR."),
    fixLabel: label()
      .default("aegis-fix")
      .describe("Label on an open aegis PR that sends it back to the agent with the review's findings."),
    labels: z
      .record(label(), labelRule, { error: "expected a map of label → { category, authority }" })
      .default({ ...DEFAULT_LABEL_MAP })
      .describe("Label → category and authority; replaces the default map."),
    skipLabels: labelList()
      .default(["wishlist", "roadmap", "epic", "blocked", "in-progress"])
      .describe("Issues carrying any of these are not taken."),
    priorityLabels: labelList()
      .default(["priority:critical", "priority:high", "priority:low"])
      .describe("Queue order, highest first; an unlabeled issue sits between the last two."),
    minBodyLength: nonNegInt().default(20).describe("Shortest issue body (characters) worth a session."),
    allowedBots: labelList().default([]).describe("Bot accounts (login) whose trigger labels count."),
    caps: caps.default(caps.parse({})),
    run: run.default(run.parse({})),
    budgets: budgets.default(budgets.parse({})),
    review: review.default(review.parse({})),
    shepherd: shepherd.default(shepherd.parse({})),
    breaker: breaker.default(breaker.parse({})),
    models: z
      .record(z.string().min(1), z.string({ error: "expected a model name" }).min(1), {
        error: "expected a map of category (or `default`) → model name",
      })
      .default({})
      .describe("Claude model per category, with `default` for the rest; the `model` input overrides all."),
  })
  .describe("aegis configuration (.github/aegis.yml)");

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Thrown for any configuration problem; the message names the field and the expected form. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function describeInput(input: unknown): string {
  if (input === undefined) return "nothing";
  const text = JSON.stringify(input);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `caps.pendingPerRepo: expected a positive integer, got "five"` — one line per problem. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], file: string): string {
  const lines = issues.map((issue) => {
    const where = issue.path.length ? issue.path.join(".") : "(top level)";
    if (issue.code === "unrecognized_keys") {
      return `${where}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    }
    const got = "input" in issue ? `, got ${describeInput(issue.input)}` : "";
    return `${where}: ${issue.message}${got}`;
  });
  return `Invalid configuration in ${file}:\n  ${lines.join("\n  ")}`;
}

/** Parses and validates the config file's text; an empty or absent file means all defaults. */
export function parseConfig(text: string | undefined, file = ".github/aegis.yml"): Config {
  let raw: unknown = {};
  if (text !== undefined && text.trim() !== "") {
    try {
      raw = parseYaml(text, { prettyErrors: true, maxAliasCount: 100 });
    } catch (error) {
      const detail = error instanceof YAMLParseError ? error.message.split("\n")[0] : String(error);
      throw new ConfigError(`Invalid configuration in ${file}: not valid YAML (${detail})`, { cause: error });
    }
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(
      `Invalid configuration in ${file}: expected a mapping of keys at the top level, got ${describeInput(raw)}`,
    );
  }
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, file));
  const config = result.data;
  for (const [name, value] of Object.entries({
    triggerLabel: config.triggerLabel,
    approvalLabel: config.approvalLabel,
  })) {
    if (config.labels[value] !== undefined) {
      throw new ConfigError(
        `Invalid configuration in ${file}:\n  ${name}: "${value}" is also in labels; use a label of its own`,
      );
    }
  }
  return deepFreeze(config);
}

/** The JSON Schema committed as schema/aegis.schema.json (editors use it for completion). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
