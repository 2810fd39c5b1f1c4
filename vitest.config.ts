import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn the bundle, git and the CLIs; two cores do not gain from more forks.
    pool: "forks",
    maxWorkers: 2,
  },
});
