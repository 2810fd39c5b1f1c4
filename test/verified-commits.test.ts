// A PR a maintainer can merge as it is: with `run.verifiedCommits: true` the agent's commits are
// recreated through the REST API, which GitHub signs — every commit of the task branch reads back
// verified, with exactly the files the agent committed (a binary file, an executable script, a
// deletion) — and a retry appends verified commits to the branch. `run.draft` opens a draft, and
// the PR asks the person who asked for the task to review it. Through the real bundle, the real
// `claude` CLI and the fake GitHub (which signs API-made commits, as GitHub does).
import { afterEach, describe, expect, it } from "vitest";
import {
  claudeBin,
  startFakeAnthropic,
  type FakeAnthropic,
  type Script,
  type Turn,
} from "./harness/fake-anthropic.js";
import { DEFAULT_FILES, type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import { type ActionRun, runAction, workflowDispatchEvent } from "./harness/runner.js";
import { expectSuccess, ledgerOf, openIssue, planOnLabel } from "./harness/scenario.js";

const API_KEY = "sk-ant-api03-verifiedCommitsKey0123456789";
let fake: FakeGitHub | undefined;
let model: FakeAnthropic | undefined;
const runs: ActionRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
  await fake?.close();
  await model?.close();
  fake = model = undefined;
});

const bash = (command: string): Turn => ({
  toolUses: [{ name: "Bash", input: { command, description: "step" } }],
});

