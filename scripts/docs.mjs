// `npm run docs`: rewrites README.md's generated sections (inputs, outputs, configuration)
// between their markers. `npm run docs -- --check` only reports whether they are current.
// The generator is TypeScript (scripts/docs-lib.ts, shared with test/docs.test.ts); tsx loads it
// and the zod schema in src/config.ts, which is the configuration reference's source.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";

const lib = await tsImport("./docs-lib.ts", import.meta.url);
const { configJsonSchema } = await tsImport("../src/config.ts", import.meta.url);

const readmePath = fileURLToPath(new URL("../README.md", import.meta.url));
const actionYml = readFileSync(new URL("../action.yml", import.meta.url), "utf8");
const before = existsSync(readmePath) ? readFileSync(readmePath, "utf8") : lib.skeleton();
const sections = await lib.renderSections(actionYml, configJsonSchema(), readmePath);
const after = lib.applySections(before, sections);

if (process.argv.includes("--check")) {
  if (after !== before) {
    console.error("README.md's generated sections are out of date: run `npm run docs`.");
    process.exit(1);
  }
  console.log("README.md's generated sections are up to date.");
} else if (after === before && existsSync(readmePath)) {
  console.log("README.md is up to date.");
} else {
  writeFileSync(readmePath, after);
  console.log(`README.md: rewrote the ${lib.SECTIONS.join(", ")} sections.`);
}
