// Maintainers' `/aegis` commands on an aegis PR, end to end through the real bundle, the real
// `claude` CLI and the fake GitHub (webhook payloads validated against GitHub's description): a
// maintainer's command in the conversation or on a line of the diff queues a fix round (`eyes` on
// the comment), whose brief carries the request fenced as data, whose commit lands on the same
// PR, and which ends with a reply naming the commit; a reader's command starts nothing.
import { afterEach, describe, expect, it } from "vitest";
import { parseCommand } from "../src/core/commands.js";
import { claudeBin, type FakeAnthropic, startFakeAnthropic, type Turn } from "./harness/fake-anthropic.js";
import { type FakeGitHub, startFakeGitHub } from "./harness/fake-github.js";
import {
  type ActionRun,
  prCommentEvent,
  reviewCommentEvent,
  reviewSubmittedEvent,
  scheduleEvent,
  runAction,
  type RunEvent,
  validateWebhookPayload,
  workflowDispatchEvent,
} from "./harness/runner.js";
import { expectSuccess, ledgerOf, openIssue, planOnLabel } from "./harness/scenario.js";

const API_KEY = "sk-ant-api03-commandsKey0123456789abcd";

let fake: FakeGitHub | undefined;
let model: FakeAnthropic | undefined;
const runs: ActionRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
  await Promise.all([fake?.close(), model?.close()]);
  fake = model = undefined;
});

const bash = (command: string): Turn => ({
  toolUses: [{ name: "Bash", input: { command, description: "step" } }],
});

describe("parseCommand", () => {
  it("takes a command only as the comment's first word", () => {
    expect(parseCommand("/aegis please rename foo", "/aegis")).toBe("please rename foo");
    expect(parseCommand("  \n/aegis\nrename foo\nand bar", "/aegis")).toBe("rename foo\nand bar");
    expect(parseCommand("/aegis", "/aegis")).toBe("");
    expect(parseCommand("/aegisx do it", "/aegis")).toBeUndefined();
    expect(parseCommand("please /aegis do it", "/aegis")).toBeUndefined();
    expect(parseCommand("> /aegis quoted", "/aegis")).toBeUndefined();
    expect(parseCommand(null, "/aegis")).toBeUndefined();
    expect(parseCommand(`/aegis ${"x".repeat(10_000)}`, "/aegis")!.length).toBe(4000);
  });
});

/** An aegis PR opened by a real session; the model commits what the round's request asks. */
async function openedPr() {
  fake = await startFakeGitHub({ users: { maya: "maintain", rick: "read" } });
  model = await startFakeAnthropic((ctx) => {
    const sent = JSON.stringify(ctx.request.messages);
    if (sent.includes("asked for in this round"))
      return ctx.step === 0
        ? bash(
            "printf '# Install\\n\\nRun npm install.\\n' > INSTALL.md && git add INSTALL.md && git commit -qm 'Say how to install'",
          )
        : { text: "Done.\nTASK_COMPLETE" };
    return ctx.step === 0
      ? bash("printf '# Install\\n' > INSTALL.md && git add INSTALL.md && git commit -qm 'Add INSTALL.md'")
      : { text: "Done.\nTASK_COMPLETE" };
  });
  const n = openIssue(fake, {
    title: "Document the install steps",
    body: "Add an INSTALL.md that says how to install the tool.",
    labels: ["documentation"],
    by: "maya",
  });
  const planned = expectSuccess(await planOnLabel(fake, n, "aegis", "maya"));
  runs.push(planned);
  const taskId = (JSON.parse(planned.outputs.tasks ?? "[]") as string[])[0]!;
  await run(taskId);
  const pr = fake.pulls()[0]!.number;
  return { n, taskId, pr, branch: `auto/docs/${taskId}` };
}

