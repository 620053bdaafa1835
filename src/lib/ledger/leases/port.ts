import type { StoreCheck, StoreDecision, StoreLimit } from '../store.js';

/** A grant request for one scope key, made from the check that needs it. */
export interface LeaseGrantRequest {
  /** The asking check: its project, user, model, tags and provider are the lease's key; `now` the grant time. */
  check: StoreCheck;
  /** Nano-dollars wanted (a whole number of `min`). */
  want: number;
  /** The asking check's estimate: the grant is a whole number of it, or none. */
  min: number;
  /** W at the grant (approvable at once), at most the grant. */
  w0: number;
}

export interface LeaseGrant {
  leaseId: string;
  /** Signs the reservation ids of the lease's approvals (so that records can name only real ones). */
  secret: string;
  /** G at the grant. */
  granted: number;
  /** W at the grant. */
  w: number;
  /** Room left under each cap with the lease counted. */
  remainingNano: StoreDecision['remainingNano'];
  /** The tightest cap with the lease counted in its holds; null when no cap applies. */
  limit: StoreLimit | null;
}

/**
 * What the lease manager needs from a shared store (PostgreSQL today: postgres/lease-port.ts;
 * an HTTP port could serve `noburn run` in remote mode). Every amount is nano-dollars.
 */
export interface LeasePort {
  /** Names this process among the lease holders (replicas) of a project. */
  readonly holder: string;
  /** How long a lease lives (lease_ttl_ms). */
  readonly ttlMs: number;
  /** Grants a lease under the project's lock, or null when the room is too close to a cap. */
  grant(req: LeaseGrantRequest): Promise<LeaseGrant | null>;
  /** Raises W by up to `want` (never above G, without the project's lock); returns the raise made. */
  raise(leaseId: string, want: number, now: number): Promise<number>;
  /** Ends a lease: G - W returns to the pool, and W comes down by `unused` (W - approved). */
  end(leaseId: string, unused: number): Promise<void>;
}

/**
 * serve's lease API for remote runs (POST /v1/leases...: docs/api.md "Budget leases"): the
 * same grants, raises and ends, for the run checks of a remote `noburn run`, each checked
 * against the caller's project. A grant or raise for a run that has ended (or whose
 * ancestor has) is refused, so run_ended stays exact within what was already approvable.
 */
export interface RunLeasePort {
  readonly ttlMs: number;
  /** Throws NoburnNotFoundError (unknown run) / NoburnConflictError (the run or an ancestor has ended). */
  grant(req: LeaseGrantRequest, holder: string): Promise<LeaseGrant | null>;
  /** Throws NoburnNotFoundError (no such lease in the project) / NoburnConflictError (its run has ended). */
  raise(projectId: string, leaseId: string, want: number, now: number): Promise<number>;
  /** Throws NoburnNotFoundError (no such lease in the project). */
  end(projectId: string, leaseId: string, unused: number, now: number): Promise<void>;
}

/** A RunLeasePort seen by one holder of one project, as the lease manager uses it. */
export function holderPort(p: RunLeasePort, projectId: string, holder: string): LeasePort {
  return {
    holder,
    ttlMs: p.ttlMs,
    grant: (req) => p.grant(req, holder),
    raise: (id, want, now) => p.raise(projectId, id, want, now),
    end: (id, unused) => p.end(projectId, id, unused, Date.now()),
  };
}
