/**
 * The session's transcript as a maintainer reads it: the JSONL stream Claude Code keeps of the
 * session (every message, tool call and tool result), with the job's secrets masked and the room's
 * long paths shortened. It is published as a workflow artifact, which everyone who can read the
 * repository can download — a public repository's included — so masking is by value, in every
 * form the secret scan knows (plain, base64 at each offset, JSON-escaped).
 */
import { inert } from "./inert.js";
import { secretForms } from "./secret-scan.js";

/** A transcript beyond this is cut at a line (a long session's tool output can be huge). */
export const TRANSCRIPT_MAX_BYTES = 32 * 1024 * 1024;

export const MASK = "***";

/** Where a session's transcript can be read, or why there is none to read. */
export type TranscriptLink = { url: string; name: string } | { missing: string };

/**
 * The artifact's file name (with `skipArchive` it is the artifact's name too): unique per task,
 * attempt and fix round within a workflow run, and only of characters artifact names allow.
 */
export function transcriptFileName(taskId: string, attempt: number, fixRound?: number): string {
  const safe = taskId.replace(/[^A-Za-z0-9._-]/g, "_");
  return `aegis-transcript-${safe}-attempt-${attempt}${fixRound ? `-round-${fixRound}` : ""}.jsonl`;
}

export interface ReadableOptions {
  /** Values that must not be published (the API keys and tokens the job holds). */
  secrets: readonly string[];
  /** Long paths of this job's room and what a reader sees instead, e.g. the checkout as `<checkout>`. */
  paths: readonly { from: string; to: string }[];
  maxBytes?: number;
}

export interface ReadableTranscript {
  text: string;
  /** How many secret values were masked (a secret in a transcript is worth a warning). */
  masked: number;
  truncated: boolean;
}

export function readableTranscript(raw: string, opts: ReadableOptions): ReadableTranscript {
  let text = raw;
  let masked = 0;
  // Longest first: a secret that contains another is masked whole.
  const forms = [
    ...new Set(
      opts.secrets
        .filter((s) => s.length >= 8)
        .flatMap((s) => [...secretForms(s), JSON.stringify(s).slice(1, -1)]),
    ),
  ].sort((a, b) => b.length - a.length);
  for (const form of forms) {
    const parts = text.split(form);
    if (parts.length > 1) {
      masked += parts.length - 1;
      text = parts.join(MASK);
    }
  }
  // Paths: longest first, so the checkout inside the room's folder is named as the checkout.
  for (const { from, to } of [...opts.paths]
    .filter((p) => p.from.length > 1)
    .sort((a, b) => b.from.length - a.from.length))
    text = text.split(from).join(to);
  const max = opts.maxBytes ?? TRANSCRIPT_MAX_BYTES;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return { text, masked, truncated: false };
  const head = bytes.subarray(0, max).toString("utf8");
  const cut = head.lastIndexOf("\n");
  const kept = cut < 0 ? "" : head.slice(0, cut + 1);
  const note = JSON.stringify({ type: "aegis", note: `transcript cut at ${max} bytes of ${bytes.length}` });
  return { text: `${kept}${note}\n`, masked, truncated: true };
}

/** An artifact page aegis built itself (server, owner, repo, run and artifact id): nothing else is linked. */
const ARTIFACT_PAGE = /^https?:\/\/[^\s()<>[\]]+\/actions\/runs\/\d+\/artifacts\/\d+$/;

/** The table cell that links the transcript, or says why there is none. */
export function transcriptCell(link: TranscriptLink | string | undefined): string | undefined {
  if (link === undefined) return undefined;
  if (typeof link === "string") return ARTIFACT_PAGE.test(link) ? `[session transcript](${link})` : undefined;
  if ("url" in link) return ARTIFACT_PAGE.test(link.url) ? `[${link.name}](${link.url})` : undefined;
  return `none (${inert(link.missing, 200)})`;
}
