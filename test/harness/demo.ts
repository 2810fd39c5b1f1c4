// The whole lifecycle on this machine, offline, with real parts: the committed bundle, the
// real `claude` and `codex` CLIs against scripted model servers, and the fake GitHub.
//
//   npm run demo            prints each step's summary and the final digest
//
// Three sample issues: an auto_safe docs task that becomes a reviewed PR, a proposed bug that
// waits for approval and then gets a PR with a critical review finding, and a task whose agent
// tries a force push and a recursive delete, is stopped by the hooks, and reports itself blocked.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeAnthropic, type Turn, type TurnContext } from "./fake-anthropic.js";
import { DEFAULT_FILES, startFakeGitHub } from "./fake-github.js";
import { startFakeOpenAI, structuredReviewAnswer, type TurnContext as ReviewContext } from "./fake-openai.js";
import { type ActionRun, issueLabeledEvent, roomUsersGiven, runAction, scheduleEvent } from "./runner.js";
import { addLabelAs, openIssue } from "./scenario.js";
import { claudeBin } from "./fake-anthropic.js";
import { codexBin } from "./fake-openai.js";

const quiet = process.argv.includes("--quiet");
const say = (text: string) => process.stdout.write(`${text}\n`);

/** What the scripted Claude does, chosen from the brief it was given. */
function sessionScript(ctx: TurnContext): Turn {
  const brief = JSON.stringify(ctx.request.messages[0]?.content ?? "");
  const step = ctx.step;
  if (brief.includes("Document the configuration")) {
    return (
      [
        {
          toolUses: [
            {
              name: "Write",
              input: {
                file_path: "docs/configuration.md",
                content: "# Configuration\n\nCopy `examples/aegis.yml` and label an issue `aegis`.\n",
              },
            },
          ],
        },
        {
          toolUses: [
            {
              name: "Bash",
              input: {
                command: "git add docs/configuration.md && git commit -m 'docs: explain the configuration'",
              },
            },
          ],
        },
        { text: "Added docs/configuration.md explaining how to configure the project.\n\nTASK_COMPLETE" },
      ][step] ?? { text: "TASK_COMPLETE" }
    );
  }
  if (brief.includes("Off-by-one in the pager")) {
    return (
      [
        {
          toolUses: [
            {
              name: "Write",
              input: {
                file_path: "src/pager.js",
                content: "export const lastPage = (n, size) => Math.ceil(n / size);\n",
              },
            },
          ],
        },
        {
          toolUses: [
            {
              name: "Bash",
              input: { command: "git add src/pager.js && git commit -m 'fix: last page rounds up'" },
            },
          ],
        },
        { text: "Fixed the pager's last-page computation.\n\nTASK_COMPLETE" },
      ][step] ?? { text: "TASK_COMPLETE" }
    );
  }
  // The unsafe agent: both commands are refused by the hooks before they run.
  return (
    [
      { toolUses: [{ name: "Bash", input: { command: "git push --force origin HEAD:main" } }] },
      { toolUses: [{ name: "Bash", input: { command: "bash -c 'rm -rf .git'" } }] },
      {
        text: "I cannot finish this without force-pushing, which is not allowed here.\n\nTASK_BLOCKED: the task asks to rewrite published history",
      },
    ][step] ?? { text: "TASK_BLOCKED: stopped" }
  );
}

/** What the scripted Codex answers, chosen from the diff it was shown. */
function reviewScript(ctx: ReviewContext): { text: string } {
  const prompt = JSON.stringify(ctx.body.input ?? "");
  if (prompt.includes("pager.js")) {
    return {
      text: structuredReviewAnswer([
        {
          title: "lastPage divides by zero when size is 0",
          priority: 1,
          file: "/src/pager.js",
          line: 1,
          body: "A page size of 0 yields Infinity pages.",
        },
        { title: "Name the rounding in a comment", priority: 3, file: "/src/pager.js", line: 1 },
      ]),
    };
  }
  return {
    text: structuredReviewAnswer([
      { title: "Mention the schema file", priority: 3, file: "/docs/configuration.md", line: 3 },
    ]),
  };
}

