// What run mode writes for people: the pull request, the issue comment when a check or the test
// ratchet refused the work, and the step summary. Pure. The agent's own words are untrusted
// (they could carry @mentions, tracking images or a secret it read), so they are redacted and
// shown fenced, as text.
import { renderToolCalls, type ToolCallLine } from "./tool-calls.js";
import { type TranscriptLink, transcriptCell } from "./transcript.js";
import { code, inert } from "./inert.js";
import { BLOCKED_MARKER, COMPLETE_MARKER } from "./brief.js";
import type { Violation } from "./secret-scan.js";
import { describeViolations, type TestRun } from "./run-decisions.js";
import { fenced, sanitizeLine, sanitizeUntrusted } from "./sanitize.js";
import { cell, money } from "./status.js";

export const FAILURE_MARKER = "<!-- aegis:run-failure -->";

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

export function redactAll(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("***");
  return out;
}

/** The session's final message without its completion marker, sanitized, capped and redacted. */
export function agentSummary(text: string | undefined, secrets: readonly string[], maxBytes = 4000): string {
  const kept = (text ?? "")
    .split(/\r?\n/)
    .filter((l) => {
      const t = l.trim().replace(/^[*_`>\s]+|[*_`\s]+$/g, "");
      return t !== COMPLETE_MARKER && !t.startsWith(`${BLOCKED_MARKER}:`);
    })
    .join("\n")
    .trim();
  return sanitizeUntrusted(redactAll(kept, secrets), { maxBytes });
}

export interface PrFacts {
  issue: number;
  taskId: string;
  category: string;
  attempt: number;
  maxAttempts: number;
  /** Set when this attempt is a fix round of an open PR. */
  fixRound?: { number: number; max: number };
  outcome: string;
  summary: string;
  turns: number;
  costUsd: number;
  durationMs: number;
  tests?: string;
  model?: string;
  commits: number;
  files: number;
  leftOut: string[];
  /** Changed files the repository's CI runs as commands (core/protected-paths.ts). */
  ciFiles?: string[];
  /** Instruction files for agents the change touches (`run.instructionChanges: flag`). */
  instructionFiles?: string[];
  /** The session's transcript artifact (core/transcript.ts). */
  transcript?: TranscriptLink;
  /** The new dependencies' look-up in GitHub's advisory database (modes/dependency-check.ts). */
  dependencies?: {
    checked: number;
    severe: {
      ghsaId: string;
      severity: string;
      summary: string;
      url: string;
      name: string;
      version?: string;
    }[];
    problem?: string;
  };
}

export function prTitle(issueTitle: string): string {
  return sanitizeLine(issueTitle, 240) || "aegis change";
}

export function prBody(f: PrFacts): string {
  const rows: [string, string][] = [
    [
      "Task",
      `\`${f.taskId}\` (${f.category}), ${f.fixRound ? `fix round ${f.fixRound.number} of ${f.fixRound.max}` : `attempt ${f.attempt} of ${f.maxAttempts}`}`,
    ],
    ["Outcome", f.outcome],
    ["Turns", String(f.turns)],
    ["Cost", money(f.costUsd)],
    ["Session time", duration(f.durationMs)],
    ["Tests (base → branch)", f.tests ?? "no test command configured"],
    ["Change", `${f.commits} commit(s), ${f.files} file(s)`],
  ];
  if (f.model) rows.push(["Model", `\`${sanitizeLine(f.model, 80)}\``]);
  const transcript = transcriptCell(f.transcript);
  if (transcript) rows.push(["Transcript", transcript]);
  const out = [
    `Fixes #${f.issue}`,
    "",
    "Written by a Claude Code session run by aegis. The action checked the diff (no secrets, no protected paths, size limits) before pushing.",
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    "### The agent's summary",
    "",
    f.summary ? fenced(f.summary, "text") : "_The session ended without a final message._",
  ];
  if (f.ciFiles?.length)
    out.push(
      "",
      `⚠️ **Changes what CI runs:** ${f.ciFiles.map((p) => code(p, 120)).join(", ")}. The repository's CI runs the agent's code on this PR with whatever its job holds: read these before you approve a run or merge.`,
    );
  if (f.instructionFiles?.length)
    out.push(
      "",
      `⚠️ **Changes the repository's instructions for agents:** ${f.instructionFiles.map((p) => code(p, 120)).join(", ")}. Agents follow these files once they merge; aegis's own sessions and reviews read the default branch's version until then. Read them before you merge.`,
    );
  const deps = f.dependencies;
  if (deps?.severe.length) {
    out.push(
      "",
      `⚠️ **New dependencies with known vulnerabilities** (GitHub's advisory database, ${deps.checked} added or upgraded looked up):`,
      "",
    );
    for (const h of deps.severe.slice(0, 20))
      out.push(
        `- ${code(`${h.name}${h.version ? `@${h.version}` : ""}`, 120)}: **${sanitizeLine(h.severity, 20)}** [${sanitizeLine(h.ghsaId, 40)}](${encodeURI(h.url)}) ${inert(h.summary, 160)}`,
      );
  }
  if (deps?.problem)
    out.push(
      "",
      `⚠️ **New dependencies not checked for advisories:** ${inert(deps.problem, 300)}. Check them before you merge.`,
    );
  if (f.leftOut.length)
    out.push(
      "",
      `Not committed (they look like credentials): ${f.leftOut
        .slice(0, 10)
        .map((p) => code(p, 80))
        .join(", ")}.`,
    );
  return out.join("\n");
}