async function run(taskId: string): Promise<ActionRun> {
  const r = await runAction({
    mode: "run",
    inputs: {
      task: taskId,
      "claude-executable": claudeBin(),
      "anthropic-base-url": model!.url,
      "anthropic-api-key": API_KEY,
    },
    event: workflowDispatchEvent(fake!),
    fake: fake!,
    env: { CLAUDE_CODE_MAX_RETRIES: "0" },
    timeoutMs: 150_000,
  });
  runs.push(r);
  return expectSuccess(r);
}

async function plan(event: RunEvent): Promise<ActionRun> {
  // `schedule` has no published payload schema (undefined); every comment event has one.
  const problems = await validateWebhookPayload(event.name, event.payload);
  if (event.name !== "schedule") expect(problems).toEqual([]);
  const r = expectSuccess(await runAction({ mode: "plan", event, fake: fake! }));
  runs.push(r);
  return r;
}

const taskOf = async (id: string) => (await ledgerOf(fake!)).tasks.find((t) => t.id === id)!;

describe("/aegis commands on an aegis PR", () => {
  it("a maintainer's command in the conversation: eyes, a round whose brief carries the request, one more commit on the same PR, a reply naming it; a reader's starts nothing", async () => {
    const { taskId, pr, branch } = await openedPr();
    const firstHead = (await fake!.branchSha(branch))!;

    // A reader's command: no round, no reaction, no reply, no session.
    const readerId = fake!.seedComment(pr, { user: "rick", body: "/aegis delete the README" });
    const ignored = await plan(await prCommentEvent(fake!, pr, readerId, "rick"));
    expect(JSON.parse(ignored.outputs.tasks ?? "[]")).toEqual([]);
    expect((await taskOf(taskId)).state).toBe("pr-open");
    expect(fake!.reactions()).toEqual([]);
    const commentsBefore = fake!.comments(pr).length;

    const id = fake!.seedComment(pr, { user: "maya", body: "/aegis also say to run npm install\n\nThanks!" });
    const claimed = await plan(await prCommentEvent(fake!, pr, id, "maya"));
    expect(JSON.parse(claimed.outputs.tasks ?? "[]")).toEqual([taskId]);
    expect(fake!.reactions()).toEqual([
      expect.objectContaining({ commentId: id, content: "eyes", subject: "issue-comment" }),
    ]);
    expect((await taskOf(taskId)).roundsBy).toEqual({ command: 1 });
    // The same event delivered again queues nothing more.
    const again = await plan(await prCommentEvent(fake!, pr, id, "maya"));
    expect(JSON.parse(again.outputs.tasks ?? "[]")).toEqual([]);

    await run(taskId);
    const sent = JSON.stringify(model!.requests.at(-1)?.messages ?? []);
    expect(sent).toContain("What @maya asked for in this round");
    expect(sent).toContain("```request\\nalso say to run npm install\\n\\nThanks!\\n```");
    expect(sent).not.toContain("delete the README");
    expect(fake!.pulls()).toHaveLength(1);
    const head = (await fake!.branchSha(branch))!;
    expect((await fake!.git(["rev-list", "--count", `${firstHead}..${head}`])).trim()).toBe("1");
    const replies = fake!
      .comments(pr)
      .slice(commentsBefore)
      .filter((c) => c.body.includes("aegis:command-reply"));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body).toContain(`Done in ${head.slice(0, 12)}`);
    const task = await taskOf(taskId);
    expect(task.state).toBe("pr-open");
    expect(task.command).toMatchObject({ commentId: id, replied: true, round: 1 });
  });

  it("an inline command carries its file and line into the brief and is answered in its thread", async () => {
    const { taskId, pr } = await openedPr();
    const id = await fake!.seedReviewComment(pr, {
      user: "maya",
      path: "INSTALL.md",
      line: 1,
      body: "/aegis add the npm step under this heading",
    });
    const claimed = await plan(await reviewCommentEvent(fake!, pr, id, "maya"));
    expect(JSON.parse(claimed.outputs.tasks ?? "[]")).toEqual([taskId]);
    expect(fake!.reactions()).toEqual([
      expect.objectContaining({ commentId: id, content: "eyes", subject: "review-comment" }),
    ]);
    await run(taskId);
    const sent = JSON.stringify(model!.requests.at(-1)?.messages ?? []);
    expect(sent).toContain("on INSTALL.md:1");
    expect(sent).toContain("add the npm step under this heading");
    const thread = fake!.reviewComments(pr).filter((c) => c.inReplyTo === id);
    expect(thread).toHaveLength(1);
    expect(thread[0]!.body).toMatch(/aegis:command-reply[\s\S]*Done in [0-9a-f]{12}/);
  });

  it("a review's body with the command queues a round, answered on the PR (a review takes no reaction)", async () => {
    const { taskId, pr } = await openedPr();
    const before = fake!.comments(pr).length;
    const event = await reviewSubmittedEvent(fake!, pr, {
      id: 987654,
      user: "maya",
      body: "/aegis mention npm install too",
      state: "changes_requested",
    });
    const claimed = await plan(event);
    expect(JSON.parse(claimed.outputs.tasks ?? "[]")).toEqual([taskId]);
    expect(fake!.reactions()).toEqual([]);
    await run(taskId);
    expect(JSON.stringify(model!.requests.at(-1)?.messages ?? [])).toContain("mention npm install too");
    const replies = fake!
      .comments(pr)
      .slice(before)
      .filter((c) => c.body.includes("aegis:command-reply 987654"));
    expect(replies).toHaveLength(1);
  });

  it("a reaction and a thread reply whose answers were lost after they landed are neither doubled nor lost", async () => {
    const { taskId, pr } = await openedPr();
    const id = await fake!.seedReviewComment(pr, {
      user: "maya",
      path: "INSTALL.md",
      line: 1,
      body: "/aegis add the npm step",
    });
    const reaction = fake!.inject({
      route: "reactions/create-for-pull-request-review-comment",
      status: 502,
      when: "after",
    });
    await plan(await reviewCommentEvent(fake!, pr, id, "maya"));
    expect(reaction.hits).toBe(1);
    expect(fake!.reactions()).toHaveLength(1);
    const reply = fake!.inject({
      route: "pulls/create-reply-for-review-comment",
      status: 502,
      when: "after",
    });
    await run(taskId);
    expect(reply.hits).toBe(1);
    expect(fake!.reviewComments(pr).filter((c) => c.inReplyTo === id)).toHaveLength(1);
  });

  it("the hourly sweep finds a command whose event was missed, in two calls, and takes it once", async () => {
    const { taskId, pr } = await openedPr();
    fake!.seedComment(pr, { user: "rick", body: "/aegis rewrite everything" });
    const id = fake!.seedComment(pr, { user: "maya", body: "/aegis say to run npm install" });
    fake!.resetCalls();
    const swept = await plan(scheduleEvent(fake!));
    expect(JSON.parse(swept.outputs.tasks ?? "[]")).toEqual([taskId]);
    const reads = fake!.calls
      .map((c) => c.route)
      .filter((r) => /^GET \/repos\/\{owner\}\/\{repo\}\/(issues|pulls)\/comments$/.test(r));
    expect(reads).toEqual([
      "GET /repos/{owner}/{repo}/issues/comments",
      "GET /repos/{owner}/{repo}/pulls/comments",
    ]);
    expect(fake!.reactions()).toEqual([expect.objectContaining({ commentId: id, content: "eyes" })]);
    const ledger = await ledgerOf(fake!);
    expect(ledger.commandsSeenAt).toBeDefined();
    expect(ledger.tasks.find((t) => t.id === taskId)!.command).toMatchObject({
      commentId: id,
      author: "maya",
    });
    await run(taskId);
    expect(JSON.stringify(model!.requests.at(-1)?.messages ?? [])).toContain("say to run npm install");
    // The next sweep reads from where this one stopped: the command is not taken again.
    const next = await plan(scheduleEvent(fake!));
    expect(JSON.parse(next.outputs.tasks ?? "[]")).toEqual([]);
    expect((await taskOf(taskId)).fixRounds).toBe(1);
  });
});
