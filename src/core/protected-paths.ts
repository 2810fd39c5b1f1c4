/**
 * What the agent may not change, and what of its change runs outside the room.
 *
 * Protected (the file gate refuses the write, the pre-push check the push): everything under
 * `.github/` — workflows, but also local actions (`.github/actions/**`) that workflows run with
 * the repository's secrets, CODEOWNERS, dependabot, the instructions Copilot reads —, aegis's
 * hook folder, the files agents take as the repository's instructions or settings (`AGENTS.md`,
 * `CLAUDE.md`, `.claude/`, `.codex/`: the agent must not instruct its reviewer or configure its
 * own next round), and the attributes and submodules that change how git shows and fetches the
 * tree (`.gitattributes` can hide a change from a diff; `.gitmodules` can point at any URL).
 *
 * Outside those, some files are commands that CI runs as written: a `package.json` script, a
 * Makefile target, a build script. The agent may change them (that is often the task), but the
 * PR names them, because the repository's CI will run them with whatever its job holds.
 */
import { matchesAny } from "./glob.js";

/**
 * The files agents take as the repository's instructions. Protected like the rest, unless the
 * maintainers chose `run.instructionChanges: flag`: then the agent may change them, and the PR
 * says so and carries INSTRUCTIONS_CHANGED_LABEL. Either way the session and the review read the
 * default branch's version (instructions.ts), never the branch's.
 */
export const INSTRUCTION_FILE_GLOBS: readonly string[] = [
  "**/AGENTS.md",
  "**/AGENTS.override.md",
  "**/CLAUDE.md",
  "**/CLAUDE.local.md",
  ".github/copilot-instructions.md",
  ".github/instructions/**/*.instructions.md",
];

/** The instruction files that live under `.github/`, whose built-in protection they lift too. */
const GITHUB_INSTRUCTIONS = [".github/copilot-instructions.md", ".github/instructions/**/*.instructions.md"];

export const BUILT_IN_PROTECTED_PATHS: readonly string[] = [
  ".github/**",
  "hooks/**",
  "**/AGENTS.md",
  "**/AGENTS.override.md",
  "**/CLAUDE.md",
  "**/CLAUDE.local.md",
  "**/.claude/**",
  "**/.codex/**",
  "**/.gitattributes",
  ".gitmodules",
  ".mcp.json",
];

/**
 * The glob that protects `filePath`, or undefined. `extra` (the config path, `run.protectedPaths`)
 * always applies; with `instructionsWritable` the instruction files are exempt from the built-ins.
 */
export function protectingGlob(
  filePath: string,
  extra: readonly string[],
  opts: { instructionsWritable?: boolean } = {},
): string | undefined {
  const own = matchesAny(filePath, extra);
  if (own) return own;
  const hits = BUILT_IN_PROTECTED_PATHS.filter((g) => matchesAny(filePath, [g]) !== undefined);
  if (!opts.instructionsWritable || matchesAny(filePath, INSTRUCTION_FILE_GLOBS) === undefined)
    return hits[0];
  // An instruction file opens up only from the instruction globs themselves: `.claude/CLAUDE.md`
  // stays under `.claude/**`, `.github/workflows/AGENTS.md` under `.github/**`.
  const lifted = new Set([
    ...INSTRUCTION_FILE_GLOBS,
    ...(matchesAny(filePath, GITHUB_INSTRUCTIONS) ? [".github/**"] : []),
  ]);
  return hits.find((g) => !lifted.has(g));
}

/** The changed files that are instructions for agents (at most `max`), for the PR body. */
export function instructionChanges(paths: readonly string[], max = 20): string[] {
  return paths.filter((p) => matchesAny(p, INSTRUCTION_FILE_GLOBS) !== undefined).slice(0, max);
}

/** Files whose content CI (or a developer's machine) runs as commands or build logic. */
const CI_EXECUTED: readonly string[] = [
  "**/package.json",
  "**/Makefile",
  "**/GNUmakefile",
  "**/*.mk",
  "**/justfile",
  "**/Justfile",
  "**/Taskfile.{yml,yaml}",
  "**/Rakefile",
  "**/build.rs",
  "**/build.gradle{,.kts}",
  "**/settings.gradle{,.kts}",
  "**/pom.xml",
  "**/setup.py",
  "**/setup.cfg",
  "**/pyproject.toml",
  "**/tox.ini",
  "**/noxfile.py",
  "**/conftest.py",
  "**/Cargo.toml",
  "**/Dockerfile",
  "**/*.dockerfile",
  "**/docker-compose.{yml,yaml}",
  "**/.pre-commit-config.yaml",
  "**/.husky/**",
  "**/lefthook.{yml,yaml}",
  "**/.npmrc",
  "**/.yarnrc{,.yml}",
  "**/{jest,vitest,vite,webpack,rollup,babel,eslint}.config.{js,cjs,mjs,ts,cts,mts}",
  "scripts/**",
];

/** The changed files that CI runs as commands, for the PR body (at most `max`). */
export function ciExecutedChanges(paths: readonly string[], max = 20): string[] {
  return paths.filter((p) => matchesAny(p, CI_EXECUTED) !== undefined).slice(0, max);
}
