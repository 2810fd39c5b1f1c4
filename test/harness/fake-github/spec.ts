// Loads GitHub's OpenAPI description, patches it so Ajv accepts it, and answers two questions per
// request: which operation is this (our own precompiled router: openapi-backend's matcher
// recompiles ~1100 regexes per call), and do the request and the response satisfy the schemas.
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import addFormatsModule from "ajv-formats";
import { OpenAPIBackend, type Document, type Operation } from "openapi-backend";

// ajv-formats is CommonJS: under NodeNext its default export arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as unknown as (ajv: never) => void;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SPEC_FILE = path.join(ROOT, "node_modules/@octokit/openapi/generated/api.github.com.json");
const CACHE_DIR = path.join(ROOT, "node_modules/.cache/aegis-fake-github");
// Bump when patchSpec changes so stale caches are ignored.
const PATCH_VERSION = 2;

type Json = Record<string, unknown>;

/** Annotation keys that do not affect validation; dropping them shrinks the cached file ~3x. */
const ANNOTATIONS = new Set(["description", "summary", "example", "examples", "externalDocs", "x-github"]);

/** Objects whose keys are names (a property called `description` must survive). */
const NAME_MAPS = new Set([
  "properties",
  "patternProperties",
  "schemas",
  "responses",
  "headers",
  "requestBodies",
  "securitySchemes",
  "paths",
  "content",
  "parameters",
  "definitions",
]);

/**
 * The three patches TESTING.md lists: `nullable` without `type` becomes `anyOf [..., null]`,
 * nullable enums list `null`, and `oneOf` becomes `anyOf` (GitHub's alternatives overlap).
 */
function patchNode(node: unknown, parentKey: string): unknown {
  if (Array.isArray(node)) return node.map((n) => patchNode(n, ""));
  if (node === null || typeof node !== "object") return node;
  const src = node as Json;
  const out: Json = {};
  const isNameMap = NAME_MAPS.has(parentKey);
  for (const [k, v] of Object.entries(src)) {
    if (!isNameMap && ANNOTATIONS.has(k)) continue;
    out[k === "oneOf" && !isNameMap ? "anyOf" : k] = patchNode(v, k);
  }
  if (isNameMap || out.nullable !== true) return out;
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  if (out.type === undefined) {
    const inner: Json = { ...out };
    delete inner.nullable;
    return { anyOf: [inner, { type: "null" }] };
  }
  return out;
}

export async function loadPatchedSpec(): Promise<{ spec: Document; cached: boolean }> {
  const st = await stat(SPEC_FILE);
  const cacheFile = path.join(CACHE_DIR, `spec-v${PATCH_VERSION}-${Math.floor(st.mtimeMs)}-${st.size}.json`);
  try {
    return { spec: JSON.parse(await readFile(cacheFile, "utf8")) as Document, cached: true };
  } catch {
    // No usable cache: build it below.
  }
  const raw = JSON.parse(await readFile(SPEC_FILE, "utf8")) as Json;
  delete (raw.components as Json | undefined)?.examples;
  const spec = patchNode(raw, "") as Document;
  await mkdir(CACHE_DIR, { recursive: true });
  // Write then rename: parallel test workers may build the cache at the same time.
  const tmp = `${cacheFile}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, JSON.stringify(spec));
  await rename(tmp, cacheFile);
  return { spec, cached: false };
}

export interface MatchedOperation {
  operationId: string;
  /** Path template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}`. */
  template: string;
  method: string;
  /** Decoded path parameters (`heads%2Fmain` → `heads/main`). */
  params: Record<string, string>;
  operation: Operation;
}

interface CompiledRoute {
  template: string;
  regex: RegExp;
  names: string[];
  specificity: number;
  operation: Operation;
}

/** Parameters that hold slash-separated values; clients do not always percent-encode them. */
const GREEDY_TAIL =
  /\/(contents\/\{path\}|git\/ref\/\{ref\}|git\/refs\/\{ref\}|git\/matching-refs\/\{ref\}|compare\/\{basehead\})$/;

function compile(template: string, operation: Operation): CompiledRoute {
  const names: string[] = [];
  const greedy = GREEDY_TAIL.test(template);
  const parts = template.split(/(\{[^}]+\})/);
  let pattern = "";
  parts.forEach((part, i) => {
    const m = /^\{(.+)\}$/.exec(part);
    if (!m) {
      pattern += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return;
    }
    names.push(m[1] ?? "");
    if (greedy && i === parts.length - 2) pattern = `${pattern.replace(/\/$/, "")}(?:/(.*))?`;
    else pattern += "([^/]+)";
  });
  const specificity = template.replace(/\{[^}]+\}/g, "").length;
  return { template, regex: new RegExp(`^${pattern}/?$`), names, specificity, operation };
}

