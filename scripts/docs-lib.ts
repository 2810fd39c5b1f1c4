// The README's generated reference: inputs and outputs from action.yml, configuration from the
// config's JSON Schema (itself generated from the zod schema). Pure apart from prettier, which
// formats each section the way `npm run format` would, so formatting the README never makes it
// disagree with the generator. `scripts/docs.mjs` writes; test/docs.test.ts checks.
import { format, resolveConfig } from "prettier";
import { parse } from "yaml";

export const SECTIONS = ["inputs", "outputs", "config"] as const;
export type Section = (typeof SECTIONS)[number];

/** Headings the skeleton README puts above each generated section. */
const HEADINGS: Record<Section, string> = { inputs: "Inputs", outputs: "Outputs", config: "Configuration" };

interface ActionSpec {
  inputs?: Record<string, { description?: string; required?: boolean; default?: unknown }>;
  outputs?: Record<string, { description?: string }>;
}

type JsonSchema = {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  minimum?: number;
  exclusiveMinimum?: number;
};

export const markers = (name: Section) => ({ start: `<!-- ${name}:start -->`, end: `<!-- ${name}:end -->` });

/** Text for one table cell: one line, pipes escaped (GitHub splits cells on them even in code). */
function cell(text: string): string {
  return text
    .replace(/\s*\n\s*/g, " ")
    .replace(/\|/g, "\\|")
    .trim();
}

const code = (text: string) => (text.includes("`") ? `\`\` ${text} \`\`` : `\`${text}\``);

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

export function inputsTable(action: ActionSpec): string {
  const rows = Object.entries(action.inputs ?? {}).map(([name, spec]) => {
    const value = spec.default === undefined || spec.default === "" ? "" : String(spec.default);
    return [code(name), spec.required ? "yes" : "no", value ? code(value) : "", spec.description ?? ""];
  });
  return table(["Input", "Required", "Default", "Description"], rows);
}

export function outputsTable(action: ActionSpec): string {
  return table(
    ["Output", "Description"],
    Object.entries(action.outputs ?? {}).map(([name, spec]) => [code(name), spec.description ?? ""]),
  );
}

/** A value in compact YAML flow style, as a user would write it in .github/aegis.yml. */
export function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${flow(v)}`)
      .join(", ")} }`.replace("{  }", "{}");
  }
  if (typeof value === "string")
    return value === "" || /[\s:,[\]{}#&*!|>'"%@`]/.test(value) ? JSON.stringify(value) : value;
  return String(value);
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return `one of ${schema.enum.map((v) => String(v)).join(", ")}`;
  switch (schema.type) {
    case "integer":
    case "number":
      if (schema.exclusiveMinimum === 0) return `${schema.type} > 0`;
      if (schema.minimum === 0) return `${schema.type} ≥ 0`;
      return schema.type;
    case "array":
      return schema.items?.type ? `list of ${schema.items.type}s` : "list";
    case "object": {
      const values =
        typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
      if (!values) return "object";
      const shape = values.properties ? `{ ${Object.keys(values.properties).join(", ")} }` : typeOf(values);
      return `map of name → ${shape}`;
    }
    default:
      return schema.type ?? "";
  }
}

function defaultOf(schema: JsonSchema): string {
  const value = schema.default;
  if (value === undefined) return "";
  // A map with entries (the label map) reads better one entry per line.
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 1) {
    return Object.entries(value)
      .map(([k, v]) => code(`${k}: ${flow(v)}`))
      .join("<br>");
  }
  return code(flow(value));
}

export interface ConfigRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

/** Every setting as a row; nested sections are flattened to dotted keys (`caps.running`). */
export function configRows(schema: JsonSchema, prefix = ""): ConfigRow[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, child]) => {
    const key = `${prefix}${name}`;
    if (child.type === "object" && child.properties) return configRows(child, `${key}.`);
    return [{ key, type: typeOf(child), default: defaultOf(child), description: child.description ?? "" }];
  });
}

export function configTable(schema: JsonSchema): string {
  return table(
    ["Key", "Type", "Default", "Description"],
    configRows(schema).map((r) => [code(r.key), r.type, r.default, r.description]),
  );
}

/** The three generated sections, formatted as prettier formats them inside `file`. */
export async function renderSections(
  actionYml: string,
  configSchema: object,
  file: string,
): Promise<Record<Section, string>> {
  const action = parse(actionYml) as ActionSpec;
  const options = { ...((await resolveConfig(file)) ?? {}), parser: "markdown" as const };
  const raw: Record<Section, string> = {
    inputs: inputsTable(action),
    outputs: outputsTable(action),
    config: configTable(configSchema as JsonSchema),
  };
  const out = {} as Record<Section, string>;
  for (const name of SECTIONS) out[name] = (await format(raw[name], options)).trim();
  return out;
}

/** The text between a section's markers, trimmed; undefined when the markers are missing. */
export function readSection(readme: string, name: Section): string | undefined {
  const { start, end } = markers(name);
  const from = readme.indexOf(start);
  const to = readme.indexOf(end, from);
  if (from < 0 || to < 0) return undefined;
  return readme.slice(from + start.length, to).trim();
}

/** Replaces the text between a section's markers and nothing else. */
export function replaceSection(readme: string, name: Section, body: string): string {
  const { start, end } = markers(name);
  const from = readme.indexOf(start);
  const to = readme.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`README.md has no ${start} … ${end} markers`);
  return `${readme.slice(0, from + start.length)}\n\n${body}\n\n${readme.slice(to)}`;
}

/** A README for a project that has none yet: a title and the marked sections, nothing more. */
export function skeleton(): string {
  return `# aegis\n${SECTIONS.map((name) => `\n## ${HEADINGS[name]}\n\n${markers(name).start}\n${markers(name).end}\n`).join("")}`;
}

/** Adds the marked sections a README lacks at its end, leaving the rest as it is. */
export function ensureMarkers(readme: string): string {
  let out = readme;
  for (const name of SECTIONS) {
    if (readSection(out, name) !== undefined) continue;
    out = `${out.replace(/\n*$/, "\n")}\n## ${HEADINGS[name]}\n\n${markers(name).start}\n${markers(name).end}\n`;
  }
  return out;
}

export function applySections(readme: string, sections: Record<Section, string>): string {
  return SECTIONS.reduce((text, name) => replaceSection(text, name, sections[name]), ensureMarkers(readme));
}