async function api(f: FakeGitHub, route: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${f.url}/repos/${f.owner}/${f.repo}${route}`, {
    headers: { authorization: `Bearer ${f.token}`, accept: "application/vnd.github+json" },
  });
  expect(res.status, route).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function runTask(f: FakeGitHub, script: Script, taskId?: string) {
  model = await startFakeAnthropic(script);
  const run = await runAction({
    mode: "run",
    inputs: {
      ...(taskId ? { task: taskId } : {}),
      "claude-executable": claudeBin(),
      "anthropic-base-url": model.url,
      "anthropic-api-key": API_KEY,
    },
    event: workflowDispatchEvent(f),
    fake: f,
    env: { CLAUDE_CODE_MAX_RETRIES: "0" },
    timeoutMs: 120_000,
  });
  runs.push(run);
  return run;
}

describe("verified commits, drafts and the review request", () => {
  it("every commit of the branch reads back verified, with the agent's files; a retry appends; a draft asks its requester to review", async () => {
    fake = await startFakeGitHub({
      users: { maya: "maintain" },
      files: {
        ...DEFAULT_FILES,
        "old-notes.md": "to be removed\n",
        ".github/aegis.yml": "run:\n  verifiedCommits: true\n  draft: true\n  maxTurns: 3\n",
      },
    });
    const n = openIssue(fake, {
      title: "Add the install helper",
      body: "Add an install script and its logo, and remove the old notes file.",
      labels: ["documentation"],
      by: "maya",
    });
    const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
    await planned.cleanup();
    const base = (await fake.branchSha(fake.defaultBranch))!;

    // Attempt 1 commits twice and runs out of turns: the branch goes out verified, the task is retried.
    const first = await runTask(
      fake,
      [
        bash(
          "printf '#!/bin/sh\\necho install\\n' > install.sh && chmod +x install.sh && printf '\\x89PNG\\r\\n\\x1a\\n\\x00\\x01\\xff' > logo.png && git add install.sh logo.png && git commit -q -m 'Add the install script and logo'",
        ),
        // A trailer naming a maintainer would credit them on a signed commit: it is dropped.
        bash(
          "git rm -q old-notes.md && git -c user.name=Maya -c user.email=maya@example.com commit -q -m 'Remove the old notes' -m 'Co-authored-by: Maya <maya@example.com>'",
        ),
        bash("ls"),
      ],
      taskId,
    );
    expectSuccess(first);
    const branch = `auto/docs/${taskId}`;
    let task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
    expect(task.attempts[0]!.outcome).toBe("max-turns");
    expect(task.state).toBe("queued");
    const firstTip = (await fake.branchSha(branch))!;
    expect(task.attempts[0]!.branchSha).toBe(firstTip);

    // Attempt 2 continues the branch and finishes: its commit is appended, nothing rewritten.
    await model!.close();
    const claimed = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    runs.push(claimed);
    const second = await runTask(
      fake,
      (ctx) =>
        ctx.step === 0
          ? bash(
              "printf 'Run ./install.sh\\n' > INSTALL.md && git add INSTALL.md && git commit -q -m 'Say how to install'",
            )
          : { text: "Done.\nTASK_COMPLETE" },
      taskId,
    );
    expectSuccess(second);
    task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
    expect(task.state).toBe("pr-open");
    const tip = (await fake.branchSha(branch))!;
    const history = (await fake.git(["rev-list", "--reverse", `${base}..${tip}`])).trim().split("\n");
    expect(history).toHaveLength(3);
    expect(history.slice(0, 2)).toEqual(
      (await fake.git(["rev-list", "--reverse", `${base}..${firstTip}`])).trim().split("\n"),
    );

    for (const sha of history) {
      const commit = (await api(fake, `/commits/${sha}`)).commit as {
        verification: { verified: boolean };
        message: string;
      };
      expect(commit.verification.verified, sha).toBe(true);
      expect(commit.message, sha).not.toMatch(/co-authored-by/i);
    }
    expect(((await api(fake, `/commits/${history[1]}`)).commit as { message: string }).message).toMatch(
      /^Remove the old notes\n?$/,
    );
    // The files are the agent's: bytes, the executable bit, the deletion.
    const logoSha = (await fake.git(["rev-parse", `${tip}:logo.png`])).trim();
    const logo = (await api(fake, `/git/blobs/${logoSha}`)) as { content: string };
    expect(Buffer.from(logo.content, "base64")).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x01, 0xff]),
    );
    expect(await fake.git(["ls-tree", tip, "install.sh"])).toMatch(/^100755 blob /);
    expect(await fake.readFile(branch, "old-notes.md")).toBeNull();
    expect(await fake.readFile(branch, "INSTALL.md")).toBe("Run ./install.sh\n");

    // One PR, a draft, with maya (who asked, and may write) asked to review.
    const pulls = fake.pulls();
    expect(pulls).toHaveLength(1);
    const pr = await api(fake, `/pulls/${pulls[0]!.number}`);
    expect(pr.draft).toBe(true);
    expect((pr.requested_reviewers as { login: string }[]).map((u) => u.login)).toEqual(["maya"]);
    expect(second.stdout).toContain("Asked @maya to review");
  });

  it("a blob GitHub refuses fails the task with a comment naming the file; the branch is never made", async () => {
    fake = await startFakeGitHub({
      users: { maya: "maintain" },
      files: { ...DEFAULT_FILES, ".github/aegis.yml": "run:\n  verifiedCommits: true\n" },
    });
    const n = openIssue(fake, {
      title: "Add the data file",
      body: "Add a data file with the sample records for the docs.",
      labels: ["documentation"],
      by: "maya",
    });
    const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
    const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
    await planned.cleanup();
    fake.inject({
      route: "git/create-blob",
      status: 422,
      body: { message: "content is too large" },
      times: Infinity,
    });
    const run = await runTask(
      fake,
      [
        bash(
          "printf 'a\\n' > a.txt && printf 'b\\n' > data.csv && git add a.txt data.csv && git commit -q -m 'Add the data'",
        ),
        { text: "TASK_COMPLETE" },
      ],
      taskId,
    );
    expectSuccess(run);
    const task = (await ledgerOf(fake)).tasks.find((t) => t.id === taskId)!;
    expect(task.state).toBe("failed");
    expect(task.history.at(-1)?.reason).toContain("publishing verified commits failed: GitHub refused a.txt");
    expect(fake.pulls()).toHaveLength(0);
    expect(await fake.branchSha(`auto/docs/${taskId}`)).toBeNull();
    const comment = fake.comments(n).find((c) => c.body.includes("run.verifiedCommits"));
    expect(comment?.body).toMatch(/GitHub refused (a\.txt|data\.csv)/);
    expect(comment?.body).toContain("content is too large");
  });
});
