/**
 * What the room's model calls cost, counted by the action from the provider's own answers, not
 * from what the CLI reports: the CLI runs inside the room, where code the agent wrote can make it
 * say anything (a cost of 4e302, or of nothing at all). The model proxy reads the usage each
 * upstream reply carries (input, output, cache writes and reads) and prices it here.
 *
 * Prices are USD per million tokens, matched on the model id's prefix (first match wins); a model
 * aegis does not know is priced at the dearest rate, so an unknown name can only make a budget
 * trip early, never late. Cache writes cost 1.25× input and cache reads 0.1× input (Anthropic's
 * published multipliers).
 */

export interface Price {
  inputUsd: number;
  outputUsd: number;
}

/** Per million tokens. Newest first, so `claude-opus-4-5` is not read as `claude-opus-4`. */
const PRICES: readonly [RegExp, Price][] = [
  [/^claude-opus-5/, { inputUsd: 4, outputUsd: 20 }],
  [/^claude-sonnet-5/, { inputUsd: 2, outputUsd: 10 }],
  [/^claude-opus-4-[5-9]/, { inputUsd: 5, outputUsd: 25 }],
  [/^claude-(opus-4|3-opus)/, { inputUsd: 15, outputUsd: 75 }],
  [/^claude-(sonnet-4|3-7-sonnet|3-5-sonnet)/, { inputUsd: 3, outputUsd: 15 }],
  [/^claude-haiku-4/, { inputUsd: 1, outputUsd: 5 }],
  [/^claude-3-5-haiku/, { inputUsd: 0.8, outputUsd: 4 }],
  [/^claude-3-haiku/, { inputUsd: 0.25, outputUsd: 1.25 }],
];
const DEAREST: Price = { inputUsd: 15, outputUsd: 75 };
const CACHE_WRITE = 1.25;
const CACHE_READ = 0.1;

export function priceOf(model: string): { price: Price; known: boolean } {
  // A gateway's or cloud's spelling (`anthropic.claude-sonnet-4-5-v1:0`, `us.anthropic.claude-…`,
  // `anthropic/claude-…`) prices as the model it names.
  const name = model.replace(/^(?:[\w-]+[./:])*?(?=claude-)/, "");
  for (const [re, price] of PRICES) if (re.test(name)) return { price, known: true };
  return { price: DEAREST, known: false };
}

export interface Usage {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

export const NO_USAGE: Usage = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 };

export function costOf(usage: Usage, model: string): number {
  const { price } = priceOf(model);
  const m = 1_000_000;
  return (
    (usage.input * price.inputUsd +
      usage.cacheWrite * price.inputUsd * CACHE_WRITE +
      usage.cacheRead * price.inputUsd * CACHE_READ +
      usage.output * price.outputUsd) /
    m
  );
}

/**
 * The most a call can cost: every byte of the body read as one input token (tokens are never
 * shorter than a byte of text; an inline image is larger as base64 than as tokens), and
 * `max_tokens` of output.
 */
export function worstCaseUsd(model: string, bodyBytes: number, maxTokens: number): number {
  return costOf({ input: bodyBytes, output: maxTokens, cacheWrite: 0, cacheRead: 0 }, model);
}

const count = (v: unknown): number =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.min(v, 1e9) : 0;

/** Anthropic's usage object, in either a whole reply or a stream's events. */
export function usageFrom(raw: unknown): Partial<Usage> {
  if (!raw || typeof raw !== "object") return {};
  const u = raw as Record<string, unknown>;
  const out: Partial<Usage> = {};
  if (u.input_tokens !== undefined) out.input = count(u.input_tokens);
  if (u.output_tokens !== undefined) out.output = count(u.output_tokens);
  if (u.cache_creation_input_tokens !== undefined) out.cacheWrite = count(u.cache_creation_input_tokens);
  if (u.cache_read_input_tokens !== undefined) out.cacheRead = count(u.cache_read_input_tokens);
  return out;
}

/**
 * Reads the usage of one reply as its bytes pass through: a server-sent event stream
 * (`message_start` carries the input side, each `message_delta` the output so far — cumulative,
 * so the last one counts) or a whole JSON message. Fields set later replace earlier ones.
 */
export class ReplyUsage {
  private usage: Usage = { ...NO_USAGE };
  private pending = "";
  private whole = "";
  private model: string | undefined;
  private readonly stream: boolean;
  /** A reply longer than this is not kept whole to be parsed (only a stream is read piecewise). */
  private static readonly MAX_WHOLE = 16 * 1024 * 1024;

  constructor(contentType: string | undefined) {
    this.stream = /text\/event-stream/i.test(contentType ?? "");
  }

  feed(chunk: Buffer): void {
    const text = chunk.toString("utf8");
    if (!this.stream) {
      if (this.whole.length < ReplyUsage.MAX_WHOLE) this.whole += text;
      return;
    }
    this.pending += text;
    let nl: number;
    while ((nl = this.pending.indexOf("\n")) >= 0) {
      const line = this.pending.slice(0, nl).replace(/\r$/, "");
      this.pending = this.pending.slice(nl + 1);
      if (line.startsWith("data:")) this.event(line.slice(5).trim());
    }
    // A line never grows past an event's size; a stream that sends one without a newline is cut.
    if (this.pending.length > ReplyUsage.MAX_WHOLE) this.pending = "";
  }

  private event(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    if (!parsed || typeof parsed !== "object") return;
    const e = parsed as { type?: unknown; message?: { usage?: unknown; model?: unknown }; usage?: unknown };
    if (e.type === "message_start" && e.message) {
      if (typeof e.message.model === "string") this.model = e.message.model;
      this.merge(usageFrom(e.message.usage));
    } else if (e.type === "message_delta") this.merge(usageFrom(e.usage));
  }

  private merge(part: Partial<Usage>): void {
    this.usage = { ...this.usage, ...part };
  }

  /** The reply's usage, and the model the provider says answered (if it said). */
  done(): { usage: Usage; model?: string } {
    if (!this.stream && this.whole) {
      try {
        const body = JSON.parse(this.whole) as { usage?: unknown; model?: unknown };
        this.merge(usageFrom(body.usage));
        if (typeof body.model === "string") this.model = body.model;
      } catch {
        // Not JSON (an error page): no usage.
      }
    }
    return { usage: this.usage, ...(this.model ? { model: this.model } : {}) };
  }
}
