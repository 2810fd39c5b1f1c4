// Who a task's PR asks for a review: the approver; else the requester when they may write (a task
// that needed no approval); never a bot.
import { describe, expect, it } from "vitest";
import type { Task } from "../src/core/ledger.js";
import { reviewerFor } from "../src/modes/run-steps.js";

const at = "2026-12-05T00:00:00Z";
const task = (t: Partial<Task>) => ({ requestedBy: "rick", needsApproval: true, ...t }) as Task;

describe("the review request", () => {
  it("asks the approver first", () => {
    expect(reviewerFor(task({ approvedBy: { login: "maya", at } }))).toBe("maya");
  });
  it("asks the requester only when their request needed no approval (write access)", () => {
    expect(reviewerFor(task({ requestedBy: "dana", needsApproval: false }))).toBe("dana");
    expect(reviewerFor(task({ requestedBy: "rick", needsApproval: true }))).toBeUndefined();
  });
  it("never asks a bot (a bot's approval falls back to a requester who may write)", () => {
    expect(reviewerFor(task({ requestedBy: "renovate[bot]", needsApproval: false }))).toBeUndefined();
    expect(
      reviewerFor(
        task({ requestedBy: "dana", needsApproval: false, approvedBy: { login: "aegis[bot]", at } }),
      ),
    ).toBe("dana");
  });
});
