import { bashGateDecision } from "../bash-gate.js";
import { readGitAliases } from "../git-aliases.js";
import { runBlockingHook } from "../runtime.js";

runBlockingHook("bash-gate", (input) =>
  bashGateDecision(input, { env: process.env, gitAliases: readGitAliases }),
);
