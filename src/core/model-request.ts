/**
 * What a model call from the room may ask the provider to do. The model proxy (adapters/
 * model-proxy.ts) forwards only the CLI's routes, but a route's body can still make the
 * provider's servers act for the room, past its egress rules and with the organisation's key:
 *
 * - fetch a URL of the room's choosing (Anthropic's `web_fetch` tool, an image or document given
 *   by URL; OpenAI's `input_image`/`input_file` by URL) — a request out, carrying whatever the
 *   URL encodes;
 * - connect to an MCP server of the room's choosing (Anthropic's `mcp_servers`, OpenAI's `mcp`
 *   tool) — a two-way channel out;
 * - read the organisation's stored data (files by id, vector stores through `file_search`, stored
 *   responses and prompts, code-execution containers).
 *
 * Each is refused, wherever it sits in the body. What the CLIs use stays: their own tools (run
 * by the CLI, inside the room), inline images and documents, and web search (queries go to the
 * provider's search, not to an address the room picks).
 */

export type ModelScheme = "anthropic" | "openai";

/** Tool types the provider runs itself that the room may ask for. Client tools have no type, or these. */
const ANTHROPIC_TOOL_TYPES = [
  /^custom$/,
  // Client tools: run by the CLI, in the room.
  /^(bash|text_editor|computer|memory)_\d{8}$/,
  /^web_search_\d{8}$/,
];
const OPENAI_TOOL_TYPES = [
  /^function$/,
  /^custom$/,
  /^local_shell$/,
  /^web_search(_preview)?(_\d{4}_\d{2}_\d{2})?$/,
  // Codex groups its own tools under a namespace; what it holds is checked in turn.
  /^namespace$/,
];

/**
 * Types that make the provider act beyond the model, refused wherever they appear in a body
 * (Codex also lists tools inside its input, in an `additional_tools` item).
 */
const PROVIDER_ACTIONS: Record<ModelScheme, RegExp> = {
  anthropic: /^(web_fetch_\d{8}|code_execution_\d{8}|mcp_toolset|mcp_tool_use|container_upload)$/,
  openai: /^(mcp|file_search|code_interpreter|image_generation|item_reference)$/,
};

/** Top-level fields that reach stored data or servers beyond the model. */
const ANTHROPIC_FIELDS = ["mcp_servers", "container"];
const OPENAI_FIELDS = ["previous_response_id", "conversation", "prompt", "background"];

/**
 * Why the provider must not be asked this, or undefined. `body` is the parsed JSON of a POST to
 * one of the CLI's routes.
 */
export function refusedRequest(scheme: ModelScheme, body: unknown): string | undefined {
  if (!isRecord(body)) return "the request body is not a JSON object";
  for (const field of scheme === "anthropic" ? ANTHROPIC_FIELDS : OPENAI_FIELDS)
    if (body[field] !== undefined && body[field] !== null) return `the request sets ${field}`;
  return refusedTools(scheme, body.tools, 0) ?? remoteReference(scheme, body, 0);
}

/** A tool in `tools` (a namespace's included) that is not one the CLI runs itself or web search. */
function refusedTools(scheme: ModelScheme, tools: unknown, depth: number): string | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools) || depth > 4) return "the tools are not a list of tools";
  const allowed = scheme === "anthropic" ? ANTHROPIC_TOOL_TYPES : OPENAI_TOOL_TYPES;
  for (const tool of tools) {
    if (!isRecord(tool)) return "a tool is not an object";
    const type = tool.type;
    if (type === undefined && scheme === "anthropic") continue;
    if (typeof type !== "string" || !allowed.some((re) => re.test(type)))
      return `the request asks for the provider's ${JSON.stringify(String(type))} tool`;
    if (type === "namespace") {
      const why = refusedTools(scheme, tool.tools, depth + 1);
      if (why) return why;
    }
  }
  return undefined;
}

/** Deeper than this, a body is refused rather than walked: no CLI nests that far. */
const MAX_DEPTH = 64;

/** A content block anywhere in the body that makes the provider fetch or read something. */
function remoteReference(scheme: ModelScheme, value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return "the request nests too deeply to check";
  if (Array.isArray(value)) {
    for (const item of value) {
      const why = remoteReference(scheme, item, depth + 1);
      if (why) return why;
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  if (typeof value.type === "string" && PROVIDER_ACTIONS[scheme].test(value.type))
    return `the request holds a ${JSON.stringify(value.type)} item, which the provider would act on`;
  if (scheme === "anthropic") {
    // { type: "image" | "document", source: { type: "url" | "file", … } }
    const source = value.source;
    if (isRecord(source) && (source.type === "url" || source.type === "file"))
      return `a content block asks the provider to fetch its ${String(source.type)} source`;
  } else {
    if (
      value.type === "input_image" &&
      typeof value.image_url === "string" &&
      !value.image_url.startsWith("data:")
    )
      return "an input image asks the provider to fetch a URL";
    if (value.type === "input_image" && value.file_id !== undefined)
      return "an input image names a stored file";
    if (value.type === "input_file" && (value.file_url !== undefined || value.file_id !== undefined))
      return "an input file names a URL or a stored file";
  }
  for (const child of Object.values(value)) {
    const why = remoteReference(scheme, child, depth + 1);
    if (why) return why;
  }
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
