import { fileGateDecision } from "../file-gate.js";
import { runBlockingHook } from "../runtime.js";

runBlockingHook("file-gate", (input) => fileGateDecision(input, process.env));
