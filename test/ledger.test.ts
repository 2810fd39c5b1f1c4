import { describe, expect, it } from "vitest";
import { emptyLedger, LedgerError, parseLedger, serializeLedger } from "../src/core/ledger.js";
import { addTask, canTransition, transition, TransitionError } from "../src/core/lifecycle.js";
import { newTask } from "./harness/tasks.js";

const NOW = "2026-11-24T10:00:00Z";

describe("ledger document", () => {
  it("round-trips through its serialisation, one task per line", () => {
    const ledger = emptyLedger(NOW);
    addTask(ledger, newTask(7, { title: "t", requestedBy: "a" }), "queued", {
      actor: "a",
      reason: "r",
      now: NOW,
    });
    const text = serializeLedger(ledger);
    expect(parseLedger(text, "branch x")).toEqual(ledger);
    expect(text.split("\n").filter((l) => l.startsWith('  {"id":"7-1"'))).toHaveLength(1);
  });

  it("keeps fields it does not know (a newer writer's), so a rewrite loses nothing", () => {
    const raw = JSON.parse(serializeLedger(emptyLedger(NOW)));
    raw.futureField = { keep: true };
    expect(JSON.parse(serializeLedger(parseLedger(JSON.stringify(raw), "b")))).toMatchObject({
      futureField: { keep: true },
    });
  });

  it.each([
    ["{not json", "is not valid JSON"],
    [
      JSON.stringify({ version: 99 }),
      "has version 99; this aegis reads version 1. It was written by a newer aegis",
    ],
    [JSON.stringify({ tasks: [] }), "has version undefined"],
    [JSON.stringify({ ...emptyLedger(NOW), tasks: [{ id: "x" }] }), "failed validation: tasks.0"],
    ["null", "has version undefined"],
  ])("refuses %s", (text, message) => {
    expect(() => parseLedger(text, "branch aegis-state")).toThrow(LedgerError);
    expect(() => parseLedger(text, "branch aegis-state")).toThrow(message);
  });
});

describe("state machine", () => {
  it("allows the lifecycle's moves and refuses the rest", () => {
    expect(canTransition("awaiting-approval", "queued")).toBe(true);
    expect(canTransition("queued", "running")).toBe(true);
    expect(canTransition("running", "pr-open")).toBe(true);
    expect(canTransition("pr-open", "reviewed")).toBe(true);
    expect(canTransition("reviewed", "done")).toBe(true);
    expect(canTransition("done", "queued")).toBe(false);
    expect(canTransition("awaiting-approval", "running")).toBe(false);
    expect(canTransition("cancelled", "running")).toBe(false);
  });

  it("records every transition with actor, time and reason", () => {
    const ledger = emptyLedger(NOW);
    const task = addTask(ledger, newTask(1, { title: "t", requestedBy: "a" }), "queued", {
      actor: "a",
      reason: "intake",
      now: NOW,
    });
    transition(task, {
      to: "running",
      actor: "aegis",
      reason: "claimed",
      now: "2026-11-24T10:01:00Z",
      runId: "5",
    });
    expect(task.history.at(-1)).toEqual({
      at: "2026-11-24T10:01:00Z",
      from: "queued",
      to: "running",
      actor: "aegis",
      reason: "claimed",
      runId: "5",
    });
    expect(() => transition(task, { to: "done", actor: "x", reason: "?", now: NOW })).toThrow(
      TransitionError,
    );
  });
});
