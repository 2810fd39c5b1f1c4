/**
 * The pre-push check of the agent's branch: no secret values or token patterns on added lines,
 * no secret-looking files, no protected paths, and size limits. Findings never quote the secret:
 * they end up in logs and issue comments.
 */
import { matchesAny } from "./glob.js";

export type ScanCheck = "known-secret" | "token-pattern" | "protected-path" | "secret-file" | "size";

export interface Violation {
  check: ScanCheck;
  path?: string;
  detail: string;
}

export interface ScanInput {
  /** Unified diff of the branch against its base (`git diff base...HEAD`). */
  diffText: string;
  /** Every path the branch adds, modifies, renames or deletes. */
  changedPaths: string[];
  /** Values that must never appear (the API keys the run holds, the GitHub token). */
  knownSecrets: string[];
  /** Extra protected globs (config `run.protectedPaths`); the built-in ones always apply. */
  protectedPaths: string[];
  /** The aegis config file path; protected too. Default `.github/aegis.yml`. */
  configPath?: string;
  limits: { maxFiles: number; maxBytes: number };
}

export const BUILT_IN_PROTECTED_PATHS = [".github/workflows/**", "hooks/**"];

interface TokenPattern {
  name: string;
  re: RegExp;
}

/** Provider token formats; each tight enough that ordinary code does not match. */
const TOKEN_PATTERNS: TokenPattern[] = [
  { name: "GitHub token", re: /\bgh[pousr]_[A-Za-z0-9]{30,}/ },
  { name: "GitHub fine-grained token", re: /\bgithub_pat_[A-Za-z0-9_]{40,}/ },
  { name: "Anthropic API key", re: /\bsk-ant-[A-Za-z0-9_-]{20,}/ },
  { name: "OpenAI API key", re: /\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}/ },
  { name: "AWS access key id", re: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/ },
  { name: "private key block", re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  { name: "Slack token", re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
  { name: "Slack webhook", re: /hooks\.slack\.com\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+/ },
];

/** Known secrets shorter than this are not searched for: they would match ordinary text. */
const MIN_SECRET_LENGTH = 8;

interface AddedLine {
  path: string;
  line: number;
  text: string;
}

/** Added lines of a unified diff with their new-file path and line number. */
export function addedLines(diffText: string): AddedLine[] {
  const out: AddedLine[] = [];
  let path = "";
  let newLine = 0;
  let inHunk = false;
  for (const raw of diffText.split("\n")) {
    if (raw.startsWith("diff --git ")) {
      inHunk = false;
      const m = / b\/(.*)$/.exec(raw);
      path = m ? unquote(m[1] ?? "") : "";
      continue;
    }
    if (!inHunk && raw.startsWith("+++ ")) {
      const target = raw.slice(4).trim();
      if (target !== "/dev/null") path = unquote(target).replace(/^b\//, "");
      continue;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      inHunk = true;
      newLine = Number(hunk[1]);
      continue;
    }
    if (!inHunk) continue;
    if (raw.startsWith("+")) {
      out.push({ path, line: newLine, text: raw.slice(1) });
      newLine++;
    } else if (raw.startsWith(" ")) {
      newLine++;
    }
  }
  return out;
}

/** git quotes unusual file names: "b/a\tb.txt". Enough of C unquoting for paths. */
function unquote(p: string): string {
  if (!(p.startsWith('"') && p.endsWith('"'))) return p;
  const map: Record<string, string> = { t: "\t", n: "\n", '"': '"', "\\": "\\" };
  const bytes: number[] = [];
  const s = p.slice(1, -1);
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch !== "\\") {
      bytes.push(...Buffer.from(ch, "utf8"));
      continue;
    }
    const oct = /^[0-7]{3}/.exec(s.slice(i + 1));
    if (oct) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else {
      bytes.push(...Buffer.from(map[s[i + 1] ?? ""] ?? s[i + 1] ?? "", "utf8"));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/**
 * Forms a secret takes when encoded: itself, and base64 at each of the three byte alignments it
 * can have inside a longer encoded string (the edge characters that depend on neighbours dropped).
 */
export function secretForms(secret: string): string[] {
  const forms = new Set([secret]);
  const raw = Buffer.from(secret, "utf8");
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), raw])
      .toString("base64")
      .replace(/=+$/, "");
    // Drop the characters that mixed in the padding bytes in front, and the last (partial) one.
    const start = shift === 0 ? 0 : shift + 1;
    const core = b64.slice(start, b64.length - 1);
    if (core.length >= MIN_SECRET_LENGTH) forms.add(core);
  }
  return [...forms];
}

function secretFileReason(p: string, added: AddedLine[]): string | undefined {
  const base = p.split("/").at(-1) ?? p;
  if (
    base === ".env" ||
    (base.startsWith(".env.") && ![".env.example", ".env.sample", ".env.template"].includes(base))
  ) {
    return "environment file";
  }
  if (/\.(pem|p12|pfx|key)$/i.test(base)) return "key or certificate file";
  if (/^id_(rsa|dsa|ecdsa|ed25519)/.test(base) && !base.endsWith(".pub")) return "SSH private key file";
  if (base === ".git-credentials" || base === ".netrc") return "credential file";
  if (base === ".npmrc" && added.some((l) => l.path === p && /_auth(Token)?\s*=/.test(l.text)))
    return ".npmrc with an auth token";
  return undefined;
}

export function scanDiff(input: ScanInput): Violation[] {
  const violations: Violation[] = [];
  const added = addedLines(input.diffText);

  // Numbered by position in the caller's list, so a finding says which value leaked without it.
  const forms = input.knownSecrets
    .map((s, i) => ({ index: i + 1, secret: s }))
    .filter((s) => s.secret.length >= MIN_SECRET_LENGTH)
    .map((s) => ({ index: s.index, forms: secretForms(s.secret) }));
  const reported = new Set<string>();
  const report = (v: Violation): void => {
    const key = `${v.check}|${v.path ?? ""}|${v.detail}`;
    if (!reported.has(key)) {
      reported.add(key);
      violations.push(v);
    }
  };

  for (const l of added) {
    for (const s of forms) {
      if (s.forms.some((f) => l.text.includes(f))) {
        report({
          check: "known-secret",
          path: l.path,
          detail: `a secret value the run holds (#${s.index}) appears on added line ${l.line}`,
        });
      }
    }
    for (const t of TOKEN_PATTERNS) {
      if (t.re.test(l.text))
        report({ check: "token-pattern", path: l.path, detail: `${t.name} pattern on added line ${l.line}` });
    }
  }

  const protectedGlobs = [
    ...BUILT_IN_PROTECTED_PATHS,
    input.configPath ?? ".github/aegis.yml",
    ...input.protectedPaths,
  ];
  for (const p of input.changedPaths) {
    const glob = matchesAny(p, protectedGlobs);
    if (glob) report({ check: "protected-path", path: p, detail: `changes a protected path (${glob})` });
    const why = secretFileReason(p, added);
    if (why) report({ check: "secret-file", path: p, detail: `adds or changes a ${why}` });
  }

  if (input.changedPaths.length > input.limits.maxFiles) {
    report({
      check: "size",
      detail: `changes ${input.changedPaths.length} files; the limit is ${input.limits.maxFiles}`,
    });
  }
  const bytes = Buffer.byteLength(input.diffText, "utf8");
  if (bytes > input.limits.maxBytes) {
    report({ check: "size", detail: `the diff is ${bytes} bytes; the limit is ${input.limits.maxBytes}` });
  }
  return violations;
}
