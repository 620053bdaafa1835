/** Rules about runs shared by both stores and the Ledger. */
import { NoburnConflictError, NoburnValidationError } from '../errors.js';
import type { RunStatus } from '../types.js';

/** How deep runs may nest (a run inside a run inside ...): bounds the work of every check on a nested run. */
export const MAX_RUN_DEPTH = 16;

/** The default idle TTL (config runIdleTtlMs): an open run with no activity for a day ends as abandoned. */
export const DEFAULT_RUN_IDLE_TTL_MS = 24 * 60 * 60 * 1000;

/** A nested run starts only under an open parent whose chain (`depth` runs, itself included) has room for one more. */
export function assertCanNest(parentRunId: string, status: RunStatus, depth: number): void {
  if (status !== 'open') throw new NoburnConflictError(`parent run ${parentRunId} has ${status === 'abandoned' ? 'been abandoned' : 'ended'}`);
  if (depth >= MAX_RUN_DEPTH) throw new NoburnValidationError(`runs nest at most ${MAX_RUN_DEPTH} deep`);
}

/** A run ends once. */
export function assertCanEnd(runId: string, status: RunStatus): void {
  if (status !== 'open') throw new NoburnConflictError(`run ${runId} has already ${status === 'abandoned' ? 'ended (abandoned: idle past the TTL)' : 'ended'}`);
}
