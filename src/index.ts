import { run } from "./main.js";

// The one entry point: everything, including the failure report, happens inside run().
void run();
