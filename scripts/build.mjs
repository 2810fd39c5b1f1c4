// Builds the action bundle (dist/) and the hook bundles (hooks/bin/) with ncc.
// Both are committed; CI rebuilds them and fails on any difference.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const ncc = join("node_modules", ".bin", "ncc");
function bundle(entry, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    ncc,
    ["build", entry, "-o", outDir, "--minify", "--no-source-map-register", "--license", "licenses.txt", "-q"],
    {
      stdio: "inherit",
    },
  );
}

// `node scripts/build.mjs` builds both; `action` or `hooks` builds one of them.
const only = process.argv[2];
if (!only || only === "action") bundle("src/index.ts", "dist");

// Each hook entry point becomes hooks/bin/<name>/index.js.
const hookSrc = join("src", "hooks", "entries");
if ((!only || only === "hooks") && existsSync(hookSrc)) {
  rmSync(join("hooks", "bin"), { recursive: true, force: true });
  for (const file of readdirSync(hookSrc)
    .filter((f) => f.endsWith(".ts"))
    .sort()) {
    bundle(join(hookSrc, file), join("hooks", "bin", file.replace(/\.ts$/, "")));
  }
}
