/**
 * The pre-push check of the agent's branch: no secret values or token patterns on added lines,
 * no secret-looking files, no protected paths, and size limits. Findings never quote the secret:
 * they end up in logs and issue comments.
 */

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
  /** `run.instructionChanges: flag`: the instruction files are exempt from the built-in list. */
  instructionsWritable?: boolean;
  limits: { maxFiles: number; maxBytes: number };
}

export { BUILT_IN_PROTECTED_PATHS } from "./protected-paths.js";
import { protectingGlob } from "./protected-paths.js";

interface TokenPattern {
  name: string;
  re: RegExp;
  /** A second look at a match, for shapes that ordinary identifiers can take. */
  accept?: (match: string) => boolean;
}

/** Digits and letters of both cases: a random token has them, a descriptive name rarely all three. */
const mixed = (s: string) => /\d/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s);

/**
 * Provider token formats, each anchored on the provider's own prefix or marker so ordinary code
 * does not match. The shapes follow the providers' documentation and the formats the maintained
 * scanners (gitleaks, GitHub secret scanning) publish; the false-positive rate on a corpus of
 * ordinary source files is measured in test/secret-patterns.test.ts.
 */
export const TOKEN_PATTERNS: TokenPattern[] = [
  // GitHub: classic tokens, fine-grained PATs, and installation tokens, also the JWT-shaped ones.
  { name: "GitHub token", re: /\bgh[pousr]_[A-Za-z0-9]{36,}/ },
  {
    name: "GitHub installation token",
    re: /\bghs_[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/,
  },
  { name: "GitHub fine-grained token", re: /\bgithub_pat_[A-Za-z0-9_]{40,}/ },
  // Model providers.
  { name: "Anthropic API key", re: /\bsk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{20,}/ },
  {
    name: "OpenAI API key",
    re: /\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b|\bsk-[A-Za-z0-9]{40,}\b/,
    accept: (m) => (/T3BlbkFJ/.test(m) || /^sk-(?:proj|svcacct|admin)-/.test(m) ? /\d/.test(m) : mixed(m)),
  },
  {
    name: "Hugging Face token",
    re: /\bhf_[A-Za-z]{34,}\b/,
    accept: (m) => /[A-Z]/.test(m) && /[a-z]/.test(m.slice(3)),
  },
  // Clouds.
  { name: "AWS access key id", re: /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/ },
  {
    name: "AWS secret access key",
    re: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/i,
  },
  { name: "Google API key", re: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/ },
  { name: "Google OAuth client secret", re: /\bGOCSPX-[A-Za-z0-9_-]{28}\b/ },
  {
    name: "Azure storage connection string",
    re: /AccountKey=[A-Za-z0-9+/]{86}==/,
    // The storage emulator's (Azurite's) fixed development key is published, not a secret.
    accept: (m) =>
      !m.startsWith(
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
      ),
  },
  { name: "DigitalOcean token", re: /\bdo[por]_v1_[a-f0-9]{64}\b/ },
  // Payments and SaaS.
  { name: "Stripe key", re: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,}\b/ },
  { name: "Slack token", re: /\bxox[abposre]-[A-Za-z0-9-]{10,}/ },
  { name: "Slack app token", re: /\bxapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{32,}\b/ },
  { name: "Slack webhook", re: /hooks\.slack\.com\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+/ },
  { name: "SendGrid key", re: /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/ },
  { name: "Twilio key", re: /\bSK[0-9a-f]{32}\b/ },
  { name: "Shopify token", re: /\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b/ },
  { name: "Databricks token", re: /\bdapi[a-f0-9]{32}(?:-\d)?\b/ },
  { name: "Linear API key", re: /\blin_api_[A-Za-z0-9]{40}\b/ },
  // Package registries and forges.
  { name: "npm token", re: /\bnpm_[A-Za-z0-9]{36}\b/ },
  { name: "PyPI token", re: /\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}/ },
  { name: "GitLab token", re: /\bgl(?:pat|ptt|dt|rt|cbt|oas|ft)-[A-Za-z0-9_-]{20,}/ },
  // Generic shapes that carry credentials wherever they come from.
  {
    name: "JSON Web Token",
    re: /\beyJ[A-Za-z0-9_-]{15,}\.eyJ[A-Za-z0-9_-]{15,}\.[A-Za-z0-9_-]{20,}/,
  },
  { name: "private key block", re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  {
    name: "credentials in a URL",
    re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/'"`]{1,64}:[^\s:@/'"`]{8,}@[A-Za-z0-9.-]+/,
    accept: (m) => !/:\/\/[^:]*:(?:\$|\{|<|%|\*+@|password@|pass@|secret@|xxx)/i.test(m),
  },
];

/** Whether the text holds a token of this shape (every match gets the pattern's second look). */
export function tokenIn(text: string, t: TokenPattern): boolean {
  if (!t.accept) return t.re.test(text);
  const re = new RegExp(t.re.source, t.re.flags.includes("g") ? t.re.flags : `${t.re.flags}g`);
  for (const m of text.matchAll(re)) if (t.accept(m[0])) return true;
  return false;
}

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
      if (tokenIn(l.text, t))
        report({ check: "token-pattern", path: l.path, detail: `${t.name} pattern on added line ${l.line}` });
    }
  }

  const ownGlobs = [input.configPath ?? ".github/aegis.yml", ...input.protectedPaths];
  const writable = { instructionsWritable: input.instructionsWritable === true };
  for (const p of input.changedPaths) {
    const glob = protectingGlob(p, ownGlobs, writable);
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
