// The file gate (before a write) and the pre-push check (after the session) must judge every
// protected-path pattern alike: a path one lets through and the other refuses would make the gate
// a liar or the check a surprise. Random patterns against random paths, both entry points.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scanDiff } from "../src/core/secret-scan.js";
import { pathPolicy, writeRefusal } from "../src/hooks/paths.js";

const WS = "/workspace";
const names = ["a", "b", "ab", "x.sh", ".env", "prod", "staging", "c.yml"];
const segment = fc.constantFrom(...names);
const globPart = fc.oneof(
  segment,
  fc.constantFrom("*", "**", "?", "*.sh", ".*", "{prod,staging}", "[ab]", "{a,b}.yml", "a?"),
);
const glob = fc
  .tuple(fc.array(globPart, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean())
  .map(([parts, dotSlash, trailing]) => `${dotSlash ? "./" : ""}${parts.join("/")}${trailing ? "/" : ""}`);
const relPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => p.join("/"));

function gateRefuses(rel: string, pattern: string): boolean {
  const policy = pathPolicy(WS, { AEGIS_PROTECTED_PATHS: pattern });
  return /is a protected path/.test(writeRefusal(`${WS}/${rel}`, policy) ?? "");
}

function checkRefuses(rel: string, pattern: string): boolean {
  return scanDiff({
    diffText: "",
    changedPaths: [rel],
    knownSecrets: [],
    protectedPaths: [pattern],
    configPath: ".github/aegis.yml",
    limits: { maxFiles: Infinity, maxBytes: Infinity },
  }).some((v) => v.check === "protected-path");
}

describe("protected paths: the gate and the pre-push check agree", () => {
  it("on every generated pattern and path", () => {
    fc.assert(
      fc.property(glob, relPath, (pattern, rel) => {
        expect({ pattern, rel, gate: gateRefuses(rel, pattern) }).toEqual({
          pattern,
          rel,
          gate: checkRefuses(rel, pattern),
        });
      }),
      { numRuns: 2000, ...(process.env.CI ? { seed: 1204 } : {}) },
    );
  });

  it.each([
    ["config/{prod,staging}.yml", "config/staging.yml", true],
    ["secrets/*", "secrets/.env", true],
    ["deploy/[ab].sh", "deploy/a.sh", true],
    ["deploy/[ab].sh", "deploy/c.sh", false],
    ["infra", "infra/main.tf", true],
    ["infra/", "infra", true],
  ])("%s vs %s → %s at both", (pattern, rel, expected) => {
    expect(gateRefuses(rel, pattern)).toBe(expected);
    expect(checkRefuses(rel, pattern)).toBe(expected);
  });
});
