/**
 * Row S of a PostgreSQL lease (docs/operations-postgres.md, "What a lease is" and "Settlement"):
 * records and release settle into `<lease>.s` (negative), never into row C, so a W raise (which
 * locks C then U) does not wait for a record batch that has not committed; the held sums are
 * those of two rows (U + C + S = G - settled); an end never lowers C below what was settled; a
 * lease granted before migration 11 (rows U and C only) still settles from row C, never below 0.
 * Leases are granted through the store's lease port directly (no background raise or end).
 */
import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { leaseReservationId } from '../../src/lib/ledger/leases/manager.js';
import { recordPayload } from '../../src/lib/ledger/postgres/payloads.js';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { StoreCheck, StoreRecord } from '../../src/lib/ledger/store.js';
import { PG_URL, SKIP_TITLE, dropSchemas, newSchemaName } from './pg-env.js';

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const E = 1_000_000;
const HOLD_TTL = 600_000;

function check(project: string, now = T0): StoreCheck {
  return {
    projectId: project, userId: null, runId: null, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false, now, holdTtlMs: HOLD_TTL,
    prices: { inNanoPerMTok: 1000, outNanoPerMTok: 0 }, provider: 'prov',
  };
}

function record(project: string, reservationId: string | null, key: string): StoreRecord {
  return {
    projectId: project, userId: null, runId: null, model: 'm', tokensIn: 1000, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0,
    costNano: E, unpriced: false, wasBlocked: false, reservationId, idempotencyKey: key, ts: T0 + 1000,
  };
}

interface Lease {
  leaseId: string;
  secret: string;
}

