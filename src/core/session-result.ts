/**
 * What one Claude Code session produced, as the runner adapter reports it and the pure outcome
 * classifier reads it. Kept here (types only) so `core/` never imports from `adapters/`.
 */
import type { ToolCallLine } from "./tool-calls.js";

export interface PermissionDenial {
  tool_name: string;
  tool_use_id?: string;
  tool_input?: unknown;
}

/** The fields of Claude Code's final stream-json `result` event that aegis relies on. */
export interface ResultEvent {
  /** `success`, `error_max_turns`, `error_max_budget_usd`, `error_during_execution`, … */
  subtype: string;
  /** True on API errors even when `subtype` is `success`: always read it. */
  is_error: boolean;
  num_turns: number;
  /** Final assistant text; absent when the session stopped on max turns. */
  result?: string;
  session_id?: string;
  total_cost_usd?: number;
  usage?: Record<string, unknown>;
  permission_denials: PermissionDenial[];
  /** `completed`, `max_turns`, `api_error`, `budget_exhausted`, … (newer CLIs only). */
  terminal_reason?: string;
  duration_ms?: number;
  api_error_status?: number | null;
  api_error_type?: string;
  /** Messages the CLI gives for error subtypes (e.g. "Reached maximum number of turns (25)"). */
  errors?: string[];
}

export interface InitEvent {
  session_id?: string;
  tools: string[];
  model?: string;
}

export interface SessionResult {
  exitCode: number | null;
  /** The wall-clock timeout fired and the process group was killed. */
  timedOut: boolean;
  /** The primary result event; undefined when the CLI died without one. */
  result?: ResultEvent;
  init?: InitEvent;
  sessionId?: string;
  /** tool_use blocks the model issued (allowed or denied). */
  toolCalls: number;
  /** The first of them, one line each (core/tool-calls.ts). */
  calls?: ToolCallLine[];
  permissionDenials: PermissionDenial[];
  /** Cost over every result event of the session (follow-up results are cumulative). */
  costUsd: number;
  stderrTail: string;
  durationMs: number;
}
