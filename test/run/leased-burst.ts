/**
 * Shared checks for a run's budget leases (docs/run.md, "Budget leases"), embedded or remote:
 * what a burst through the proxy must leave in the ledger file, and what the calls saw.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { costNano } from '../proxy/helpers.js';
import { sql, sqlAll } from '../remote/helpers.js';

/** What one call of the fixture children costs (the fake upstream's usage, gpt-4o-mini). */
export const CALL_NANO = costNano('gpt-4o-mini', { tokensIn: 20, cachedTokensIn: 5, tokensOut: 12, cacheWriteTokensIn: 0 });
const LEASED = "reservation_id LIKE 'L\\_%' ESCAPE '\\'";

export interface ChildCall { ok: boolean; status: number | null; code?: string | null }

/** The calls the fixture child made, as it wrote them to DIR/result.json. */
export const resultCalls = (dir: string): ChildCall[] => (JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { calls: ChildCall[] }).calls;

/** The reservation ids of the run's records approved from a lease (L_<lease>.<seq>.<estimate>...). */
export const leasedReservations = (db: string, runId: string): string[] =>
  sqlAll<{ reservation_id: string }>(db, `SELECT reservation_id FROM records WHERE run_id = ? AND ${LEASED}`, runId).map((r) => r.reservation_id);

/** The estimate e of the run's leased approvals, read from a reservation id. */
export const leasedEstimate = (db: string, runId: string): number => Number((leasedReservations(db, runId)[0] ?? '').split('.')[2]);

/** Row C of the run's leases: W - approved, room only the lease's holder may approve from. */
export const leasedHeadroom = (db: string, runId: string): number =>
  sqlAll<{ a: number }>(db, "SELECT amount_nano AS a FROM holds WHERE run_id = ? AND id LIKE 'L\\_%.c' ESCAPE '\\'", runId).reduce((n, x) => n + x.a, 0);

/**
 * A burst whose calls were all in flight at once, through a run capped at `capUsd`:
 * most were approved from the lease, exactly floor(cap / e) in all (leased + held + spent
 * <= cap), the rest refused with 402, spend is the sum of the records, each approved call
 * served once, and the run's end left nothing held. Returns how many were approved.
 */
export function expectExactLeasedBurst(t: { db: string; workDir: string; served: number }, runId: string, capUsd: number): number {
  const calls = resultCalls(t.workDir);
  const approved = calls.filter((c) => c.ok).length;
  expect(leasedReservations(t.db, runId).length).toBeGreaterThan(approved / 2);
  const e = leasedEstimate(t.db, runId);
  expect(e).toBeGreaterThan(0);
  expect(approved).toBe(Math.floor((capUsd * 1e9) / e));
  expect(calls.filter((c) => !c.ok).every((c) => c.status === 402)).toBe(true);
  const run = sql<{ status: string; spent_nano: number; calls: number }>(t.db, 'SELECT status, spent_nano, calls FROM runs WHERE id = ?', runId);
  const sum = sql<{ s: number; n: number }>(t.db, 'SELECT coalesce(sum(cost_nano), 0) AS s, count(*) AS n FROM records WHERE run_id = ?', runId);
  expect(run).toMatchObject({ status: 'ended', calls: approved, spent_nano: sum.s });
  expect(sum).toEqual({ s: approved * CALL_NANO, n: approved });
  expect(t.served).toBe(approved);
  expect(sql<{ h: number }>(t.db, 'SELECT coalesce(sum(amount_nano), 0) AS h FROM holds WHERE run_id = ?', runId).h).toBe(0);
  return approved;
}
