import type { Database, Statement } from 'better-sqlite3';
import { NoburnConflictError, NoburnNotFoundError } from '../../errors.js';
import { newId } from '../../ids.js';
import { storedTags } from '../../tags.js';
import type { LeaseGrant, LeaseGrantRequest, RunLeasePort } from '../leases/port.js';
import type { StoreCheck, StoreDecision, StoreLimit } from '../store.js';
import { leaseReservationId } from '../leases/manager.js';
import { abandonIdleRuns, capsOf } from './decide.js';
import type { ChainRow } from './decide.js';
import type { RunRow } from '../rows.js';
import type { Statements } from './statements.js';
import { leaseSecret } from './lease-settle.js';

/**
 * Budget leases in the SQLite store, for remote runs (serve's /v1/leases; the rules of
 * docs/operations-postgres.md "Budget leases", as PostgreSQL's lease-functions.ts):
 *   row U (`<lease>.u`): G - W, granted but not yet approvable; expires at the lease's end;
 *   row C (`<lease>.c`): W - S, approvable and not yet settled; expires at end + hold TTL.
 * Both are holds rows with the check's user, run, model, tags and provider, so every cap
 * query (and the `held` sums, through the holds_amount trigger) counts them unchanged.
 * Each method is one BEGIN IMMEDIATE transaction: the file's write lock is the project lock.
 */
export const DEFAULT_SQLITE_LEASE_TTL_MS = 30_000;

