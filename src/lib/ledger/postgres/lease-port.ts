import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { NoburnStoreError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { LeaseGrant, LeaseGrantRequest, LeasePort } from '../leases/port.js';
import type { StoreLimit } from '../store.js';
import { storeError } from './pool.js';
import { windowsAt } from './reads.js';

/** The lease options of a store URL (noburn's own parameters, removed before pg sees the URL). */
export interface LeaseUrlOptions {
  url: string;
  /** null: leases=off (the default). */
  leases: { ttlMs: number } | null;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;

/** Reads and strips `leases=on|off` and `lease_ttl_ms=N` from a postgres:// URL. */
export function leaseUrlOptions(url: string): LeaseUrlOptions {
  if (!/[?&](leases|lease_ttl_ms)=/.test(url)) return { url, leases: null };
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
  return { url: u.toString(), leases: on === 'on' ? { ttlMs } : null };
}

interface GrantJson {
  granted: number;
  w?: number;
  rem?: LeaseGrant['remainingNano'];
  limit?: StoreLimit | null;
}

/** Leases on the PostgreSQL store's pool: one function call each (lease-functions.ts). */
export class PgLeasePort implements LeasePort {
  readonly holder = newId('rep');

  constructor(
    private readonly pool: Pool,
    readonly ttlMs: number,
  ) {}

  private async call<T>(sql: string, args: unknown[]): Promise<T | undefined> {
    try {
      const { rows } = await this.pool.query<{ r: T }>(sql, args);
      return rows[0]?.r;
    } catch (e) {
      throw storeError(e);
    }
  }

  async grant(req: LeaseGrantRequest): Promise<LeaseGrant | null> {
    const c = req.check;
    const leaseId = newId('L');
    const secret = randomBytes(12).toString('hex');
    const payload = {
      projectId: c.projectId, userId: c.userId, model: c.model, tags: c.tags ?? [], provider: c.provider ?? null,
      now: c.now, windows: windowsAt(c.now), holdTtlMs: c.holdTtlMs, leaseTtlMs: this.ttlMs,
      leaseId, secret, holder: this.holder, want: req.want, min: req.min, w0: req.w0,
    };
    const g = await this.call<GrantJson>('SELECT nb_lease($1::jsonb) AS r', [JSON.stringify(payload)]);
    if (!g || g.granted <= 0) return null;
    const l = g.limit ?? null;
    return {
      leaseId, secret, granted: Number(g.granted), w: Number(g.w ?? 0), remainingNano: g.rem ?? {},
      limit: l ? { scope: l.scope, capNano: Number(l.capNano), spentNano: Number(l.spentNano), heldNano: Number(l.heldNano) } : null,
    };
  }

  async raise(leaseId: string, want: number, now: number): Promise<number> {
    return Number((await this.call<number>('SELECT nb_lease_raise($1, $2, $3) AS r', [leaseId, want, now])) ?? 0);
  }

  async end(leaseId: string, unused: number): Promise<void> {
    await this.call('SELECT nb_lease_end($1, $2) AS r', [leaseId, unused]);
  }
}