export interface SpecValidator {
  match(method: string, pathname: string): MatchedOperation | undefined;
  validateRequest(
    m: MatchedOperation,
    req: { query: Record<string, string>; headers: Record<string, string>; body: unknown },
  ): string[];
  validateResponse(m: MatchedOperation, status: number, body: unknown): string[];
  /** True when the operation documents a JSON body for this status (used for error bodies). */
  documents(m: MatchedOperation, status: number): boolean;
}

let shared: Promise<{ validator: SpecValidator; cached: boolean }> | undefined;

/**
 * The validator is stateless, so one per process is shared by every fake: later fakes start in
 * a few ms and reuse the Ajv validators already compiled (compiling one costs up to ~200 ms).
 */
export function createSpecValidator(): Promise<{ validator: SpecValidator; cached: boolean }> {
  shared ??= buildSpecValidator().catch((e: unknown) => {
    shared = undefined;
    throw new Error("fake-github: cannot load GitHub's OpenAPI description", { cause: e });
  });
  return shared;
}

async function buildSpecValidator(): Promise<{ validator: SpecValidator; cached: boolean }> {
  const { spec, cached } = await loadPatchedSpec();
  const api = new OpenAPIBackend({
    definition: spec,
    quick: true,
    strict: false,
    validate: true,
    ajvOpts: { strict: false, allErrors: false },
    customizeAjv: (ajv) => {
      addFormats(ajv as never);
      // GitHub-specific format used by pulls/create (`owner/name`).
      ajv.addFormat("repo.nwo", /^[^/]+\/[^/]+$/);
      return ajv;
    },
  });
  await api.init();
  const byMethod = new Map<string, CompiledRoute[]>();
  for (const op of api.router.getOperations()) {
    // `compare/{base}...{head}` is the legacy twin of `compare/{basehead}`; routing both would
    // make the same URL ambiguous (and openapi-backend's path parser throws on it).
    if (op.path.includes("}...{")) continue;
    const list = byMethod.get(op.method) ?? [];
    list.push(compile(op.path, op));
    byMethod.set(op.method, list);
  }
  for (const list of byMethod.values()) list.sort((a, b) => b.specificity - a.specificity);

  const fmt = (errs: { instancePath?: string; message?: string; params?: unknown }[] | null | undefined) =>
    (errs ?? []).map((e) =>
      `${e.instancePath ?? ""} ${e.message ?? ""} ${JSON.stringify(e.params ?? {})}`.trim(),
    );

  const validator: SpecValidator = {
    match(method, pathname) {
      for (const r of byMethod.get(method.toLowerCase()) ?? []) {
        const m = r.regex.exec(pathname);
        if (!m) continue;
        const params: Record<string, string> = {};
        r.names.forEach((n, i) => {
          params[n] = decodeURIComponent(m[i + 1] ?? "");
        });
        return {
          operationId: r.operation.operationId ?? "",
          template: r.template,
          method: r.operation.method,
          params,
          operation: r.operation,
        };
      }
      return undefined;
    },
    validateRequest(m, req) {
      // Re-encode params into the path so openapi-backend's own parser sees one segment each.
      // Dots are encoded too: bath-es5 (its path parser) throws on `main...topic` values. An empty
      // tail (`contents/` = the root directory) gets a placeholder, as the template needs a segment.
      const p = m.template.replace(/\{([^}]+)\}/g, (_, n: string) =>
        encodeURIComponent(m.params[n] || ".").replace(/\./g, "%2E"),
      );
      const res = api.validator.validateRequest(
        { method: m.method, path: p, query: req.query, headers: req.headers, body: req.body as never },
        m.operation,
      );
      return fmt(res.errors);
    },
    validateResponse(m, status, body) {
      return fmt(api.validator.validateResponse(body, m.operation, status).errors);
    },
    documents(m, status) {
      const responses = (m.operation.responses ?? {}) as Record<
        string,
        { content?: Record<string, unknown> }
      >;
      return responses[String(status)]?.content?.["application/json"] !== undefined;
    },
  };
  return { validator, cached };
}
