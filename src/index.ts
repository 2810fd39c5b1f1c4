import * as core from "@actions/core";
import { guardUncaughtErrors, guardWorkflowCommands } from "./room/log-guard.js";
import { run } from "./main.js";
import { post, POST_MARK } from "./post.js";

// Before anything is printed: no line aegis logs can smuggle a workflow command to the runner.
guardWorkflowCommands(process.stdout);
guardWorkflowCommands(process.stderr);
guardUncaughtErrors();

// The one entry point, for the main step and the post step alike: everything, including the
// failure report, happens inside run() or post().
if (core.getState(POST_MARK) === "true") void post();
else {
  core.saveState(POST_MARK, "true");
  void run();
}
