/**
 * Near the cap a database decision takes back other leases' row U before it refuses
 * (docs/operations-postgres.md, "Near the cap"), waiting for a W raise in progress on that
 * lease rather than skipping it: skipping would refuse a check that the room still in row U
 * fits. A raise is held open on one connection while a check that only U's room can fit is
 * decided on another; the raise then commits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { StoreCheck } from '../../src/lib/ledger/store.js';
import { PG_URL, SKIP_TITLE, dropSchemas, newSchemaName } from './pg-env.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const E = 1_000_000;

function check(now = T0): StoreCheck {
  return {
    projectId: 'p', userId: null, runId: null, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false, now, holdTtlMs: 600_000,
    prices: { inNanoPerMTok: 1000, outNanoPerMTok: 0 }, provider: 'prov',
  };
}

if (PG_URL === '') {
  describe('taking back row U near the cap', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('taking back row U near the cap', () => {
    const schemas: string[] = [];
    const stores: PostgresStore[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
      await dropSchemas(schemas);
    });

    it('waits for a raise in progress on a lease, then takes its row U and approves the check it fits', async () => {
      const schema = newSchemaName();
      schemas.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('leases', 'on');
      const s = await PostgresStore.connect(url.toString(), { schema, poolSize: 4 });
      stores.push(s);
      await s.setBudget({ projectId: 'p', scope: 'project', userId: null, capNano: 100 * E, period: 'day', now: T0 });
      // A lease of 20 (W 10: row U holds 10), then the other 80 of the cap held by checks in the database.
      const g = await s.leasePort?.grant({ check: check(), want: 20 * E, min: E, w0: 10 * E });
      expect(g).toMatchObject({ granted: 20 * E, w: 10 * E });
      for (let i = 0; i < 80; i++) expect((await s.check(check(T0 + 1))).blocked).toBe(false);
      const c = await s.pool.connect();
      try {
        // A raise of 2 in progress: it holds the lease's rows C and U until it commits.
        await c.query('BEGIN');
        const raised = await c.query<{ r: string }>('SELECT nb_lease_raise($1, $2, $3) AS r', [g?.leaseId, 2 * E, T0 + 2]);
        expect(Number(raised.rows[0]?.r)).toBe(2 * E);
        // Only row U's room (8 once the raise commits) can fit this check.
        const decided = s.check(check(T0 + 3));
        await new Promise((r) => setTimeout(r, 300));
        await c.query('COMMIT');
        const d = await decided;
        expect(d.blocked).toBe(false);
      } finally {
        c.release();
      }
      // Row U is gone (taken back); the cap holds: the lease's W (12) + 81 checks in the database.
      const { rows } = await s.pool.query<{ id: string; a: string }>('SELECT id, amount_nano AS a FROM holds WHERE lease_id = $1 ORDER BY id', [g?.leaseId]);
      expect(rows.map((r) => [r.id.slice(-1), Number(r.a)])).toEqual([['c', 12 * E], ['s', 0]]);
      const held = await s.pool.query<{ n: string }>('SELECT sum(amount_nano) AS n FROM holds WHERE project_id = $1', ['p']);
      expect(Number(held.rows[0]?.n)).toBe(93 * E);
    });
  });
}