const SQL = {
  housekeepSettled: 'DELETE FROM lease_settled WHERE lease_id IN (SELECT id FROM leases WHERE project_id = ? AND settle_until <= ?)',
  housekeep: 'DELETE FROM leases WHERE project_id = ? AND settle_until <= ?',
  holders: `SELECT count(*) AS n FROM (SELECT holder FROM leases WHERE project_id = ? AND ends_at > ? UNION SELECT ?)`,
  insertLease: `INSERT INTO leases (id, project_id, holder, secret, run_id, provider, created_at, ends_at, settle_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  lease: 'SELECT id, run_id FROM leases WHERE id = ? AND project_id = ?',
  row: 'SELECT amount_nano, expires_at FROM holds WHERE id = ? AND project_id = ?',
  add: 'UPDATE holds SET amount_nano = amount_nano + ? WHERE id = ? AND project_id = ?',
  takeC: 'UPDATE holds SET amount_nano = max(0, amount_nano - ?) WHERE id = ? AND project_id = ?',
  dropU: 'DELETE FROM holds WHERE id = ? AND project_id = ?',
} as const;

type Prepared = Record<keyof typeof SQL, Statement>;

export class SqliteLeases implements RunLeasePort {
  private readonly p: Prepared;

  constructor(
    private readonly db: Database,
    private readonly st: Statements,
    readonly ttlMs: number = DEFAULT_SQLITE_LEASE_TTL_MS,
  ) {
    this.p = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, db.prepare(sql)])) as Prepared;
  }

  /** The run and its chain, refused unless every one of them is open. */
  private openChain(projectId: string, runId: string, now: number, idleTtlMs: number | undefined): ChainRow[] {
    if (idleTtlMs !== undefined) abandonIdleRuns(this.st, projectId, now, idleTtlMs, runId);
    const run = this.st.getRun.get(runId, projectId) as RunRow | undefined;
    if (!run) throw new NoburnNotFoundError(`run not found: ${runId}`);
    const chain = this.st.runChain.all(run.id) as ChainRow[];
    if (run.status !== 'open' || chain.some((r) => r.status !== 'open')) throw new NoburnConflictError(`run has ended: ${runId}`);
    return chain;
  }

  grant(req: LeaseGrantRequest, holder: string): Promise<LeaseGrant | null> {
    return this.tx(() => this.grantIn(req, holder));
  }

  /**
   * A grant, a raise and a settled approval's end inside the caller's transaction, which
   * SqliteStore.rehearse rolls back: compiled and warm before a long-lived process's first call.
   */
  rehearse(c: StoreCheck, settle: (reservationId: string) => void): void {
    const g = this.grantIn({ check: c, want: 2 * c.estimateNano, min: c.estimateNano, w0: c.estimateNano }, 'rehearsal');
    if (!g) return;
    this.raiseIn(c.projectId, g.leaseId, c.estimateNano, c.now);
    settle(leaseReservationId(g.leaseId, g.secret, 1, c.estimateNano, c.tokensInRaw ?? null));
    this.endIn(c.projectId, g.leaseId, c.estimateNano);
  }

  private grantIn(req: LeaseGrantRequest, holder: string): LeaseGrant | null {
    const c = req.check;
    const now = c.now;
    this.st.sweepHolds.run(now);
    this.p.housekeepSettled.run(c.projectId, now);
    this.p.housekeep.run(c.projectId, now);
    const chain = c.runId === null ? [] : this.openChain(c.projectId, c.runId, now, c.runIdleTtlMs);
    const { caps } = capsOf(this.st, c, chain);
    let room: number | null = null;
    let limit: StoreLimit | null = null;
    for (const k of caps) {
      const r = k.capNano - k.spentNano - k.heldNano;
      if (room === null || r < room) {
        room = r;
        limit = k;
      }
    }
    // Granted only if the room left afterwards is at least k grants (k = 4 per holder of a live lease here, this one included).
    const n = 4 * (this.p.holders.get(c.projectId, now, holder) as { n: number }).n;
    let g = req.want;
    if (room !== null) g = Math.min(g, Math.floor(room / (n + 1)));
    g = Math.floor(g / req.min) * req.min;
    if (g < req.min) return null;
    const w = Math.min(g, req.w0);
    const leaseId = newId('L');
    const secret = leaseSecret();
    const end = now + this.ttlMs;
    const provider = c.provider ?? null;
    this.p.insertLease.run(leaseId, c.projectId, holder, secret, c.runId, provider, now, end, end + c.holdTtlMs);
    const tags = storedTags(c.tags);
    this.st.insertHold.run(`${leaseId}.u`, c.projectId, c.userId, c.runId, c.model, g - w, now, end, provider, null, tags);
    this.st.insertHold.run(`${leaseId}.c`, c.projectId, c.userId, c.runId, c.model, w, now, end + c.holdTtlMs, provider, null, tags);
    // What is left under each cap with the lease counted (what a lease decision reports).
    const remainingNano: StoreDecision['remainingNano'] = {};
    for (const k of caps) {
      const r = k.capNano - k.spentNano - k.heldNano - g;
      const prev = remainingNano[k.scope];
      remainingNano[k.scope] = prev === undefined ? r : Math.min(prev, r);
    }
    const lim = limit ? { ...limit, heldNano: limit.heldNano + g } : null;
    return { leaseId, secret, granted: g, w, remainingNano, limit: lim };
  }

  private leaseOf(projectId: string, leaseId: string): { id: string; run_id: string | null } {
    const l = this.p.lease.get(leaseId, projectId) as { id: string; run_id: string | null } | undefined;
    if (!l) throw new NoburnNotFoundError(`lease not found: ${leaseId}`);
    return l;
  }

  raise(projectId: string, leaseId: string, want: number, now: number): Promise<number> {
    return this.tx(() => this.raiseIn(projectId, leaseId, want, now));
  }

  private raiseIn(projectId: string, leaseId: string, want: number, now: number): number {
    const l = this.leaseOf(projectId, leaseId);
    if (l.run_id !== null) this.openChain(projectId, l.run_id, now, undefined);
    const c = this.p.row.get(`${leaseId}.c`, projectId) as { amount_nano: number; expires_at: number } | undefined;
    const u = this.p.row.get(`${leaseId}.u`, projectId) as { amount_nano: number; expires_at: number } | undefined;
    if (!c || !u || u.expires_at <= now || c.expires_at <= now) return 0;
    const x = Math.min(u.amount_nano, Math.max(0, Math.floor(want)));
    if (x <= 0) return 0;
    this.p.add.run(-x, `${leaseId}.u`, projectId);
    this.p.add.run(x, `${leaseId}.c`, projectId);
    return x;
  }

  end(projectId: string, leaseId: string, unused: number, now: number): Promise<void> {
    void now;
    return this.tx(() => this.endIn(projectId, leaseId, unused));
  }

  private endIn(projectId: string, leaseId: string, unused: number): void {
    this.leaseOf(projectId, leaseId);
    this.p.takeC.run(Math.max(0, Math.floor(unused)), `${leaseId}.c`, projectId);
    this.p.dropU.run(`${leaseId}.u`, projectId);
  }

  private tx<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(fn).immediate());
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
