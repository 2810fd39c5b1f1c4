// The README's reference sections are generated; these tests fail when action.yml or the config
// schema changed without `npm run docs`, and check the generator itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import {
  applySections,
  configRows,
  flow,
  inputsTable,
  readSection,
  renderSections,
  replaceSection,
  SECTIONS,
  skeleton,
} from "../scripts/docs-lib.js";
import { configJsonSchema } from "../src/config.js";

const root = join(import.meta.dirname, "..");
const readmePath = join(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const actionYml = readFileSync(join(root, "action.yml"), "utf8");
const action = parse(actionYml) as { inputs: Record<string, unknown>; outputs: Record<string, unknown> };

describe("README.md", () => {
  it.each(SECTIONS)(
    "has the %s section the generator produces now (else run `npm run docs`)",
    async (name) => {
      const sections = await renderSections(actionYml, configJsonSchema(), readmePath);
      expect(readSection(readme, name), `README.md ${name} section is stale: run npm run docs`).toBe(
        sections[name],
      );
    },
  );

  it("mentions every input, output and config key", () => {
    for (const name of [...Object.keys(action.inputs), ...Object.keys(action.outputs)])
      expect(readme).toContain(`\`${name}\``);
    for (const row of configRows(configJsonSchema())) expect(readme).toContain(`\`${row.key}\``);
  });

  it("goes stale when an input is added to action.yml", async () => {
    const changed = parse(actionYml) as { inputs: Record<string, unknown> };
    changed.inputs["new-input"] = { description: "Something new.", required: false, default: "" };
    const sections = await renderSections(stringify(changed), configJsonSchema(), readmePath);
    expect(sections.inputs).toContain("`new-input`");
    expect(readSection(readme, "inputs")).not.toBe(sections.inputs);
  });
});

describe("the generator", () => {
  it("flattens nested config sections to dotted keys with defaults and types", () => {
    const rows = new Map(configRows(configJsonSchema()).map((r) => [r.key, r]));
    expect(rows.get("caps.running")).toMatchObject({
      type: "integer > 0",
      default: "`2`",
      description: "Most tasks running at once.",
    });
    expect(rows.get("budgets.dailyUsd")).toMatchObject({ type: "number ≥ 0", default: "`0`" });
    expect(rows.get("minBodyLength")?.type).toBe("integer ≥ 0");
    expect(rows.get("labels")?.type).toBe("map of name → { category, authority }");
    expect(rows.get("labels")?.default).toContain("`bug: { category: bugfix, authority: proposed }`<br>");
    expect(rows.has("caps")).toBe(false);
  });

  it("tables inputs with required, default and escaped description", () => {
    const table = inputsTable({
      inputs: {
        mode: { description: "plan | run", required: true },
        token: { description: "A token.\nTwo lines.", required: false, default: "${{ github.token }}" },
      },
    });
    expect(table.split("\n")).toEqual([
      "| Input | Required | Default | Description |",
      "| --- | --- | --- | --- |",
      "| `mode` | yes |  | plan \\| run |",
      "| `token` | no | `${{ github.token }}` | A token. Two lines. |",
    ]);
  });

  it("writes values as YAML flow, quoting what needs it", () => {
    expect(flow(["a", "priority:high", "x y"])).toBe('[a, "priority:high", "x y"]');
    expect(flow({ a: 1, b: { c: true } })).toBe("{ a: 1, b: { c: true } }");
    expect(flow({})).toBe("{}");
    expect(flow("")).toBe('""');
  });

  it("rewrites only between the markers", () => {
    const text = "intro\n<!-- outputs:start -->\nold\n<!-- outputs:end -->\noutro\n";
    expect(replaceSection(text, "outputs", "new")).toBe(
      "intro\n<!-- outputs:start -->\n\nnew\n\n<!-- outputs:end -->\noutro\n",
    );
    expect(() => replaceSection("no markers", "inputs", "x")).toThrow(/inputs:start/);
  });

  it("builds a README from nothing and adds missing sections to one without markers", () => {
    const sections = { inputs: "I", outputs: "O", config: "C" };
    const fresh = applySections(skeleton(), sections);
    expect(fresh).toMatch(/^# aegis\n\n## Inputs\n\n<!-- inputs:start -->\n\nI\n\n<!-- inputs:end -->\n/);
    expect(fresh).toContain("## Configuration\n\n<!-- config:start -->\n\nC\n\n<!-- config:end -->\n");
    const kept = applySections("# Mine\n\nHand-written.\n", sections);
    expect(kept.startsWith("# Mine\n\nHand-written.\n\n## Inputs")).toBe(true);
    expect(SECTIONS.map((s) => readSection(kept, s))).toEqual(["I", "O", "C"]);
    // Idempotent: a second run changes nothing.
    expect(applySections(kept, sections)).toBe(kept);
  });
});
