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
 * by the CLI, inside the room), inline images and documents, and Anthropic's web search (queries
 * go to the provider's search, not to an address the room picks; OpenAI's can open a page, so the
 * proxy takes it out of the tool lists, see withoutOpenPageSearch). The body the proxy forwards is the one checked, serialised again, so a duplicate
 * key read differently upstream cannot slip past.
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
  // Not web_search: OpenAI's has `open_page` and `find_in_page` actions, a fetch of a URL the
  // model (which the room can steer) picks.

  // Codex groups its own tools under a namespace; what it holds is checked in turn.
  /^namespace$/,
];

/**
 * Types that make the provider act beyond the model, refused wherever they appear in a body
 * (Codex also lists tools inside its input, in an `additional_tools` item).
 */
const PROVIDER_ACTIONS: Record<ModelScheme, RegExp> = {
  anthropic: /^(web_fetch_\d{8}|code_execution_\d{8}|mcp_toolset|mcp_tool_use|container_upload)$/,
  openai:
    /^(mcp|file_search|code_interpreter|image_generation|item_reference|shell|tool_search|container_reference|web_search\w*)$/,
};

/** Top-level fields that reach stored data or servers beyond the model. */
const ANTHROPIC_FIELDS = ["mcp_servers", "container"];
const OPENAI_FIELDS = ["previous_response_id", "conversation", "prompt", "background"];

/**
 * The body without OpenAI's web search tool, wherever a `tools` list offers it: Codex offers it
 * by default, and its `open_page` action fetches a page the model picks. The session goes on
 * without it; anything else is left for `refusedRequest` to judge.
 */
export function withoutOpenPageSearch(scheme: ModelScheme, body: unknown, depth = 0): unknown {
  if (scheme !== "openai" || depth > MAX_DEPTH) return body;
  if (Array.isArray(body)) return body.map((item) => withoutOpenPageSearch(scheme, item, depth + 1));
  if (!isRecord(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body))
    out[key] =
      key === "tools" && Array.isArray(value)
        ? value
            .filter((t) => !(isRecord(t) && typeof t.type === "string" && /^web_search/.test(t.type)))
            .map((t) => withoutOpenPageSearch(scheme, t, depth + 1))
        : withoutOpenPageSearch(scheme, value, depth + 1);
  return out;
}

/**
 * Why the provider must not be asked this, or undefined. `body` is the parsed JSON of a POST to
 * one of the CLI's routes.
 */
export function refusedRequest(scheme: ModelScheme, body: unknown): string | undefined {
  if (!isRecord(body)) return "the request body is not a JSON object";
  for (const field of scheme === "anthropic" ? ANTHROPIC_FIELDS : OPENAI_FIELDS)
    if (body[field] !== undefined && body[field] !== null) return `the request sets ${field}`;
  if (scheme === "openai" && Array.isArray(body.input))
    for (const item of body.input)
      // An input item with an id and no type is read as a reference to a stored item.
      if (isRecord(item) && item.id !== undefined && item.type === undefined)
        return "an input item refers to a stored item by id";
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
  // Tools listed anywhere (Codex puts some in an input item) meet the same allow-list.
  if (Array.isArray(value.tools)) {
    const why = refusedTools(scheme, value.tools, 0);
    if (why) return why;
  }
  const environment = value.environment;
  if (
    isRecord(environment) &&
    typeof environment.type === "string" &&
    environment.type.startsWith("container")
  )
    return "the request asks for a provider-hosted container";
  if (scheme === "anthropic") {
    // { type: "image" | "document", source: { type: "url" | "file", … } }
    const source = value.source;
    if (isRecord(source) && (source.type === "url" || source.type === "file"))
      return `a content block asks the provider to fetch its ${String(source.type)} source`;
  } else {
    // An image or file travels inline (a data: URL, base64), never as an address to fetch. Only
    // content items are judged: a tool's parameter schema may well have a property of that name.
    if (value.type === "input_image" || value.type === "image_url") {
      const imageUrl = isRecord(value.image_url) ? value.image_url.url : value.image_url;
      if (value.image_url !== undefined && !(typeof imageUrl === "string" && imageUrl.startsWith("data:")))
        return "an input image asks the provider to fetch a URL";
    }
    if (
      value.type === "input_file" &&
      typeof value.file_data === "string" &&
      !value.file_data.startsWith("data:") &&
      value.file_data.includes("://")
    )
      return "an input file's data is a URL";
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
