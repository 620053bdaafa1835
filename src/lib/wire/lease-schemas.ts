import { z } from 'zod';
import type { StoreDecision, StoreLimit } from '../ledger/store.js';
import { printable } from '../validate.js';

/**
 * The payloads of serve's budget lease API for remote runs (docs/api.md, "Budget leases"):
 * POST /v1/leases, /v1/leases/:id/raise, /v1/leases/:id/end. Amounts are whole
 * nano-dollars (1e-9 USD), as the leases themselves are kept. Strict, like every request
 * object of schemas.ts: an unknown field is a 422. The client imports only the types.
 */
const id = z.string().min(1).max(256).refine(printable, 'must not contain control characters or lone surrogates');
const nano = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const tags = z.record(z.string(), z.string());

/** POST /v1/leases: a slice of the room of the caller's run for one key (model, end user, provider, tags). */
export const LeaseGrantBody = z
  .strictObject({
    runId: id,
    model: id,
    endUserId: id.nullish(),
    provider: id.nullish(),
    tags: tags.nullish(),
    /** Names the asking process among the project's lease holders. */
    holder: id,
    /** Nano-dollars wanted, a whole number of minNano. */
    wantNano: nano,
    /** The asking check's estimate: the grant is a whole number of it, or none. */
    minNano: nano.min(1),
    /** W at the grant (approvable at once), at most wantNano. */
    w0Nano: nano,
  })
  .refine((b) => b.wantNano >= b.minNano && b.wantNano % b.minNano === 0, { message: 'must be a whole number (at least 1) of minNano', path: ['wantNano'] })
  .refine((b) => b.w0Nano <= b.wantNano, { message: 'must not exceed wantNano', path: ['w0Nano'] });
export type LeaseGrantBody = z.infer<typeof LeaseGrantBody>;

/** POST /v1/leases/:id/raise */
export const LeaseRaiseBody = z.strictObject({ wantNano: nano });
export type LeaseRaiseBody = z.infer<typeof LeaseRaiseBody>;

/** POST /v1/leases/:id/end: `unusedNano` = W - approved leaves row C. */
export const LeaseEndBody = z.strictObject({ unusedNano: nano });
export type LeaseEndBody = z.infer<typeof LeaseEndBody>;

/** The answer to a grant: `granted: false` when the room is too close to a cap (decide with /v1/check). */
export type LeaseGrantResponse =
  | { granted: false }
  | {
      granted: true;
      leaseId: string;
      /** Signs the reservation ids of the lease's approvals. */
      secret: string;
      grantedNano: number;
      wNano: number;
      /** How long the lease lives on the server from the grant. */
      ttlMs: number;
      remainingNano: StoreDecision['remainingNano'];
      limit: StoreLimit | null;
    };

export interface LeaseRaiseResponse {
  raisedNano: number;
}

export interface LeaseEndResponse {
  ended: true;
}
