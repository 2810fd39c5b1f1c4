// What every mode is handed: settings, the GitHub door, the ledger store and a clock.
import type { GitHub } from "../adapters/github.js";
import type { LedgerStore } from "../adapters/ledger-store.js";
import type { Settings } from "../settings.js";

export interface ModeContext {
  settings: Settings;
  gh: GitHub;
  store: LedgerStore;
  now: () => string;
}
