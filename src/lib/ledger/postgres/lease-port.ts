import { randomBytes } from 'node:crypto';
import type { Pool, QueryResultRow } from 'pg';
import { NoburnConflictError, NoburnNotFoundError, NoburnStoreError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { LeaseGrant, LeaseGrantRequest, LeasePort, RunLeasePort } from '../leases/port.js';
import type { StoreLimit } from '../store.js';
import { storeError } from './pool.js';
import { windowsAt } from './reads.js';

/** The lease options of a store URL (noburn's own parameters, removed before pg sees the URL). */
export interface LeaseUrlOptions {
  url: string;
  /** null: leases=off (the default). */
  leases: { ttlMs: number } | null;
  /** lease_ttl_ms (or the default): replicas' leases and remote runs' leases (serve's /v1/leases) alike. */
  ttlMs: number;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;

/** Reads and strips `leases=on|off` and `lease_ttl_ms=N` from a postgres:// URL. */
export function leaseUrlOptions(url: string): LeaseUrlOptions {
  if (!/[?&](leases|lease_ttl_ms)=/.test(url)) return { url, leases: null, ttlMs: DEFAULT_LEASE_TTL_MS };
  const u = new URL(url);
  const on = u.searchParams.get('leases');
  const ttl = u.searchParams.get('lease_ttl_ms');
  u.searchParams.delete('leases');
  u.searchParams.delete('lease_ttl_ms');
  if (on !== null && on !== 'on' && on !== 'off') throw new NoburnStoreError(`leases must be on or off (got ${JSON.stringify(on)})`);
  let ttlMs = DEFAULT_LEASE_TTL_MS;
  if (ttl !== null) {
    ttlMs = Number(ttl);
    if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > 3_600_000) throw new NoburnStoreError(`lease_ttl_ms must be a whole number from 1000 to 3600000 (got ${JSON.stringify(ttl)})`);
  }
  return { url: u.toString(), leases: on === 'on' ? { ttlMs } : null, ttlMs };
}

interface GrantJson {
  granted: number;
  w?: number;
  rem?: LeaseGrant['remainingNano'];
  limit?: StoreLimit | null;
  /** A run lease refused for its run (nothing written). */
  refused?: 'run_not_found' | 'run_ended';
}

async function call<T>(pool: Pool, sql: string, args: unknown[]): Promise<T | undefined> {
  try {
    const { rows } = await pool.query<{ r: T }>(sql, args);
    return rows[0]?.r;
  } catch (e) {
    throw storeError(e);
  }
}

/** One call of nb_lease for `req` on behalf of `holder` (the check's run, if any, scopes the lease). */
async function grantOn(pool: Pool, ttlMs: number, req: LeaseGrantRequest, holder: string): Promise<LeaseGrant | null> {
  const c = req.check;
  const leaseId = newId('L');
  const secret = randomBytes(12).toString('hex');
  const payload = {
    projectId: c.projectId, userId: c.userId, runId: c.runId, runIdleTtlMs: c.runIdleTtlMs ?? null, model: c.model, tags: c.tags ?? [],
    provider: c.provider ?? null, now: c.now, windows: windowsAt(c.now), holdTtlMs: c.holdTtlMs, leaseTtlMs: ttlMs,
    leaseId, secret, holder, want: req.want, min: req.min, w0: req.w0,
  };
  const g = await call<GrantJson>(pool, 'SELECT nb_lease($1::jsonb) AS r', [JSON.stringify(payload)]);
  if (g?.refused === 'run_not_found') throw new NoburnNotFoundError(`run not found: ${String(c.runId)}`);
  if (g?.refused === 'run_ended') throw new NoburnConflictError(`run has ended: ${String(c.runId)}`);
  if (!g || g.granted <= 0) return null;
  const l = g.limit ?? null;
  return {
    leaseId, secret, granted: Number(g.granted), w: Number(g.w ?? 0), remainingNano: g.rem ?? {},
    limit: l ? { scope: l.scope, capNano: Number(l.capNano), spentNano: Number(l.spentNano), heldNano: Number(l.heldNano) } : null,
  };
}

/** Leases on the PostgreSQL store's pool: one function call each (lease-functions.ts). */
export class PgLeasePort implements LeasePort {
  readonly holder = newId('rep');

  constructor(
    private readonly pool: Pool,
    readonly ttlMs: number,
  ) {}

  grant(req: LeaseGrantRequest): Promise<LeaseGrant | null> {
    // A replica's lease has no run: run checks are decided in the database.
    return grantOn(this.pool, this.ttlMs, { ...req, check: { ...req.check, runId: null } }, this.holder);
  }

  async raise(leaseId: string, want: number, now: number): Promise<number> {
    return Math.max(0, Number((await call<number>(this.pool, 'SELECT nb_lease_raise($1, $2, $3) AS r', [leaseId, want, now])) ?? 0));
  }

  async end(leaseId: string, unused: number): Promise<void> {
    await call(this.pool, 'SELECT nb_lease_end($1, $2) AS r', [leaseId, unused]);
  }
}

/**
 * serve's lease API for remote runs on PostgreSQL (docs/api.md, "Budget leases (remote
 * runs)"): the same functions, with the check's run as the lease's scope, each lease
 * looked up in the caller's project. Refusals as the SQLite store's (sqlite/leases.ts).
 */
export class PgRunLeasePort implements RunLeasePort {
  constructor(
    private readonly pool: Pool,
    readonly ttlMs: number,
  ) {}

  grant(req: LeaseGrantRequest, holder: string): Promise<LeaseGrant | null> {
    return grantOn(this.pool, this.ttlMs, req, holder);
  }

  async raise(projectId: string, leaseId: string, want: number, now: number): Promise<number> {
    const { rows } = await this.query<{ r: string }>('SELECT nb_lease_raise(l.id, $3, $4) AS r FROM leases l WHERE l.id = $1 AND l.project_id = $2', [
      leaseId, projectId, Math.max(0, Math.floor(want)), now,
    ]);
    const r = rows[0];
    if (!r) throw new NoburnNotFoundError(`lease not found: ${leaseId}`);
    if (Number(r.r) < 0) throw new NoburnConflictError(`run has ended (lease ${leaseId})`);
    return Number(r.r);
  }

  async end(projectId: string, leaseId: string, unused: number, now: number): Promise<void> {
    void now;
    const { rows } = await this.query('SELECT nb_lease_end(l.id, $3) FROM leases l WHERE l.id = $1 AND l.project_id = $2', [
      leaseId, projectId, Math.max(0, Math.floor(unused)),
    ]);
    if (rows.length === 0) throw new NoburnNotFoundError(`lease not found: ${leaseId}`);
  }

  private async query<T extends QueryResultRow>(sql: string, args: unknown[]): Promise<{ rows: T[] }> {
    try {
      return await this.pool.query<T>(sql, args);
    } catch (e) {
      throw storeError(e);
    }
  }
}