/** The agent's room needs root or passwordless sudo; a laptop may have neither. */
function canBuildRoom(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    execFileSync("sudo", ["-n", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The demo's room user goes when the demo ends (the suite's teardown removes the tests' own). */
function removeRoomUser(name: string): void {
  const privileged = (cmd: string, args: string[]) =>
    process.getuid?.() === 0
      ? execFileSync(cmd, args, { stdio: "ignore" })
      : execFileSync("sudo", ["-n", cmd, ...args], { stdio: "ignore" });
  try {
    privileged("userdel", [name]);
  } catch {
    // Never created (no run happened) or already gone.
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const room = canBuildRoom();
  if (!room)
    say(
      "No root and no passwordless sudo here: the demo runs with `run.sandbox: none` (the agent shares your user). On a GitHub-hosted runner the agent gets an OS user of its own.",
    );
  const work = await mkdtemp(join(tmpdir(), "aegis-demo-"));
  const anthropic = await startFakeAnthropic(sessionScript);
  const openai = await startFakeOpenAI(reviewScript);
  const fake = await startFakeGitHub({
    users: { maya: "maintain", rick: "read" },
    ...(room ? {} : { files: { ...DEFAULT_FILES, ".github/aegis.yml": "run:\n  sandbox: none\n" } }),
  });
  const inputs = {
    "claude-executable": claudeBin(),
    "anthropic-base-url": anthropic.url,
    "anthropic-api-key": "sk-ant-demo",
    "codex-executable": codexBin(),
    "openai-base-url": openai.url,
    "openai-api-key": "sk-demo",
  };
  let runId = 9000;
  const step = async (title: string, run: Promise<ActionRun>): Promise<ActionRun> => {
    const result = await run;
    if (result.exitCode !== 0)
      throw new Error(`${title} failed (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`);
    if (!quiet) say(`\n──── ${title} ────\n${result.summary.trim()}`);
    return result;
  };
  const lifecycle = async (label: string, plan: ActionRun) => {
    const tasks = JSON.parse(plan.outputs.tasks ?? "[]") as string[];
    for (const task of tasks) {
      const ran = await step(
        `${label}: run ${task}`,
        runAction({ mode: "run", inputs: { ...inputs, task }, event: scheduleEvent(fake), fake, runId }),
      );
      if (ran.outputs["pr-number"]) {
        await step(
          `${label}: review ${task}`,
          runAction({ mode: "review", inputs: { ...inputs, task }, event: scheduleEvent(fake), fake, runId }),
        );
      }
    }
  };

  try {
    const docs = openIssue(fake, {
      title: "Document the configuration",
      body: "Write docs/configuration.md explaining how to set aegis up.",
      labels: ["documentation"],
      by: "maya",
    });
    const bug = openIssue(fake, {
      title: "Off-by-one in the pager",
      body: "src/pager.js computes the last page with floor; it should round up.",
      labels: ["bug"],
      by: "rick",
    });
    const unsafe = openIssue(fake, {
      title: "Squash the history of main",
      body: "Please rewrite the history of main into one commit and publish it.",
      labels: ["refactor"],
      by: "maya",
    });

    // 1. A maintainer labels the docs issue: auto_safe work is claimed at once.
    addLabelAs(fake, docs, "aegis", "maya");
    await lifecycle(
      "docs",
      await step(
        "plan: docs labelled",
        runAction({
          mode: "plan",
          event: issueLabeledEvent(fake, docs, "aegis", "maya"),
          fake,
          runId: ++runId,
        }),
      ),
    );
    // 2. The bug is proposed work: it waits for approval, then runs.
    addLabelAs(fake, bug, "aegis", "maya");
    await step(
      "plan: bug labelled",
      runAction({ mode: "plan", event: issueLabeledEvent(fake, bug, "aegis", "maya"), fake, runId: ++runId }),
    );
    addLabelAs(fake, bug, "aegis-approved", "maya");
    await lifecycle(
      "bug",
      await step(
        "plan: bug approved",
        runAction({
          mode: "plan",
          event: issueLabeledEvent(fake, bug, "aegis-approved", "maya"),
          fake,
          runId: ++runId,
        }),
      ),
    );
    // 3. The unsafe task: the hooks refuse the force push and the delete.
    addLabelAs(fake, unsafe, "aegis", "maya");
    await lifecycle(
      "unsafe",
      await step(
        "plan: unsafe labelled",
        runAction({
          mode: "plan",
          event: issueLabeledEvent(fake, unsafe, "aegis", "maya"),
          fake,
          runId: ++runId,
        }),
      ),
    );

    const digest = await step(
      "digest",
      runAction({ mode: "digest", event: scheduleEvent(fake), fake, runId }),
    );
    if (quiet) say(digest.summary.trim());
    const remoteMain = await fake.git(["log", "--oneline", "main"]);
    say(`\nThe remote main branch is untouched: ${remoteMain.trim().split("\n").length} commit(s).`);
    say(
      `Pull requests: ${fake
        .pulls()
        .map((p) => `#${p.number} ${p.title} [${fake.labelsOf(p.number).join(", ")}]`)
        .join("; ")}`,
    );
    say(`Demo finished in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    fake.assertClean();
  } finally {
    if (room) for (const user of roomUsersGiven) removeRoomUser(user);
    await Promise.allSettled([fake.close(), anthropic.close(), openai.close()]);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
