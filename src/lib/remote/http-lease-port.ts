import { NoburnValidationError } from '../errors.js';
import { newId } from '../ids.js';
import type { LeaseGrant, LeaseGrantRequest, LeasePort } from '../ledger/leases/port.js';
import { tagsObject } from '../tags.js';
import type * as L from '../wire/lease-schemas.js';
import type { HttpClient } from './http-client.js';

/** The lease TTL assumed until the server's first grant says its own. */
const DEFAULT_TTL_MS = 30_000;

/**
 * Budget leases of a remote run over serve's lease API (docs/api.md, "Budget leases"), on
 * the remote authority's undici pool: what LeaseManager needs, one request per grant,
 * raise and end. Transport failures throw (the manager then decides nothing from a lease
 * it cannot raise or renew). Only run checks: the API leases a run's own room.
 */
export class HttpLeasePort implements LeasePort {
  readonly holder = newId('hld');
  ttlMs = DEFAULT_TTL_MS;

  constructor(private readonly http: HttpClient) {}

  async grant(req: LeaseGrantRequest): Promise<LeaseGrant | null> {
    const c = req.check;
    if (c.runId === null) throw new NoburnValidationError('only run checks are leased from the server');
    const body: L.LeaseGrantBody = { runId: c.runId, model: c.model, holder: this.holder, wantNano: req.want, minNano: req.min, w0Nano: req.w0 };
    if (c.userId !== null) body.endUserId = c.userId;
    if (c.provider) body.provider = c.provider;
    if (c.tags && c.tags.length > 0) body.tags = tagsObject(c.tags);
    const g = await this.http.request<L.LeaseGrantResponse>('POST', '/v1/leases', body);
    if (!g.granted) return null;
    // The manager dates the lease's deadline with this TTL (the server's), from its own send time.
    this.ttlMs = g.ttlMs;
    return { leaseId: g.leaseId, secret: g.secret, granted: g.grantedNano, w: g.wNano, remainingNano: g.remainingNano, limit: g.limit };
  }

  async raise(leaseId: string, want: number): Promise<number> {
    const body: L.LeaseRaiseBody = { wantNano: want };
    return (await this.http.request<L.LeaseRaiseResponse>('POST', `/v1/leases/${encodeURIComponent(leaseId)}/raise`, body)).raisedNano;
  }

  async end(leaseId: string, unused: number): Promise<void> {
    const body: L.LeaseEndBody = { unusedNano: Math.max(0, unused) };
    await this.http.request<L.LeaseEndResponse>('POST', `/v1/leases/${encodeURIComponent(leaseId)}/end`, body);
  }
}
