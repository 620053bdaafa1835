/** Rules about runs shared by both stores and the Ledger. */

/** How deep runs may nest (a run inside a run inside ...): bounds the work of every check on a nested run. */
export const MAX_RUN_DEPTH = 16;

/** The default idle TTL (config runIdleTtlMs): an open run with no activity for a day ends as abandoned. */
export const DEFAULT_RUN_IDLE_TTL_MS = 24 * 60 * 60 * 1000;
