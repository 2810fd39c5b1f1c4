import { runBlockingHook } from "../runtime.js";

// Nobody answers questions in a headless run: the agent must decide and say why.
runBlockingHook(
  "no-questions",
  () =>
    "Blocked: AskUserQuestion. Nobody is there to answer in this unattended run. Decide yourself, pick the most reasonable option, and write your reasoning in the commit message or the final summary.",
);
