/**
 * Two stores with two pools on one schema stand for two `serve` replicas on one database:
 * caps must hold across them exactly, records must count once whichever one gets them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NoburnStoreError } from '../../src/lib/errors.js';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import type { LedgerSettings } from '../../src/lib/ledger/ledger.js';
import { openStore } from '../../src/lib/ledger/open-store.js';
import { PG_SCHEMA_VERSION } from '../../src/lib/ledger/postgres/schema.js';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { Decision } from '../../src/lib/types.js';
import { PRICES, T0, rec } from '../ledger/harness.js';
import { PG_URL, SKIP_TITLE, admin, dropSchemas, newSchemaName } from './pg-env.js';

const SETTINGS: LedgerSettings = { prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 };
const P = 'proj_r';
const N = 128;

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('postgres replicas', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('postgres replicas', () => {
    const schemas: string[] = [];
    const open: PostgresStore[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    afterAll(() => dropSchemas(schemas));

    async function replicas(n = 2, poolSize = 16, schema = newSchemaName()): Promise<PostgresStore[]> {
      schemas.push(schema);
      // 64 checks per replica queue for 16 connections: on a loaded machine the wait passes
      // the default 5 s connect timeout, which is not what these tests are about.
      const stores = await Promise.all(Array.from({ length: n }, () => PostgresStore.connect(PG_URL, { schema, poolSize, connectTimeoutMs: 60_000 })));
      open.push(...stores);
      return stores;
    }

    const ledgers = (stores: PostgresStore[], groupCommit = false) => stores.map((s) => new Ledger(s, SETTINGS, { now: () => T0, groupCommit }));

    /** N checks of $0.03 fired at once, alternating between the replicas. */
    function burst(ls: Ledger[], o: { user?: string; run?: string } = {}): Promise<Decision[]> {
      return Promise.all(
        Array.from({ length: N }, (_, i) =>
          (ls[i % ls.length] as Ledger).check(P, { model: 'test-model', tokensIn: 30_000, tokensOut: 0, userId: o.user ?? null, runId: o.run ?? null }),
        ),
      );
    }
    const approved = (ds: Decision[]) => ds.filter((d) => !d.blocked).length;

    it.each([
      ['project cap', 1.0, 'project'],
      ['user cap', 0.5, 'user'],
      ['default user cap', 0.25, 'default_user'],
      ['run cap', 0.7, 'run'],
    ] as const)(`%s: ${N} concurrent checks over two replicas approve exactly floor(cap / estimate)`, async (_name, capUsd, scope) => {
      const ls = ledgers(await replicas());
      const [a, b] = ls as [Ledger, Ledger];
      let run: string | undefined;
      if (scope === 'run') run = (await b.startRun(P, { budgetCapUsd: capUsd })).runId;
      else if (scope === 'user') await a.setBudget(P, { scope: 'user', userId: 'u', capUsd, period: 'day' });
      else await a.setBudget(P, { scope, capUsd, period: 'day' });
      const ds = await burst(ls, { user: 'u', run });
      const expected = Math.floor(Math.round(capUsd * 1000) / 30);
      expect(approved(ds)).toBe(expected);
      const reason = { project: 'project_budget_exceeded', user: 'user_budget_exceeded', default_user: 'user_budget_exceeded', run: 'run_budget_exceeded' }[scope];
      expect(ds.filter((d) => d.blocked).every((d) => d.blockReason === reason)).toBe(true);
      // Every allowed check holds its estimate: what is held is exactly what was approved.
      const heldUsd =
        scope === 'run' && run ? (await a.getRun(P, run)).heldUsd
        : scope === 'project' ? (await a.getBudgets(P))[0]?.heldUsd
        : (await b.listUsers(P)).find((u) => u.userId === 'u')?.heldUsd;
      expect(Math.round((heldUsd ?? -1) * 1e9)).toBe(expected * 30_000_000);
    });

    it('with group commit on both replicas, still exactly floor(cap / estimate)', async () => {
      const ls = ledgers(await replicas(), true);
      await (ls[0] as Ledger).setBudget(P, { scope: 'project', capUsd: 2, period: 'total' });
      expect(approved(await burst(ls))).toBe(66);
    });

    it('checks on one replica, records on the other: holds settle, spend is exact, never past the cap', async () => {
      const ls = ledgers(await replicas());
      const [a, b] = ls as [Ledger, Ledger];
      await a.setBudget(P, { scope: 'project', capUsd: 0.5, period: 'total' });
      const ds = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const d = await (ls[i % 2] as Ledger).check(P, { model: 'test-model', tokensIn: 30_000, tokensOut: 0, userId: null, runId: null });
          if (!d.blocked) await (ls[(i + 1) % 2] as Ledger).record(P, [rec({ usd: 0.02, reservationId: d.reservationId })]);
          return d;
        }),
      );
      const n = approved(ds);
      // Settled calls cost less than they held, so more than floor(0.5 / 0.03) may pass, never more than the cap allows.
      expect(n).toBeGreaterThanOrEqual(16);
      expect(n * 0.02).toBeLessThanOrEqual(0.5);
      const budget = (await b.getBudgets(P))[0];
      expect(budget?.heldUsd).toBe(0);
      expect(Math.round((budget?.spentUsd ?? -1) * 1e9)).toBe(n * 20_000_000);
      expect((await a.spend(P, {})).calls).toBe(n);
    });

    it('records sent through either replica, even both at once, count once', async () => {
      const [a, b] = ledgers(await replicas()) as [Ledger, Ledger];
      const rs = Array.from({ length: 200 }, (_, i) => rec({ usd: 0.000001 * (i + 1), userId: `u${i % 3}`, idempotencyKey: `dup-${i}` }));
      const sends = [];
      for (let i = 0; i < rs.length; i += 20) {
        const batch = rs.slice(i, i + 20);
        sends.push(a.record(P, batch), b.record(P, [...batch].reverse()));
      }
      const results = await Promise.all(sends);
      expect(results.reduce((s, r) => s + r.accepted, 0)).toBe(200);
      expect(results.reduce((s, r) => s + r.duplicates, 0)).toBe(200);
      const spend = await b.spend(P, {});
      expect(spend.calls).toBe(200);
      expect(spend.totalUsd).toBe(0.0201); // (1 + ... + 200) micro-dollars = 20,100 micro
      expect((await a.events(P, 0, 1000)).filter((e) => e.kind === 'record')).toHaveLength(200);
    });

    it('replicas starting at once on a new schema migrate it exactly once', async () => {
      const stores = await replicas(4, 2);
      const rows = await admin((c) => c.query<{ version: number }>(`SELECT version FROM "${schemas.at(-1)}".noburn_schema`));
      expect(rows.rows).toEqual([{ version: PG_SCHEMA_VERSION }]);
      const ls = ledgers(stores);
      for (const l of ls) expect((await l.check(P, { model: 'test-model', tokensIn: 1, tokensOut: 0, userId: null, runId: null })).blocked).toBe(false);
      // Reconnecting to a migrated schema changes nothing.
      const again = await replicas(1, 1, schemas.at(-1));
      expect((await (again[0] as PostgresStore).pool.query('SELECT count(*)::int AS n FROM noburn_schema')).rows).toEqual([{ n: 1 }]);
    });

    it('a schema from a newer noburn is refused', async () => {
      const [s] = await replicas(1, 1);
      await (s as PostgresStore).pool.query('UPDATE noburn_schema SET version = version + 1');
      await expect(PostgresStore.connect(PG_URL, { schema: schemas.at(-1) })).rejects.toThrow(/newer than this noburn/);
    });

    it('openStore takes a postgres:// URL: search_path from the URL options (schema created), pool_size', async () => {
      const schema = newSchemaName();
      schemas.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      url.searchParams.set('pool_size', '3');
      const store = await openStore(url.toString());
      try {
        expect(store.kind).toBe('postgres');
        expect((store as PostgresStore).pool.options.max).toBe(3);
        await store.createKey({ id: 'key_1', projectId: P, role: 'admin', hash: 'h1', label: null, createdAt: new Date(T0).toISOString(), revokedAt: null });
        const n = await admin((c) => c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".api_keys`));
        expect(n.rows).toEqual([{ n: 1 }]);
      } finally {
        await store.close();
      }
    });

    it('a bad URL, an unreachable server, or a closed store fails with NoburnStoreError', async () => {
      await expect(PostgresStore.connect('postgres://[bad')).rejects.toBeInstanceOf(NoburnStoreError);
      await expect(PostgresStore.connect(`${PG_URL}?pool_size=0`)).rejects.toThrow(/pool_size/);
      const down = new URL(PG_URL);
      down.port = '1';
      // It rejects, rather than retrying: a connect that kept trying would end this test at its timeout.
      await expect(PostgresStore.connect(down.toString(), { connectTimeoutMs: 2000 })).rejects.toBeInstanceOf(NoburnStoreError);
      const [s] = await replicas(1, 1);
      await (s as PostgresStore).close();
      await expect((s as PostgresStore).events(null, 0, 10)).rejects.toBeInstanceOf(NoburnStoreError);
    });
  });
}
