// Fix rounds, end to end through the real bundle, the real `claude` and `codex` CLIs and the fake
// GitHub: a CRITICAL review, then `aegis-fix` by a maintainer → the fix round's brief carries the
// finding, the same PR gains the fix commit, the re-review is clean and edits its comment in
// place, `needs-fix` is gone. The same label from a reader starts nothing; `review.autoFix: 1`
// runs one round by itself and then stops; `review.maxFixRounds` refuses the next round.
import { afterEach, describe, expect, it } from "vitest";
import { claudeBin, type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { codexBin, type FakeOpenAI, startFakeOpenAI, structuredReviewAnswer } from "./harness/fake-openai.js";
import {
  type ActionRun,
  pullRequestLabeledEvent,
  runAction,
  scheduleEvent,
  workflowDispatchEvent,
} from "./harness/runner.js";
import { addLabelAs, expectSuccess, ledgerOf, openIssue, planOnLabel } from "./harness/scenario.js";

const ANTHROPIC_KEY = "sk-ant-api03-fixRoundsKey0123456789";
const OPENAI_KEY = "sk-fix-rounds-0123456789";
const FINDING = "Do not eval caller input";

let fake: FakeGitHub | undefined;
let model: FakeAnthropic | undefined;
let openai: FakeOpenAI | undefined;
const runs: ActionRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
  await Promise.all([fake?.close(), model?.close(), openai?.close()]);
  fake = model = openai = undefined;
});

const bash = (command: string): Turn => ({
  toolUses: [{ name: "Bash", input: { command, description: "step" } }],
});
const commit = (file: string, text: string, message: string): Turn =>
  bash(`printf '${text}\\n' > ${file} && git add ${file} && git commit -q -m '${message}'`);

/** What the model is asked to review next: CRITICAL, or clean. */
let verdict: "critical" | "clean" = "critical";

async function setup(config: string) {
  fake = await startFakeGitHub({
    users: { maya: "maintain", rick: "read" },
    files: { ...DEFAULT_FILES, ".github/aegis.yml": config },
  });
  model = await startFakeAnthropic((ctx) => {
    const sent = JSON.stringify(ctx.request.messages);
    if (sent.includes("## Fix round"))
      return ctx.step === 0
        ? commit("calc.js", "module.exports = Number", "Parse, never eval")
        : { text: "Fixed.\nTASK_COMPLETE" };
    return ctx.step === 0
      ? commit("calc.js", "module.exports = eval", "Add the calculator")
      : { text: "Done.\nTASK_COMPLETE" };
  });
  openai = await startFakeOpenAI(() => ({
    text: structuredReviewAnswer(
      verdict === "critical" ? [{ title: FINDING, priority: 0, file: "calc.js", line: 1 }] : [],
    ),
  }));
  const n = openIssue(fake, {
    title: "Add a calculator module",
    body: "Add calc.js that turns a string of arithmetic into a number.",
    labels: ["documentation"],
    by: "maya",
  });
  const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
  runs.push(planned);
  const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
  return { n, taskId };
}

async function step(mode: "run" | "review", taskId: string): Promise<ActionRun> {
  const run = await runAction({
    mode,
    inputs: {
      task: taskId,
      "claude-executable": claudeBin(),
      "anthropic-base-url": model!.url,
      "anthropic-api-key": ANTHROPIC_KEY,
      "codex-executable": codexBin(),
      "openai-base-url": openai!.url,
      "openai-api-key": OPENAI_KEY,
    },
    event: workflowDispatchEvent(fake!),
    fake: fake!,
    env: { CLAUDE_CODE_MAX_RETRIES: "0" },
    timeoutMs: 150_000,
  });
  runs.push(run);
  return expectSuccess(run);
}

/** `aegis-fix` added to the PR by `login`, and the plan run its event starts. */
async function fixLabel(pr: number, login: string): Promise<ActionRun> {
  addLabelAs(fake!, pr, "aegis-fix", login);
  const run = await runAction({
    mode: "plan",
    event: await pullRequestLabeledEvent(fake!, pr, "aegis-fix", login),
    fake: fake!,
  });
  runs.push(run);
  return expectSuccess(run);
}

const taskOf = async (id: string) => (await ledgerOf(fake!)).tasks.find((t) => t.id === id)!;
const reviewComments = (pr: number) => fake!.comments(pr).filter((c) => c.body.includes("aegis:review"));

