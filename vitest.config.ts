import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Rooms made by the tests are OS users: removed before and after the run, whatever happened.
    globalSetup: ["test/harness/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn the bundle, git and the CLIs; two cores do not gain from more forks.
    pool: "forks",
    maxWorkers: 2,
  },
});
