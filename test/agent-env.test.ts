import { describe, expect, it } from "vitest";
import { sanitizeAgentEnv } from "../src/core/agent-env.js";

const parent = {
  PATH: "/usr/bin",
  HOME: "/home/runner",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  CI: "true",
  RUNNER_OS: "Linux",
  RUNNER_TEMP: "/tmp/r",
  JAVA_HOME_17_X64: "/jdk17",
  GITHUB_TOKEN: "ghs_x",
  GITHUB_ENV: "/tmp/env",
  GITHUB_OUTPUT: "/tmp/out",
  GITHUB_REPOSITORY: "o/r",
  "INPUT_GITHUB-TOKEN": "ghs_y",
  "INPUT_ANTHROPIC-API-KEY": "sk-ant-z",
  ACTIONS_RUNTIME_TOKEN: "rt",
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc",
  ACTIONS_RESULTS_URL: "http://x",
  GH_TOKEN: "gh",
  GIT_ASKPASS: "/bin/askpass",
  GIT_CONFIG_PARAMETERS: "'http.extraheader=AUTHORIZATION: basic x'",
  SSH_AUTH_SOCK: "/tmp/agent",
  NODE_OPTIONS: "--require /tmp/evil.js",
  LC_SECRET_TOKEN: "looks allowed by prefix",
  UNDEFINED_ONE: undefined,
};

describe("sanitizeAgentEnv", () => {
  it("keeps only the allow-list and the extras", () => {
    const env = sanitizeAgentEnv(parent, {
      extra: { ANTHROPIC_API_KEY: "sk-ant-key", AEGIS_HOOKS_DIR: "/hooks" },
    });
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/runner",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      CI: "true",
      RUNNER_OS: "Linux",
      RUNNER_TEMP: "/tmp/r",
      JAVA_HOME_17_X64: "/jdk17",
      ANTHROPIC_API_KEY: "sk-ant-key",
      AEGIS_HOOKS_DIR: "/hooks",
    });
  });

  it("lets extras override parent values", () => {
    expect(sanitizeAgentEnv(parent, { extra: { HOME: "/tmp/agent-home" } }).HOME).toBe("/tmp/agent-home");
  });

  it.each([
    "GITHUB_TOKEN",
    "INPUT_GITHUB-TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "GH_TOKEN",
    "GIT_ASKPASS",
    "GITHUB_ENV",
    "GIT_CONFIG_COUNT",
  ])("refuses %s even when named in extra", (name) => {
    expect(() => sanitizeAgentEnv({}, { extra: { [name]: "v" } })).toThrow(name);
  });
});