if (PG_URL === '') {
  describe('row S of a PostgreSQL lease', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('row S of a PostgreSQL lease', () => {
    const schemas: string[] = [];
    const stores: PostgresStore[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
      await dropSchemas(schemas);
    });

    async function store(): Promise<PostgresStore> {
      const schema = newSchemaName();
      schemas.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('leases', 'on');
      const s = await PostgresStore.connect(url.toString(), { schema, poolSize: 4 });
      stores.push(s);
      await s.setBudget({ projectId: 'p', scope: 'project', userId: null, capNano: 1000 * E, period: 'day', now: T0 });
      return s;
    }

    async function grant(s: PostgresStore, now = T0): Promise<Lease> {
      const g = await s.leasePort?.grant({ check: check('p', now), want: 20 * E, min: E, w0: 10 * E });
      if (!g) throw new Error('grant refused');
      expect(g).toMatchObject({ granted: 20 * E, w: 10 * E });
      return g;
    }

    /** A lease as migration 10 granted it: rows U (G - W) and C (W), no row S. */
    async function preMigrationLease(s: PostgresStore, g: number, w: number): Promise<Lease> {
      const l = { leaseId: `L_old${randomBytes(4).toString('hex')}`, secret: randomBytes(12).toString('hex') };
      const end = T0 + 30_000;
      await s.pool.query(`INSERT INTO leases (id, project_id, holder, secret, provider, created_at, ends_at, settle_until) VALUES ($1, 'p', 'rep_x', $2, 'prov', $3, $4, $5)`, [
        l.leaseId, l.secret, T0, end, end + HOLD_TTL,
      ]);
      await s.pool.query(
        `INSERT INTO holds (id, project_id, user_id, run_id, model, amount_nano, created_at, expires_at, provider, lease_id)
         VALUES ($1 || '.u', 'p', NULL, NULL, 'm', $2, $4, $5, 'prov', $1), ($1 || '.c', 'p', NULL, NULL, 'm', $3, $4, $6, 'prov', $1)`,
        [l.leaseId, g - w, w, T0, end, end + HOLD_TTL],
      );
      return l;
    }

    const rid = (l: Lease, seq: number) => leaseReservationId(l.leaseId, l.secret, seq, E, null);

    async function rowsOf(s: PostgresStore, l: Lease): Promise<Record<string, number>> {
      const { rows } = await s.pool.query<{ id: string; a: string }>('SELECT id, amount_nano AS a FROM holds WHERE lease_id = $1', [l.leaseId]);
      return Object.fromEntries(rows.map((r) => [r.id.slice(-1), Number(r.a)]));
    }
    const held = async (s: PostgresStore, l: Lease) => Object.values(await rowsOf(s, l)).reduce((n, x) => n + x, 0);

    /** Runs `fn` while another connection holds a transaction open that applied `records` and has not committed. */
    async function withOpenBatch<T>(s: PostgresStore, records: StoreRecord[], fn: () => Promise<T>, fn0 = 'nb_record'): Promise<T> {
      const c = await s.pool.connect();
      try {
        await c.query('BEGIN');
        const payload = records.map(recordPayload);
        await c.query(`SELECT ${fn0}($1::jsonb)`, [JSON.stringify(fn0 === 'nb_apply' ? [{ r: payload }] : payload)]);
        return await fn();
      } finally {
        await c.query('ROLLBACK');
        c.release();
      }
    }

    /** nb_lease_raise on its own connection, giving up on a row lock after `ms`. */
    async function raiseWithin(s: PostgresStore, l: Lease, want: number, ms: number): Promise<number> {
      const c: PoolClient = await s.pool.connect();
      try {
        await c.query('BEGIN');
        await c.query(`SET LOCAL lock_timeout = '${ms}ms'`);
        const r = await c.query<{ r: string }>('SELECT nb_lease_raise($1, $2, $3) AS r', [l.leaseId, want, T0]);
        await c.query('COMMIT');
        return Number(r.rows[0]?.r);
      } catch (e) {
        await c.query('ROLLBACK');
        throw e;
      } finally {
        c.release();
      }
    }

    const lockedNow = (s: PostgresStore, id: string) =>
      s.pool.query('SELECT 1 FROM holds WHERE id = $1 FOR UPDATE NOWAIT', [id]).then(
        () => false,
        (e: { code?: string }) => e.code === '55P03',
      );

    for (const fn0 of ['nb_record', 'nb_apply']) {
      it(`a W raise does not wait for an uncommitted ${fn0} batch settling the same lease (it locks row S, not C)`, async () => {
        const s = await store();
        const l = await grant(s);
        const moved = await withOpenBatch(
          s,
          [record('p', rid(l, 1), 'k1'), record('p', rid(l, 2), 'k2')],
          async () => {
            // The open batch did settle into the lease: it holds row S's lock, and row C is free.
            expect(await lockedNow(s, `${l.leaseId}.s`)).toBe(true);
            expect(await lockedNow(s, `${l.leaseId}.c`)).toBe(false);
            // A raise that waited for the batch would fail here on its 2 s lock_timeout.
            return raiseWithin(s, l, 5 * E, 2000);
          },
          fn0,
        );
        expect(moved).toBe(5 * E);
        // The batch rolled back: W = 15 E in C, U = 5 E, nothing settled.
        expect(await rowsOf(s, l)).toEqual({ u: 5 * E, c: 15 * E, s: 0 });
      });
    }

    it('a lease without row S (granted before migration 11): the same open batch locks row C, and a raise waits for it', async () => {
      // The probe above would see the wait: here it times out (lock_timeout), as every raise did before row S.
      const s = await store();
      const l = await preMigrationLease(s, 20 * E, 10 * E);
      await withOpenBatch(s, [record('p', rid(l, 1), 'k1')], async () => {
        await expect(raiseWithin(s, l, 5 * E, 500)).rejects.toMatchObject({ code: '55P03' });
      });
    });

    it('held sums as with two rows: U + C + S = G - settled; after the end, approved - settled; all settled, nothing held', async () => {
      const s = await store();
      const l = await grant(s);
      expect(await rowsOf(s, l)).toEqual({ u: 10 * E, c: 10 * E, s: 0 });
      expect(await s.leasePort?.raise(l.leaseId, 5 * E, T0)).toBe(5 * E); // W = 15 E
      // Four approvals settled: two in one batch, one alone, one by release; one of them named twice.
      await s.record([record('p', rid(l, 1), 'k1'), record('p', rid(l, 2), 'k2'), record('p', rid(l, 1), 'k1b')]);
      await s.record([record('p', rid(l, 3), 'k3')]);
      expect(await s.release('p', [rid(l, 4)], T0)).toBe(1);
      expect(await rowsOf(s, l)).toEqual({ u: 5 * E, c: 15 * E, s: -4 * E });
      expect(await held(s, l)).toBe(20 * E - 4 * E);
      // The holder approved 6 of its W = 15 E: the end leaves approved - settled = 2 E held.
      await s.leasePort?.end(l.leaseId, 9 * E);
      expect(await rowsOf(s, l)).toEqual({ c: 6 * E, s: -4 * E });
      expect(await held(s, l)).toBe(2 * E);
      await s.record([record('p', rid(l, 5), 'k5'), record('p', rid(l, 6), 'k6'), record('p', rid(l, 6), 'k6b')]);
      expect(await held(s, l)).toBe(0);
      expect(await rowsOf(s, l)).toEqual({ c: 6 * E, s: -6 * E });
    });

    it('an end never lowers row C below what row S has settled: C + S stays >= 0', async () => {
      const s = await store();
      const l = await grant(s);
      await s.record([record('p', rid(l, 1), 'k1'), record('p', rid(l, 2), 'k2')]);
      // An end claiming nothing was approved (unused = W) would leave -2 E held with C at 0.
      await s.leasePort?.end(l.leaseId, 10 * E);
      expect(await rowsOf(s, l)).toEqual({ c: 2 * E, s: -2 * E });
      expect(await held(s, l)).toBe(0);
    });

    it('a lease granted before migration 11 settles from row C (batch, one by one, release), never below 0', async () => {
      const s = await store();
      const l = await preMigrationLease(s, 20 * E, 3 * E);
      await s.record([record('p', rid(l, 1), 'k1'), record('p', rid(l, 1), 'k1b')]); // set-wise
      expect(await rowsOf(s, l)).toEqual({ u: 17 * E, c: 2 * E });
      await s.record([record('p', rid(l, 2), 'k2'), record('p', null, 'k-none')]); // a record naming no hold: one by one
      expect(await rowsOf(s, l)).toEqual({ u: 17 * E, c: 1 * E });
      expect(await s.release('p', [rid(l, 3)], T0)).toBe(1);
      expect(await rowsOf(s, l)).toEqual({ u: 17 * E, c: 0 });
      await s.record([record('p', rid(l, 4), 'k4')]);
      expect(await rowsOf(s, l)).toEqual({ u: 17 * E, c: 0 });
      // No row S appeared for it.
      expect(Object.keys(await rowsOf(s, l)).sort()).toEqual(['c', 'u']);
    });

    it('rows C and S expire together (kill -9: nothing ends the lease) and the next grant deletes all three', async () => {
      const s = await store();
      const l = await grant(s);
      await s.record([record('p', rid(l, 1), 'k1')]);
      const { rows } = await s.pool.query<{ id: string; x: string }>('SELECT id, expires_at AS x FROM holds WHERE lease_id = $1 ORDER BY id', [l.leaseId]);
      const exp = Object.fromEntries(rows.map((r) => [r.id.slice(-1), Number(r.x)]));
      expect(exp).toEqual({ u: T0 + 30_000, c: T0 + 30_000 + HOLD_TTL, s: T0 + 30_000 + HOLD_TTL });
      expect(await held(s, l)).toBe(19 * E); // G - settled
      // After U's expiry a grant deletes U; C + S (W - settled) stays until C's expiry, then goes too.
      await grant(s, T0 + 30_000 + HOLD_TTL - 1);
      expect(await rowsOf(s, l)).toEqual({ c: 10 * E, s: -E });
      await grant(s, T0 + 30_000 + HOLD_TTL);
      expect(await rowsOf(s, l)).toEqual({});
    });
  });
}
