/**
 * Incremental reader of Claude Code's `--output-format stream-json --verbose` output.
 *
 * Pure: it is fed one line at a time and reports what a line meant, so the adapter can log as the
 * session goes. It tolerates garbage (non-JSON, unknown event types, missing fields) because the
 * stream is produced by a pinned but external CLI and a crash in the parser must not lose a run.
 */
import { oneLine } from "./sanitize.js";
import type { InitEvent, PermissionDenial, ResultEvent } from "./session-result.js";
import { MAX_TOOL_CALL_LINES, refusalOf, type ToolCallLine } from "./tool-calls.js";

export { oneLine };

export type StreamNote =
  | { kind: "init"; init: InitEvent }
  | { kind: "tool"; id: string; name: string; summary: string }
  | { kind: "denied"; tool: string; message: string }
  | { kind: "text"; text: string }
  | { kind: "result"; result: ResultEvent }
  | { kind: "garbage"; line: string }
  | { kind: "other" };

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** A short description of a tool call's input: the field a reader cares about first. */
export function summarizeToolInput(name: string, input: unknown): string {
  if (!isObj(input)) return "";
  const preferred = ["command", "file_path", "path", "pattern", "url", "query", "description"];
  for (const key of preferred) {
    const v = str(input[key]);
    if (v) return oneLine(name === "Bash" || key !== "description" ? v : `${key}: ${v}`);
  }
  try {
    return oneLine(JSON.stringify(input));
  } catch {
    return "";
  }
}

function toDenials(v: unknown): PermissionDenial[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((d) => ({
    tool_name: str(d.tool_name) ?? "unknown",
    ...(str(d.tool_use_id) ? { tool_use_id: str(d.tool_use_id) } : {}),
    ...(d.tool_input !== undefined ? { tool_input: d.tool_input } : {}),
  }));
}

export function toResultEvent(e: Json): ResultEvent {
  const status = e.api_error_status;
  return {
    subtype: str(e.subtype) ?? "unknown",
    is_error: e.is_error === true,
    num_turns: num(e.num_turns) ?? 0,
    ...(str(e.result) !== undefined ? { result: str(e.result) } : {}),
    ...(str(e.session_id) ? { session_id: str(e.session_id) } : {}),
    ...(num(e.total_cost_usd) !== undefined ? { total_cost_usd: num(e.total_cost_usd) } : {}),
    ...(isObj(e.usage) ? { usage: e.usage } : {}),
    permission_denials: toDenials(e.permission_denials),
    ...(str(e.terminal_reason) ? { terminal_reason: str(e.terminal_reason) } : {}),
    ...(num(e.duration_ms) !== undefined ? { duration_ms: num(e.duration_ms) } : {}),
    ...(typeof status === "number" || status === null ? { api_error_status: status } : {}),
    ...(str(e.api_error_type) ? { api_error_type: str(e.api_error_type) } : {}),
    ...(Array.isArray(e.errors)
      ? { errors: e.errors.filter((x): x is string => typeof x === "string") }
      : {}),
  };
}

/** Accumulates a session's stream; `feed` returns what each line was, for live logging. */
export class ClaudeStream {
  init?: InitEvent;
  private readonly toolIds = new Set<string>();
  private anonymousTools = 0;
  private readonly results: { event: ResultEvent; followUp: boolean; cost?: number }[] = [];
  /** The first tool calls of the session, one line each (the step summary lists them). */
  readonly calls: ToolCallLine[] = [];
  garbageLines = 0;

