/**
 * Budget leases on PostgreSQL, in process: two Ledgers over two PostgresStore pools on one
 * schema (two replicas) with leases=on. Settlement of a leased approval through the other
 * replica returns its room to the pool at once, and only once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import type { LedgerSettings } from '../../src/lib/ledger/ledger.js';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { NormalizedCheck, NormalizedRecord } from '../../src/lib/validate.js';
import { PG_URL, SKIP_TITLE, admin, dropSchemas, newSchemaName } from './pg-env.js';

const SETTINGS: LedgerSettings = { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } }, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 };
// 1000 input tokens at $1/MTok: $0.001 = 1e6 nano-dollars per check.
const CHECK: NormalizedCheck = { model: 'test-model', tokensIn: 1000, tokensOut: 0, userId: null, runId: null };
const CAP_USD = 0.1; // room for exactly 100 checks
const E_NANO = 1_000_000;

function rec(reservationId: string, key: string): NormalizedRecord {
  // Costs nothing: only the hold's room moves, so the checks after it show the settlement alone.
  return { model: 'test-model', tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costUsd: 0, wasBlocked: false, userId: null, runId: null, reservationId, idempotencyKey: key };
}

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('budget leases (in process)', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('budget leases (in process)', () => {
    const schemas: string[] = [];
    const ledgers: Ledger[] = [];
    afterAll(async () => {
      for (const l of ledgers) await l.close();
      await dropSchemas(schemas);
    });

    async function replicas(): Promise<{ a: Ledger; b: Ledger; schema: string }> {
      const schema = newSchemaName();
      schemas.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('leases', 'on');
      const open = async () => new Ledger(await PostgresStore.connect(url.toString(), { schema, poolSize: 4 }), SETTINGS, { groupCommit: true, leases: true });
      const a = await open();
      const b = await open();
      ledgers.push(a, b);
      await a.setBudget('acme', { scope: 'project', capUsd: CAP_USD, period: 'day' });
      return { a, b, schema };
    }

    it('a record through replica B settles a check leased by replica A: its room returns at once, and only once', async () => {
      const { a, b } = await replicas();
      const first = await a.check('acme', CHECK);
      expect(first.blocked).toBe(false);
      expect(first.reservationId).toMatch(/^L_/); // decided from a lease
      // Fill the cap: exactly 100 checks fit (leased or in the database).
      let allowed = 1;
      for (let i = 0; i < 200; i++) if (!(await a.check('acme', CHECK)).blocked) allowed++;
      expect(allowed).toBe(100);
      expect((await b.check('acme', CHECK)).blocked).toBe(true);

      // Settled through B: the estimate leaves A's lease (row C) and the room is back for one more check.
      expect(await b.record('acme', [rec(first.reservationId as string, 'r-1')])).toEqual({ accepted: 1, duplicates: 0 });
      expect((await b.check('acme', CHECK)).blocked).toBe(false);
      expect((await b.check('acme', CHECK)).blocked).toBe(true);

      // The same reservation again under another idempotency key: a new record, but no room twice.
      expect(await b.record('acme', [rec(first.reservationId as string, 'r-2')])).toEqual({ accepted: 1, duplicates: 0 });
      expect((await b.check('acme', CHECK)).blocked).toBe(true);
      expect((await a.check('acme', CHECK)).blocked).toBe(true);
    });

    it('near the cap a database decision takes back the room leased but not yet approvable (row U); the holder approves only up to W', async () => {
      const { a, schema } = await replicas();
      const plain = new Ledger(await PostgresStore.connect(PG_URL, { schema, poolSize: 2 }), SETTINGS, { groupCommit: true });
      ledgers.push(plain);
      expect((await a.check('acme', CHECK)).reservationId).toMatch(/^L_/);
      // A replica without leases fills the cap in the database; its refusals take A's row U.
      let byPlain = 0;
      for (let i = 0; i < 150; i++) if (!(await plain.check('acme', CHECK)).blocked) byPlain++;
      const rows = await admin(async (c) => (await c.query<{ id: string; amount_nano: string }>(`SELECT id, amount_nano FROM "${schema}".holds WHERE lease_id IS NOT NULL`)).rows);
      expect(rows.map((r) => r.id.slice(-2)).sort()).toEqual(['.c', '.s']);
      const w = Number(rows.find((r) => r.id.endsWith('.c'))?.amount_nano) / E_NANO; // A's W (nothing settled yet)
      expect(byPlain + w).toBe(100);
      // A approves what its W allows (one approval was the first check), and nothing more.
      let byA = 1;
      for (let i = 0; i < 150; i++) if (!(await a.check('acme', CHECK)).blocked) byA++;
      expect(byA).toBe(w);
      expect(byPlain + byA).toBe(100);
    });

    it('decideOffline approves from a held lease within W only, with no database call; another key or no headroom: null', async () => {
      const { a, schema } = await replicas();
      expect((await a.check('acme', CHECK)).reservationId).toMatch(/^L_/);
      await new Promise((r) => setTimeout(r, 300)); // let the background W raise (if any) finish
      expect(a.decideOffline('acme', { ...CHECK, model: 'other-model' })).toBeNull();
      expect(a.decideOffline('acme', { ...CHECK, runId: 'run_x' })).toBeNull();
      let offline = 0;
      for (let d = a.decideOffline('acme', CHECK); d !== null && offline < 1000; d = a.decideOffline('acme', CHECK)) {
        expect(d.blocked).toBe(false);
        expect(d.reservationId).toMatch(/^L_/);
        offline++;
      }
      expect(offline).toBeGreaterThan(0);
      // Exactly W: what the database already counts in the lease's row C.
      const w = await admin(async (c) => Number((await c.query<{ n: string }>(`SELECT amount_nano AS n FROM "${schema}".holds WHERE id LIKE '%.c'`)).rows[0]?.n));
      expect((1 + offline) * E_NANO).toBe(w);
    });

    it('release of a leased approval through the other replica returns its room once', async () => {
      const { a, b } = await replicas();
      const first = await a.check('acme', CHECK);
      expect(first.reservationId).toMatch(/^L_/);
      for (let i = 0; i < 200; i++) await a.check('acme', CHECK);
      expect((await b.check('acme', CHECK)).blocked).toBe(true);
      expect(await b.release('acme', [first.reservationId as string])).toBe(1);
      expect(await b.release('acme', [first.reservationId as string])).toBe(0);
      expect((await b.check('acme', CHECK)).blocked).toBe(false);
      expect((await b.check('acme', CHECK)).blocked).toBe(true);
    });

    it('a reservation id naming a lease with a forged signature settles nothing', async () => {
      const { a, b } = await replicas();
      const d = await a.check('acme', CHECK);
      const forged = (d.reservationId as string).replace(/\.[0-9a-f]{16}$/, '.0123456789abcdef');
      for (let i = 0; i < 200; i++) await a.check('acme', CHECK);
      expect((await b.check('acme', CHECK)).blocked).toBe(true);
      await b.record('acme', [rec(forged, 'f-1')]);
      expect((await b.check('acme', CHECK)).blocked).toBe(true);
    });

    it('closing a replica ends its leases: the unused room returns to the pool at once', async () => {
      const { a, b, schema } = await replicas();
      expect((await a.check('acme', CHECK)).reservationId).toMatch(/^L_/);
      const held = () => admin(async (c) => Number((await c.query<{ n: string }>(`SELECT coalesce(sum(amount_nano), 0) AS n FROM "${schema}".holds`)).rows[0]?.n));
      expect(await held()).toBeGreaterThan(E_NANO); // the lease: more than the one approval
      await a.closeLeases();
      expect(await held()).toBe(E_NANO); // only the approval stays held (row C), until it is settled or expires
      let allowed = 0;
      for (let i = 0; i < 120; i++) if (!(await b.check('acme', CHECK)).blocked) allowed++;
      expect(allowed).toBe(99);
    });
  });
}
