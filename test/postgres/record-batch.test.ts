/**
 * nb_record frees the holds a batch names set-wise (one statement for ordinary holds, one
 * UPDATE of each lease's row S by the sum of its settled estimates): the rule is that a batch
 * settles exactly as the same records one per call. Leases are granted through the store's
 * lease port directly, so no background raise or end moves their rows during the test.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { leaseReservationId } from '../../src/lib/ledger/leases/manager.js';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { StoreCheck, StoreRecord } from '../../src/lib/ledger/store.js';
import { PG_URL, SKIP_TITLE, dropSchemas, newSchemaName } from './pg-env.js';

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);
const E = 1_000_000;

function check(project: string, runId: string | null = null): StoreCheck {
  return {
    projectId: project, userId: null, runId, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false, now: T0, holdTtlMs: 600_000,
    prices: { inNanoPerMTok: 1000, outNanoPerMTok: 0 }, provider: `prov-${project}`,
  };
}

function record(project: string, reservationId: string | null, key: string, o: { cost?: number; runId?: string | null; tokensIn?: number; wasBlocked?: boolean } = {}): StoreRecord {
  return {
    projectId: project, userId: null, runId: o.runId ?? null, model: 'm', tokensIn: o.tokensIn ?? 1000, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0,
    costNano: o.cost ?? E, unpriced: false, wasBlocked: o.wasBlocked ?? false, reservationId, idempotencyKey: key, ts: T0 + 1000,
  };
}

if (PG_URL === '') {
  describe('record batches on PostgreSQL', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('record batches on PostgreSQL', () => {
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
      const s = await PostgresStore.connect(url.toString(), { schema, poolSize: 2 });
      stores.push(s);
      return s;
    }

    /** A project's leases, holds and run, and the batch naming them (duplicates, forgeries, a settled one). */
    async function world(s: PostgresStore, project: string): Promise<{ batch: StoreRecord[]; leases: string[] }> {
      const port = s.leasePort;
      if (!port) throw new Error('leases=on expected');
      await s.setBudget({ projectId: project, scope: 'project', userId: null, capNano: 1000 * E, period: 'day', now: T0 });
      await s.startRun({ projectId: project, runId: `${project}-run`, capNano: null, label: null, now: T0 });
      const leases = [];
      for (let i = 0; i < 2; i++) {
        const g = await port.grant({ check: check(project), want: 20 * E, min: E, w0: 10 * E });
        if (!g) throw new Error('grant refused');
        leases.push(g);
      }
      const [a, b] = leases as [(typeof leases)[0], (typeof leases)[0]];
      const id = (l: typeof a, seq: number, raw: number | null = null) => leaseReservationId(l.leaseId, l.secret, seq, E, raw);
      const h1 = (await s.check(check(project))).reservationId as string;
      const h2 = (await s.check(check(project, `${project}-run`))).reservationId as string;
      // Settled before the batch: naming it again frees nothing.
      await s.record([record(project, id(a, 9), 'before')]);
      const forged = id(b, 1).replace(/\.[0-9a-f]{16}$/, '.0123456789abcdef');
      const batch = [
        record(project, id(a, 1), 'k1'),
        record(project, id(b, 1), 'k2', { cost: 3 * E }),
        record(project, id(a, 1), 'k3'), // the same approval under another key: counted, frees nothing
        record(project, forged, 'k4'),
        record(project, h1, 'k5'),
        record(project, h1, 'k6'),
        record(project, id(a, 2), 'k1'), // a duplicate key: counts nothing, frees its approval
        record(project, id(b, 1), 'k7'),
        record(project, 'L_nothing.1.1..0123456789abcdef', 'k8'),
        record(project, id(a, 9), 'k9'),
        record(project, id(b, 2, 1000), 'k10', { tokensIn: 1300 }), // learns the input ratio 1.3
        record(project, id(a, 3), 'k11', { runId: `${project}-run`, cost: 2 * E }), // an over-hold on the run
        record(project, h2, 'k12', { runId: `${project}-run`, cost: 5 * E }),
        record(project, id(b, 3), 'k13', { wasBlocked: true }),
        record(project, id(b, 4), 'k14'),
        record(project, id(b, 4), 'k14'),
      ];
      return { batch, leases: leases.map((l) => l.leaseId) };
    }

    async function rows(s: PostgresStore, project: string, leases: string[]): Promise<string> {
      const q = async (sql: string) => (await s.pool.query(sql, [project])).rows;
      const out = JSON.stringify({
        usage: await q('SELECT scope, subject, win, spent_nano, calls, blocked_calls, tokens_in FROM usage WHERE project_id = $1 ORDER BY scope, subject, win'),
        records: await q('SELECT idem_key, cost_nano, was_blocked, reservation_id FROM records WHERE project_id = $1 ORDER BY seq'),
        holds: await q('SELECT id, amount_nano FROM holds WHERE project_id = $1 ORDER BY seq'),
        settled: await Promise.all(leases.map(async (l) => (await s.pool.query('SELECT seq FROM lease_settled WHERE lease_id = $1 ORDER BY seq', [l])).rows)),
        runs: await q('SELECT spent_nano, calls, over_holds FROM runs WHERE project_id = $1'),
        calibration: await q(`SELECT samples, ratio, max_ratio FROM calibration WHERE provider = 'prov-' || $1`),
        events: await q(`SELECT kind, amount_nano, ref FROM events WHERE project_id = $1 AND kind <> 'run_start' ORDER BY seq`),
      });
      // Ids differ between the two worlds: name the leases by their order, the project as P, no macs or hold ids.
      return leases.reduce((t, l, i) => t.split(l).join(`LEASE${i}`), out).split(project).join('P').replace(/\.[0-9a-f]{16}"/g, '.MAC"').replace(/"res_[A-Za-z0-9_-]+"/g, '"res"');
    }

    it('a batch of records settles holds and leased approvals exactly as the same records one per call', async () => {
      const s = await store();
      const one = await world(s, 'one');
      const each = await world(s, 'each');
      const together = await s.record(one.batch);
      let accepted = 0;
      let duplicates = 0;
      for (const r of each.batch) {
        const x = await s.record([r]);
        accepted += x.accepted;
        duplicates += x.duplicates;
      }
      expect(together).toEqual({ accepted, duplicates });
      expect(together).toEqual({ accepted: 14, duplicates: 2 });
      const a = await rows(s, 'one', one.leases);
      expect(a).toEqual(await rows(s, 'each', each.leases));
      // And what that is: each lease's row S holds the estimates settled once (a: 9, 1, 2, 3; b: 1, 2, 3, 4),
      // row C still W (10 E): C + S = 6 E held for each (operations-postgres.md, "Settlement").
      const c = JSON.parse(a) as { holds: { id: string; amount_nano: number }[]; runs: { over_holds: number }[]; calibration: { samples: number }[] };
      expect(c.holds.filter((h) => h.id.endsWith('.c')).map((h) => h.amount_nano)).toEqual([10 * E, 10 * E]);
      expect(c.holds.filter((h) => h.id.endsWith('.s')).map((h) => h.amount_nano)).toEqual([-4 * E, -4 * E]);
      expect(c.holds.filter((h) => !h.id.startsWith('LEASE'))).toEqual([]);
      expect(c.runs[0]?.over_holds).toBe(2);
      expect(c.calibration[0]?.samples).toBe(1);
    });

    it('a leased reservation id is read as the lease functions always read it (nb_lease_parts: no bounded repeats)', async () => {
      const s = await store();
      // The id's grammar as the lease functions first wrote it, with captures and bounded repeats.
      const GRAMMAR = /^(L_[A-Za-z0-9_-]+)\.([0-9]{1,15})\.([0-9]{1,15})\.([0-9]{0,15})\.([0-9a-f]{16})$/;
      // Each part near its length bounds, mostly of its own characters, sometimes one that does not belong.
      const part = (chars: string, lengths: number[]) =>
        fc.tuple(fc.constantFrom(...lengths), fc.array(fc.constantFrom(...chars), { minLength: 17, maxLength: 17 }), fc.oneof({ arbitrary: fc.constant(''), weight: 12 }, fc.constantFrom('.', 'x', 'A', '-')))
          .map(([n, c, bad]) => c.slice(0, n).join('') + bad);
      const digits = '0123456789';
      const id = fc
        .tuple(fc.constantFrom('L_', 'L', 'X_'), part('aZ09_-', [0, 1, 4]), part(digits, [0, 1, 15, 16]), part(digits, [0, 1, 15, 16]), part(digits, [0, 1, 15, 16]), part('0123456789abcdef', [15, 16, 17]))
        .map(([head, lease, seq, est, raw, mac]) => `${head}${lease}.${seq}.${est}.${raw}.${mac}`);
      await fc.assert(
        fc.asyncProperty(id, async (res) => {
          const got = (await s.pool.query<{ m: string[] | null }>('SELECT nb_lease_parts($1) AS m', [res])).rows[0]?.m ?? null;
          const want = GRAMMAR.exec(res);
          expect(got).toEqual(want ? want.slice(1) : null);
        }),
        { numRuns: 500 },
      );
    });
  });
}
