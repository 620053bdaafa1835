import type { Statement } from 'better-sqlite3';
import { nodeCrypto } from '../../lazy-crypto.js';
import { leaseMac } from '../leases/mac.js';
import type { HoldRow, Statements } from './statements.js';

/**
 * Settlement of leased approvals in the SQLite store (docs/operations-postgres.md, "Budget
 * leases", "Settlement"; the same rules as PostgreSQL's nb_lease_settle). A reservation id
 * `L_<lease>.<seq>.<estimate>.<raw input>.<mac>` settles once per (lease, seq): its estimate
 * leaves the lease's row C (never below 0), so the room returns to the pool at once.
 */
const LEASED_ID = /^(L_[A-Za-z0-9_-]+)\.([0-9]{1,15})\.([0-9]{1,15})\.([0-9]{0,15})\.([0-9a-f]{16})$/;

/** A lease's secret (it signs the reservation ids of its approvals). */
export function leaseSecret(): string {
  return nodeCrypto().randomBytes(12).toString('hex');
}

/** Names a lease (its rows or an approval): such an id never settles or frees an ordinary hold. */
export function isLeasedId(id: string): boolean {
  return id.startsWith('L_');
}

interface LeaseRow {
  id: string;
  secret: string;
  provider: string | null;
}

const SQL = {
  lease: 'SELECT id, secret, provider FROM leases WHERE id = ? AND project_id = ?',
  settled: 'INSERT OR IGNORE INTO lease_settled (lease_id, seq) VALUES (?, ?)',
  takeC: `UPDATE holds SET amount_nano = max(0, amount_nano - ?) WHERE id = ? AND project_id = ?`,
} as const;

const prepared = new WeakMap<Statements, Record<keyof typeof SQL, Statement>>();

function stmts(st: Statements): Record<keyof typeof SQL, Statement> {
  let p = prepared.get(st);
  if (!p) {
    const db = st.getRun.database;
    p = { lease: db.prepare(SQL.lease), settled: db.prepare(SQL.settled), takeC: db.prepare(SQL.takeC) };
    prepared.set(st, p);
  }
  return p;
}

/**
 * Settles a leased approval inside the caller's transaction. Returns it as a hold row (its
 * estimate, provider and raw input: for over-hold counting and calibration), or undefined
 * when the id is malformed, forged, of another project, already settled, or its row C is gone.
 */
export function settleLeased(st: Statements, projectId: string, reservationId: string): HoldRow | undefined {
  const m = LEASED_ID.exec(reservationId);
  if (!m) return undefined;
  const [, leaseId, seq, est, raw, mac] = m as unknown as [string, string, string, string, string, string];
  const p = stmts(st);
  const l = p.lease.get(leaseId, projectId) as LeaseRow | undefined;
  if (!l) {
    // A file without the lease (a remote client's mirror) may hold a copy of the approval under its id.
    const copy = st.getHold.get(reservationId, projectId) as HoldRow | undefined;
    if (copy) st.deleteHold.run(reservationId, projectId);
    return copy;
  }
  if (leaseMac(l.secret, `${seq}.${est}.${raw}`) !== mac) return undefined;
  if (p.settled.run(leaseId, Number(seq)).changes === 0) return undefined;
  if (p.takeC.run(Number(est), `${leaseId}.c`, projectId).changes === 0) return undefined;
  return { id: reservationId, amount_nano: Number(est), provider: l.provider, est_in_raw: raw === '' ? null : Number(raw) };
}
