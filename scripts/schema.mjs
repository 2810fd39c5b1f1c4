// Writes schema/aegis.schema.json from the zod schema in src/config.ts (a test checks they agree).
import { execFileSync } from "node:child_process";
const code = `import { configJsonSchema } from "./src/config.ts";
import { writeFileSync, mkdirSync } from "node:fs";
mkdirSync("schema", { recursive: true });
writeFileSync("schema/aegis.schema.json", JSON.stringify(configJsonSchema(), null, 2) + "\\n");`;
execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { stdio: "inherit" });