/** The issue comment when the checks or the ratchet stopped the push: which check, never the secret. */
export function failureComment(input: {
  taskId: string;
  reason: string;
  violations: Violation[];
  testCommand?: string;
  branchTests?: TestRun;
}): string {
  const out = [
    FAILURE_MARKER,
    `### aegis · task \`${input.taskId}\` was not pushed`,
    "",
    inert(input.reason, 400),
  ];
  if (input.violations.length) {
    out.push("", "Checks that failed:", "");
    for (const v of input.violations.slice(0, 20))
      out.push(`- **${v.check}**${v.path ? ` ${code(v.path, 120)}` : ""}: ${inert(v.detail, 200)}`);
  }
  if (input.branchTests && input.testCommand) {
    const lines = input.branchTests.tail.split("\n").slice(-40).join("\n");
    out.push(
      "",
      `${code(input.testCommand, 200)} ${input.branchTests.timedOut ? "timed out" : `exited ${input.branchTests.exitCode ?? "without a code"}`} on the branch; the end of its output:`,
      "",
      "<details><summary>Test output (tail)</summary>",
      "",
      fenced(sanitizeUntrusted(lines, { maxBytes: 5000 }), "text"),
      "",
      "</details>",
    );
  }
  return out.join("\n");
}

export interface RunSummary {
  taskId: string;
  issue?: number;
  state?: string;
  outcome?: string;
  reason?: string;
  turns?: number;
  costUsd?: number;
  sessionMs?: number;
  wallMs: number;
  pr?: { number: number; url: string };
  violations?: Violation[];
  tests?: string;
  model?: string;
  leftOut?: string[];
  apiCalls: number;
  note?: string;
  /** Outbound connections the room's egress rules refused (undefined: not limited). */
  egress?: EgressFigures;
  /** The session's tool calls, their inputs already masked (core/tool-calls.ts). */
  toolCalls?: { calls: ToolCallLine[]; total: number };
  transcript?: TranscriptLink;
}

export interface EgressFigures {
  refused: number;
  destinations: string[];
  lookupsRefused?: number;
  names?: string[];
}

/** "3 refused (198.18.0.2:8080 (×2), [fd42::2]:8080)": what a maintainer adds to `run.egress`. */
export function describeEgress(e: EgressFigures): string {
  const parts: string[] = [];
  if (e.refused) {
    const where = e.destinations.length ? ` — to ${e.destinations.join(", ")}` : "";
    parts.push(`${e.refused} outbound connection attempt(s) refused${where}`);
  }
  if (e.lookupsRefused) {
    const names = e.names?.length ? ` — ${e.names.map((n) => `\`${n}\``).join(", ")}` : "";
    parts.push(`${e.lookupsRefused} name lookup(s) refused${names}`);
  }
  if (!parts.length) return "nothing refused";
  return `${parts.join("; ")}; add what the build needs to \`run.egress\``;
}

export function renderRunSummary(s: RunSummary): string {
  const out = [`## aegis run · task \`${s.taskId}\``, ""];
  if (s.note) out.push(s.note, "");
  if (s.outcome === undefined) return out.join("\n");
  const overhead = Math.max(0, s.wallMs - (s.sessionMs ?? 0));
  const rows: [string, string][] = [
    ["Issue", s.issue ? `#${s.issue}` : "—"],
    ["Outcome", `**${s.outcome}**${s.reason ? ` — ${cell(s.reason, 300)}` : ""}`],
    ["Task state", s.state ?? "—"],
    ["Pull request", s.pr ? `[#${s.pr.number}](${s.pr.url})` : "none"],
    ["Turns", String(s.turns ?? 0)],
    ["Cost", money(s.costUsd ?? 0)],
    ["Session time", duration(s.sessionMs ?? 0)],
    ["Action overhead", `${duration(overhead)} (wall ${duration(s.wallMs)} minus the session)`],
    [
      "Checks",
      s.violations === undefined
        ? "not run (nothing to push)"
        : s.violations.length
          ? cell(describeViolations(s.violations), 400)
          : "passed",
    ],
    ["Tests (base → branch)", s.tests ?? "no test command"],
    ["GitHub API calls", String(s.apiCalls)],
    ["Egress (run.egress)", s.egress ? cell(describeEgress(s.egress), 400) : "not limited"],
  ];
  if (s.model) rows.push(["Model", s.model]);
  const transcript = transcriptCell(s.transcript);
  if (transcript) rows.push(["Transcript", transcript]);
  if (s.leftOut?.length) rows.push(["Left uncommitted", s.leftOut.map((p) => code(p, 60)).join(", ")]);
  out.push("| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`), "");
  if (s.toolCalls) out.push(renderToolCalls(s.toolCalls.calls, s.toolCalls.total));
  return out.join("\n");
}