describe("fix rounds", () => {
  it("a maintainer's aegis-fix sends the PR back: the brief carries the finding, the same PR gains the fix, the re-review edits its comment and needs-fix goes", async () => {
    verdict = "critical";
    const { n, taskId } = await setup("run:\n  maxTurns: 4\n");
    await step("run", taskId);
    const pr = fake!.pulls()[0]!.number;
    const firstHead = (await fake!.branchSha(`auto/docs/${taskId}`))!;
    await step("review", taskId);
    expect(fake!.labelsOf(pr)).toContain("needs-fix");
    expect((await taskOf(taskId)).review?.notes).toEqual([expect.stringContaining(FINDING)]);

    // A reader's label starts nothing: removed, with a comment.
    const refused = await fixLabel(pr, "rick");
    expect(JSON.parse(refused.outputs.tasks ?? "[]")).toEqual([]);
    expect((await taskOf(taskId)).state).toBe("reviewed");
    expect(fake!.labelsOf(pr)).not.toContain("aegis-fix");
    expect(fake!.comments(pr).some((c) => c.body.includes("@rick added `aegis-fix`"))).toBe(true);

    // Inline comments on the diff: the maintainer's reaches the round's brief with its place; a
    // reader's does not.
    await fake!.seedReviewComment(pr, { user: "maya", path: "calc.js", line: 1, body: "Use Number here" });
    await fake!.seedReviewComment(pr, { user: "rick", path: "calc.js", line: 1, body: "Ship it as is" });
    // The maintainer's label queues and claims the round.
    const claimed = await fixLabel(pr, "maya");
    expect(JSON.parse(claimed.outputs.tasks ?? "[]")).toEqual([taskId]);
    expect(fake!.labelsOf(pr)).not.toContain("aegis-fix");
    verdict = "clean";
    await step("run", taskId);
    const sent = JSON.stringify(model!.requests.at(-1)?.messages ?? []);
    expect(sent).toContain("Fix round 1 of 3");
    expect(sent).toContain(FINDING);
    expect(sent).toContain("@maya: (on calc.js:1) Use Number here");
    expect(sent).not.toContain("Ship it as is");

    // The same PR, one commit more on the same branch (no force push), its body says the round.
    expect(fake!.pulls()).toHaveLength(1);
    const head = (await fake!.branchSha(`auto/docs/${taskId}`))!;
    expect((await fake!.git(["rev-list", "--count", `${firstHead}..${head}`])).trim()).toBe("1");
    expect(
      (await fake!.git(["merge-base", "--is-ancestor", firstHead, head]).then(() => true)) as boolean,
    ).toBe(true);
    expect(await fake!.readFile(`auto/docs/${taskId}`, "calc.js")).toBe("module.exports = Number\n");
    expect(fake!.pulls()[0]!.body).toContain("fix round 1 of 3");
    let task = await taskOf(taskId);
    expect(task.state).toBe("pr-open");
    expect(task.attempts.at(-1)?.fixRound).toBe(1);

    await step("review", taskId);
    expect(reviewComments(pr)).toHaveLength(1);
    expect(fake!.labelsOf(pr)).not.toContain("needs-fix");
    expect(fake!.labelsOf(pr)).toContain("codex-reviewed");
    task = await taskOf(taskId);
    expect(task.state).toBe("reviewed");
    const status = fake!.comments(n).find((c) => c.body.includes("aegis:status"))!;
    expect(status.body).toContain("Fix rounds");
  });

  it("review.autoFix: 1 runs one round by itself and then stops; review.maxFixRounds refuses the next label", async () => {
    verdict = "critical";
    const { taskId } = await setup("run:\n  maxTurns: 4\nreview:\n  autoFix: 1\n  maxFixRounds: 1\n");
    await step("run", taskId);
    const pr = fake!.pulls()[0]!.number;
    const review1 = await step("review", taskId);
    expect(review1.stdout).toContain("Fix round 1 of 1 queued by itself");
    expect((await taskOf(taskId)).state).toBe("queued");

    // The hourly sweep claims it; the round runs; the review is still CRITICAL: no round by itself.
    const sweep = expectSuccess(await runAction({ mode: "plan", event: scheduleEvent(fake!), fake: fake! }));
    runs.push(sweep);
    expect(JSON.parse(sweep.outputs.tasks ?? "[]")).toEqual([taskId]);
    await step("run", taskId);
    const review2 = await step("review", taskId);
    expect(review2.stdout).not.toContain("queued by itself");
    expect((await taskOf(taskId)).state).toBe("reviewed");
    expect(fake!.labelsOf(pr)).toContain("needs-fix");

    // Rounds spent: a maintainer's label is refused with a comment.
    await fixLabel(pr, "maya");
    expect((await taskOf(taskId)).state).toBe("reviewed");
    expect(fake!.labelsOf(pr)).not.toContain("aegis-fix");
    expect(fake!.comments(pr).some((c) => c.body.includes("review.maxFixRounds"))).toBe(true);
  });

  it("the hourly sweep finds an aegis-fix whose event was missed", async () => {
    verdict = "critical";
    const { taskId } = await setup("run:\n  maxTurns: 4\n");
    await step("run", taskId);
    const pr = fake!.pulls()[0]!.number;
    await step("review", taskId);
    addLabelAs(fake!, pr, "aegis-fix", "maya");
    const sweep = expectSuccess(await runAction({ mode: "plan", event: scheduleEvent(fake!), fake: fake! }));
    runs.push(sweep);
    expect(JSON.parse(sweep.outputs.tasks ?? "[]")).toEqual([taskId]);
    const task = await taskOf(taskId);
    expect(task.state).toBe("running");
    expect(task.fixRound).toBe(1);
    expect(task.history.some((h) => h.reason === "fix round 1 of 3 requested by @maya")).toBe(true);
    expect(fake!.labelsOf(pr)).not.toContain("aegis-fix");
  });
});