  feed(rawLine: string): StreamNote[] {
    const line = rawLine.trim();
    if (line === "") return [];
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      this.garbageLines++;
      return [{ kind: "garbage", line: oneLine(line, 200) }];
    }
    if (!isObj(e)) {
      this.garbageLines++;
      return [{ kind: "garbage", line: oneLine(line, 200) }];
    }
    const type = str(e.type);
    if (type === "system" && e.subtype === "init") {
      this.init = {
        ...(str(e.session_id) ? { session_id: str(e.session_id) } : {}),
        tools: Array.isArray(e.tools) ? e.tools.filter((t): t is string => typeof t === "string") : [],
        ...(str(e.model) ? { model: str(e.model) } : {}),
      };
      return [{ kind: "init", init: this.init }];
    }
    if (type === "system" && e.subtype === "permission_denied") {
      return [
        { kind: "denied", tool: str(e.tool_name) ?? "unknown", message: oneLine(str(e.message) ?? "") },
      ];
    }
    if (type === "assistant" && isObj(e.message) && Array.isArray(e.message.content)) {
      return this.assistant(e.message.content);
    }
    if (type === "user" && isObj(e.message) && Array.isArray(e.message.content)) {
      // A tool's failed result: a hook's refusal or the CLI's reads as such in the list.
      for (const block of e.message.content)
        if (isObj(block) && block.type === "tool_result" && block.is_error === true) {
          const call = this.calls.find((c) => c.id === str(block.tool_use_id));
          const text = Array.isArray(block.content)
            ? block.content.map((c) => (isObj(c) ? (str(c.text) ?? "") : "")).join(" ")
            : (str(block.content) ?? "");
          if (call) call.refused = refusalOf(text);
        }
      return [{ kind: "other" }];
    }
    if (type === "result") {
      const event = toResultEvent(e);
      // A background task finishing after the main answer makes the CLI emit a further result
      // marked with `origin`; its cost is cumulative but its turns and text are not the task's.
      for (const d of event.permission_denials) {
        const call = this.calls.find((c) => c.id === d.tool_use_id);
        // The CLI lists a hook's refusal among its denials too: the hook's word stands.
        if (call && call.refused !== "refused by a hook") call.refused = "not permitted";
      }
      this.results.push({
        event,
        followUp: e.origin !== undefined,
        ...(event.total_cost_usd !== undefined ? { cost: event.total_cost_usd } : {}),
      });
      return [{ kind: "result", result: event }];
    }
    return [{ kind: "other" }];
  }

  private assistant(content: unknown[]): StreamNote[] {
    const notes: StreamNote[] = [];
    for (const block of content) {
      if (!isObj(block)) continue;
      if (block.type === "tool_use") {
        const id = str(block.id) ?? `anon-${++this.anonymousTools}`;
        if (this.toolIds.has(id)) continue;
        this.toolIds.add(id);
        const name = str(block.name) ?? "unknown";
        const summary = summarizeToolInput(name, block.input);
        if (this.calls.length < MAX_TOOL_CALL_LINES)
          this.calls.push({ id, tool: name, input: summary.slice(0, 200) });
        notes.push({ kind: "tool", id, name, summary });
      } else if (block.type === "text" && str(block.text)) {
        notes.push({ kind: "text", text: str(block.text) as string });
      }
    }
    return notes;
  }

  get toolCalls(): number {
    return this.toolIds.size;
  }

  /** The task's own result: the last one not caused by a background-task notification. */
  get result(): ResultEvent | undefined {
    const primary = [...this.results].reverse().find((r) => !r.followUp) ?? this.results.at(-1);
    if (!primary) return undefined;
    const denials = this.permissionDenials;
    const cost = this.costUsd;
    return {
      ...primary.event,
      permission_denials: denials,
      ...(cost > 0 || primary.cost !== undefined ? { total_cost_usd: cost } : {}),
    };
  }

  /** Denials over every result event, once per tool_use_id. */
  get permissionDenials(): PermissionDenial[] {
    const seen = new Set<string>();
    const out: PermissionDenial[] = [];
    for (const r of this.results) {
      for (const d of r.event.permission_denials) {
        const key = d.tool_use_id ?? JSON.stringify(d);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(d);
      }
    }
    return out;
  }

  /** `total_cost_usd` is cumulative over the process, so the largest value is the session's. */
  get costUsd(): number {
    return this.results.reduce((max, r) => Math.max(max, r.cost ?? 0), 0);
  }

  get sessionId(): string | undefined {
    return this.result?.session_id ?? this.init?.session_id;
  }
}
