// The new-task input the ledger tests build on: an auto_safe docs task; tests override what they need.
import type { NewTask } from "../../src/core/lifecycle.js";

export function newTask(issue: number, overrides: Partial<NewTask> = {}): NewTask {
  return {
    issue,
    title: `Issue ${issue}`,
    category: "docs",
    authority: "auto_safe",
    priority: 2,
    requestedBy: "maya",
    needsApproval: false,
    dependsOn: [],
    predictedFiles: [],
    ...overrides,
  };
}
