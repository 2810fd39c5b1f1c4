/**
 * The environment the agent runs with: an allow-list, never a deny-list, because the runner's
 * environment holds write credentials (GITHUB_TOKEN, the INPUT_* copies of secrets, ACTIONS_*
 * runtime and OIDC tokens) and files that later steps trust (GITHUB_ENV, GITHUB_OUTPUT,
 * GITHUB_PATH): anything not named here stays out.
 */

/** Passed through from the parent when set. */
const ALLOWED_NAMES = new Set([
  "PATH",
  "HOME",
  "LANG",
  "LANGUAGE",
  "TERM",
  "TZ",
  "TMPDIR",
  "TMP",
  "TEMP",
  "USER",
  "LOGNAME",
  "SHELL",
  "CI",
  "RUNNER_OS",
  "RUNNER_ARCH",
  "RUNNER_TEMP",
  // Toolchains that setup-* actions point at: the agent runs the project's build and tests.
  "JAVA_HOME",
  "GOROOT",
  "GOPATH",
  "CARGO_HOME",
  "RUSTUP_HOME",
  "DOTNET_ROOT",
  "pythonLocation",
  "Python_ROOT_DIR",
  "PKG_CONFIG_PATH",
  // Installers that live in the runner's HOME (shown to the room read-only: toolchain-view.ts).
  "NVM_DIR",
  "NVM_BIN",
  "PIPX_HOME",
  "PIPX_BIN_DIR",
  "PNPM_HOME",
  "VOLTA_HOME",
  "BUN_INSTALL",
  "DENO_INSTALL",
  "GEM_HOME",
]);

const ALLOWED_PREFIXES = ["LC_", "JAVA_HOME_"];

/** Never passed from the parent, whatever the allow-list says. */
const SECRET_LIKE = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|AUTH/i;

/**
 * Refused even when the caller names them in `extra`: credentials the design says the agent
 * never holds, and channels into the runner (workflow commands files, git credential helpers).
 */
const NEVER = [
  /^GITHUB_TOKEN$/i,
  /^GH_TOKEN$/i,
  /^GH_ENTERPRISE_TOKEN$/i,
  /^INPUT_/i,
  /^ACTIONS_/i,
  /^GITHUB_(ENV|OUTPUT|PATH|STATE|STEP_SUMMARY)$/i,
  /^GIT_ASKPASS$/i,
  /^SSH_ASKPASS$/i,
  /^SSH_AUTH_SOCK$/i,
  /^GIT_CONFIG_/i,
  /^GIT_SSH(_COMMAND)?$/i,
  /^GIT_CREDENTIAL/i,
];

export function isNeverAllowed(name: string): boolean {
  return NEVER.some((re) => re.test(name));
}

function isAllowed(name: string): boolean {
  if (SECRET_LIKE.test(name) || isNeverAllowed(name)) return false;
  return ALLOWED_NAMES.has(name) || ALLOWED_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The allow-listed part of `parentEnv`, plus `extra` (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL,
 * AEGIS_HOOKS_DIR, …), which the caller names one by one and so may include secret-like names.
 * Throws when `extra` names a variable the agent must never see.
 */
export function sanitizeAgentEnv(
  parentEnv: Readonly<Record<string, string | undefined>>,
  opts: { extra?: Readonly<Record<string, string>> } = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value !== undefined && isAllowed(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(opts.extra ?? {})) {
    if (isNeverAllowed(name)) {
      throw new Error(
        `refusing to pass ${name} to the agent: it must never hold runner or GitHub credentials`,
      );
    }
    env[name] = value;
  }
  return env;
}

/**
 * The parent environment minus the credentials the design keeps from every child the action
 * starts (npm installs included), keeping proxies and npm settings that such tools need.
 */
export function withoutRunnerCredentials(
  parentEnv: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value !== undefined && !isNeverAllowed(name)) env[name] = value;
  }
  return env;
}
