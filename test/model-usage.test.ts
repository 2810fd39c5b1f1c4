// What the model proxy counts: usage read from the provider's replies and priced by aegis.
import { describe, expect, it } from "vitest";
import { costOf, priceOf, ReplyUsage, worstCaseUsd } from "../src/core/model-usage.js";
import { assertWritable, emptyLedger, LedgerWriteError, serializeTasks } from "../src/core/ledger.js";

describe("model usage", () => {
  it("reads a stream's usage across chunk boundaries: input from message_start, the last message_delta's output", () => {
    const events = [
      `event: message_start\ndata: {"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":1000,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"output_tokens":1}}}\n\n`,
      `event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":50}}\n\n`,
      `event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":400}}\n\n`,
    ].join("");
    const reading = new ReplyUsage("text/event-stream; charset=utf-8");
    for (let i = 0; i < events.length; i += 7) reading.feed(Buffer.from(events.slice(i, i + 7)));
    const { usage, model } = reading.done();
    expect(model).toBe("claude-sonnet-4-5");
    expect(usage).toEqual({ input: 1000, output: 400, cacheWrite: 200, cacheRead: 3000 });
    // $3/M in, $15/M out, writes ×1.25, reads ×0.1
    expect(costOf(usage, "claude-sonnet-4-5")).toBeCloseTo(
      (1000 * 3 + 200 * 3.75 + 3000 * 0.3 + 400 * 15) / 1e6,
      10,
    );
  });
  it("reads a whole JSON reply; ignores numbers that are not counts", () => {
    const reading = new ReplyUsage("application/json");
    reading.feed(
      Buffer.from('{"model":"claude-haiku-4-5","usage":{"input_tokens":10,"output_tokens":1e400}}'),
    );
    expect(reading.done().usage).toEqual({ input: 10, output: 0, cacheWrite: 0, cacheRead: 0 });
  });
  it("prices an unknown model at the dearest rate, and the worst case from max_tokens", () => {
    expect(priceOf("claude-opus-4-5-20251101").price.outputUsd).toBe(25);
    expect(priceOf("claude-opus-4-1").price.outputUsd).toBe(75);
    expect(priceOf("mystery").known).toBe(false);
    expect(priceOf("us.anthropic.claude-sonnet-4-5-20250929-v1:0").price.outputUsd).toBe(15);
    expect(priceOf("anthropic/claude-haiku-4-5").price.outputUsd).toBe(5);
    expect(priceOf("mystery").price.outputUsd).toBe(75);
    expect(worstCaseUsd("claude-opus-5-5", 0, 64_000)).toBeCloseTo(1.28, 6);
  });
});

describe("ledger writes are validated before they are sent", () => {
  const task = (id: string, costUsd: number) =>
    ({
      id,
      issue: 1,
      title: "t",
      category: "docs",
      authority: "auto_safe",
      state: "queued",
      priority: 2,
      createdAt: "2026-12-07T00:00:00Z",
      updatedAt: "2026-12-07T00:00:00Z",
      requestedBy: "maya",
      needsApproval: false,
      attempts: [],
      costUsd,
      turns: 0,
      dependsOn: [],
      predictedFiles: [],
      history: [{ from: null, to: "queued", at: "2026-12-07T00:00:00Z", actor: "aegis", reason: "r" }],
    }) as never;
  it("a cost that is not finite, or past any real budget, is refused; nothing is written", () => {
    for (const bad of [Infinity, Number.NaN, 4e9]) {
      const ledger = emptyLedger("2026-12-07T00:00:00Z");
      ledger.tasks.push(task("1-1", bad));
      expect(() => assertWritable(ledger, serializeTasks(ledger.tasks), ""), String(bad)).toThrow(
        LedgerWriteError,
      );
    }
    const ok = emptyLedger("2026-12-07T00:00:00Z");
    ok.tasks.push(task("1-1", 0.25));
    expect(() => assertWritable(ok, serializeTasks(ok.tasks), "")).not.toThrow();
  });
});
