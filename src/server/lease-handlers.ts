import { NoburnNotFoundError } from '../lib/errors.js';
import { normalizeTags } from '../lib/tags.js';
import { idString } from '../lib/validate.js';
import { LeaseEndBody, LeaseGrantBody, LeaseRaiseBody } from '../lib/wire/lease-schemas.js';
import type { LeaseEndResponse, LeaseGrantResponse, LeaseRaiseResponse } from '../lib/wire/lease-schemas.js';
import type { Ctx, Reply, Services } from './handlers.js';
import { parse } from './handlers.js';

/**
 * serve's budget lease API for remote runs (docs/api.md, "Budget leases"): a remote
 * `noburn run` leases a slice of its own run's room and decides most of its calls in
 * memory. Any key of the project (app or admin); the run must be the project's and open.
 */
export function makeLeaseHandlers(s: Services) {
  const { ledger } = s;

  /** The lease port, or 404 for a store without run leases (its grants answer granted: false instead). */
  function port() {
    const p = ledger.runLeasePort;
    if (!p) throw new NoburnNotFoundError('lease not found (this store grants no run leases)');
    return p;
  }

  return {
    async grantLease(ctx: Ctx): Promise<Reply> {
      const b = parse(LeaseGrantBody, ctx.body);
      const key = { runId: b.runId, userId: b.endUserId ?? null, model: b.model, provider: b.provider ?? null, tags: normalizeTags(b.tags) };
      const g = await ledger.grantRunLease(ctx.p.projectId, key, b.wantNano, b.minNano, b.w0Nano, b.holder);
      const body: LeaseGrantResponse = g
        ? { granted: true, leaseId: g.leaseId, secret: g.secret, grantedNano: g.granted, wNano: g.w, ttlMs: port().ttlMs, remainingNano: g.remainingNano, limit: g.limit }
        : { granted: false };
      return { status: 200, body };
    },

    async raiseLease(ctx: Ctx): Promise<Reply> {
      const id = idString(ctx.params[0], 'lease id');
      const b = parse(LeaseRaiseBody, ctx.body);
      const body: LeaseRaiseResponse = { raisedNano: await port().raise(ctx.p.projectId, id, b.wantNano, s.now()) };
      return { status: 200, body };
    },

    async endLease(ctx: Ctx): Promise<Reply> {
      const id = idString(ctx.params[0], 'lease id');
      const b = parse(LeaseEndBody, ctx.body);
      await port().end(ctx.p.projectId, id, b.unusedNano, s.now());
      const body: LeaseEndResponse = { ended: true };
      return { status: 200, body };
    },
  };
}
