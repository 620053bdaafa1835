/**
 * Group commit on PostgreSQL: PostgresStore.commit (checks and records of a window in one
 * round trip and one transaction) promises "the same result as check() / record() in
 * sequence". Two schemas get the same setup; one applies a random list of checks and
 * record batches in one commit(), the other one by one; results and resulting rows must
 * match (ids aside: reservation and decision ids are random by design).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import type { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { StoreCheck, StoreOp, StoreOpResult, StoreRecord } from '../../src/lib/ledger/store.js';
import type { Period } from '../../src/lib/periods.js';
import type { Decision, RecordResult } from '../../src/lib/types.js';
import { PG_URL, SKIP_TITLE, dropDisposedSchemas, freshStore } from './pg-env.js';

const replay = process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']), path: process.env['FC_PATH'] } : {};
const T0 = Date.UTC(2026, 10, 29, 23, 59, 0); // a minute before a UTC day, week and month all end
const TTL = 30_000;
const USERS = ['u1', 'u2'] as const;
const RUN_NAMES = ['run_0', 'run_1', 'run_2'] as const;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'pre-0'] as const;

const period = fc.constantFrom<Period>('day', 'week', 'month', 'total');
const amount = fc.oneof(fc.nat(40).map((k) => k * 1_000_000), fc.integer({ min: 0, max: 40_000_000 }));
const estimate = fc.oneof(fc.nat(4).map((k) => k * 1_000_000), fc.integer({ min: 0, max: 4_000_000 }));
const user = fc.constantFrom(null, ...USERS);
const run = fc.constantFrom<string | null>(null, ...RUN_NAMES);
const setup = fc.record({
  projectCap: fc.option(fc.record({ cap: amount, period }), { nil: null }),
  defaultCap: fc.option(fc.record({ cap: amount, period }), { nil: null }),
  u1Cap: fc.option(fc.record({ cap: amount, period }), { nil: null }),
  runs: fc.tuple(...RUN_NAMES.map(() => fc.record({ cap: fc.option(amount, { nil: null }), ended: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }) }))),
  spend: fc.array(fc.record({ user, run, cost: amount }), { maxLength: 3 }),
  /** Holds taken before the list; a record may name one of them. */
  holds: fc.array(fc.record({ user, run, estimate }), { maxLength: 4 }),
});
const checkSpec = fc.record({
  kind: fc.constant('check' as const),
  user,
  run: fc.constantFrom<string | null>(null, null, ...RUN_NAMES, 'run_missing'),
  estimate,
  forceBlock: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.constant('unknown_model_price' as const), weight: 1 }),
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: TTL + 1 })),
});
const recordSpec = fc.record({
  user,
  run,
  cost: estimate,
  wasBlocked: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
  /** Names a setup hold (by index, maybe out of range: an unknown id), or none: the oldest open hold of the same shape is settled. */
  hold: fc.option(fc.nat(5), { nil: null }),
  /** Few keys: duplicates within a request, across requests and of the setup's records. */
  key: fc.constantFrom(...KEYS),
});
const recordOp = fc.record({ kind: fc.constant('record' as const), records: fc.array(recordSpec, { minLength: 1, maxLength: 4 }), dt: fc.constant(0) });
const opSpec = fc.oneof({ arbitrary: checkSpec, weight: 3 }, { arbitrary: recordOp, weight: 1 });
type Setup = typeof setup extends fc.Arbitrary<infer T> ? T : never;
type OpSpec = typeof opSpec extends fc.Arbitrary<infer T> ? T : never;

let projects = 0;

/** One project's world in a store: the setup applied, and the ids of its setup holds. */
interface World {
  project: string;
  runId(name: string | null): string | null;
  holdIds: string[];
}

async function prepared(st: PostgresStore, project: string, s: Setup): Promise<World> {
  const runId = (name: string | null) => (name === null ? null : `${project}_${name}`);
  const budget = (scope: 'project' | 'user' | 'default_user', userId: string | null, b: { cap: number; period: Period } | null) =>
    b ? st.setBudget({ projectId: project, scope, userId, capNano: b.cap, period: b.period, now: T0 }) : Promise.resolve();
  await budget('project', null, s.projectCap);
  await budget('default_user', null, s.defaultCap);
  await budget('user', 'u1', s.u1Cap);
  for (const [i, r] of s.runs.entries()) await st.startRun({ projectId: project, runId: runId(RUN_NAMES[i] as string) as string, capNano: r.cap, label: null, now: T0 });
  await st.record(s.spend.map((x, i) => storeRecord(project, { ...x, wasBlocked: false, key: `pre-${i}` }, runId(x.run), null, T0)));
  const holdIds: string[] = [];
  for (const h of s.holds) {
    const d = await st.check(storeCheck(project, { user: h.user, estimate: h.estimate, forceBlock: undefined }, runId(h.run), T0));
    holdIds.push(d.reservationId ?? 'res_none');
  }
  for (const [i, r] of s.runs.entries()) if (r.ended) await st.endRun(project, runId(RUN_NAMES[i] as string) as string, T0);
  return { project, runId, holdIds };
}

function storeCheck(project: string, c: { user: string | null; estimate: number; forceBlock: 'unknown_model_price' | undefined }, runId: string | null, now: number): StoreCheck {
  return { projectId: project, userId: c.user, runId, model: 'm', estimateNano: c.estimate, tokensIn: 1, tokensOut: 1, unpriced: false, forceBlock: c.forceBlock, now, holdTtlMs: TTL };
}

function storeRecord(project: string, r: { user: string | null; cost: number; wasBlocked: boolean; key: string }, runId: string | null, reservationId: string | null, ts: number): StoreRecord {
  return {
    projectId: project, userId: r.user, runId, model: 'm', tokensIn: 1, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0,
    costNano: r.cost, unpriced: false, wasBlocked: r.wasBlocked, reservationId, idempotencyKey: r.key, ts,
  };
}

/** The specs as store ops of one world, each with its own clock. */
function ops(w: World, specs: readonly OpSpec[]): StoreOp[] {
  let now = T0;
  return specs.map((o): StoreOp => {
    now += o.dt;
    if (o.kind === 'check') return { kind: 'check', check: storeCheck(w.project, o, w.runId(o.run), now) };
    const hold = (i: number | null) => (i === null ? null : (w.holdIds[i] ?? `res_unknown_${i}`));
    return { kind: 'record', records: o.records.map((r) => storeRecord(w.project, r, w.runId(r.run), hold(r.hold), now)) };
  });
}

const shape = (r: StoreOpResult) =>
  r.kind === 'record'
    ? r.result
    : { blocked: r.decision.blocked, reason: r.decision.blockReason, remaining: r.decision.remainingNano, holds: r.decision.reservationId !== null, limit: r.decision.limit ?? null };

/** A project's rows with the random ids taken out, and its own name replaced (so two projects compare). */
async function comparable(st: PostgresStore, project: string): Promise<string> {
  const q = async (sql: string) => (await st.pool.query(sql, [project])).rows;
  const rows = {
    budgets: await q('SELECT scope, subject, cap_nano, period FROM budgets WHERE project_id = $1 ORDER BY scope, subject'),
    runs: await q('SELECT id, cap_nano, status, exhausted, spent_nano, calls, blocked_calls, unpriced_calls, last_at, clamped_calls, over_holds FROM runs WHERE project_id = $1 ORDER BY id'),
    usage: await q('SELECT scope, subject, win, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out, last_at FROM usage WHERE project_id = $1 ORDER BY scope, subject, win'),
    records: await q('SELECT idem_key, ts, user_id, run_id, cost_nano, was_blocked, reservation_id IS NULL AS unnamed FROM records WHERE project_id = $1 ORDER BY seq'),
    holds: await q('SELECT user_id, run_id, amount_nano, created_at, expires_at FROM holds WHERE project_id = $1 ORDER BY seq'),
    events: await q(`SELECT ts, kind, user_id, run_id, amount_nano, blocked, reason, CASE WHEN kind = 'check' THEN NULL ELSE ref END AS ref FROM events WHERE project_id = $1 ORDER BY seq`),
  };
  return JSON.stringify(rows).split(project).join('P');
}

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('postgres group commit', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('postgres group commit equals one by one', () => {
    // Two schemas for the whole file; every property run works in its own project.
    let a: PostgresStore;
    let b: PostgresStore;
    const disposers: (() => Promise<void>)[] = [];
    beforeAll(async () => {
      for (const set of [(s: PostgresStore) => (a = s), (s: PostgresStore) => (b = s)]) {
        const h = await freshStore({ connectTimeoutMs: 60_000 });
        set(h.store);
        disposers.push(h.dispose);
      }
    });
    afterAll(async () => {
      for (const d of disposers) await d();
      await dropDisposedSchemas();
    });

    it('store: one commit() of checks and record batches gives the results and rows of check() / record() in sequence', async () => {
      const seen = { blocked: 0, allowed: 0, accepted: 0, duplicates: 0 };
      await fc.assert(
        fc.asyncProperty(setup, fc.array(opSpec, { minLength: 1, maxLength: 30, size: 'max' }), async (s, specs) => {
          const n = projects++;
          const [wa, wb] = [await prepared(a, `pa${n}`, s), await prepared(b, `pb${n}`, s)];
          const together = await a.commit(ops(wa, specs));
          const apart: StoreOpResult[] = [];
          for (const op of ops(wb, specs)) {
            apart.push(op.kind === 'check' ? { kind: 'check', decision: await b.check(op.check) } : { kind: 'record', result: await b.record(op.records) });
          }
          expect(together.map(shape)).toEqual(apart.map(shape));
          expect(await comparable(a, wa.project)).toEqual(await comparable(b, wb.project));
          for (const r of apart) {
            if (r.kind === 'check') seen[r.decision.blocked ? 'blocked' : 'allowed']++;
            else {
              seen.accepted += r.result.accepted;
              seen.duplicates += r.result.duplicates;
            }
          }
        }),
        { numRuns: 40, ...replay },
      );
      // Every outcome must occur, or the comparison proves little. The floors sit far below
      // the usual counts (random sequences: allowed ran 48-100 over 40 runs), so they never flake.
      expect(seen.blocked).toBeGreaterThan(20);
      expect(seen.allowed).toBeGreaterThan(10);
      expect(seen.accepted).toBeGreaterThan(5);
      expect(seen.duplicates).toBeGreaterThan(5);
    });

    it('a batch that fails in the database commits none of its ops (one transaction)', async () => {
      const n = projects++;
      const project = `fail${n}`;
      await a.setBudget({ projectId: project, scope: 'project', userId: null, capNano: 10_000_000, period: 'month', now: T0 });
      const ok = storeCheck(project, { user: null, estimate: 1_000_000, forceBlock: undefined }, null, T0);
      // Not a number where the function casts to bigint: the statement fails inside nb_apply, after the first two ops ran.
      const bad = { ...ok, estimateNano: 'not a number' as unknown as number };
      await expect(
        a.commit([
          { kind: 'check', check: ok },
          { kind: 'record', records: [storeRecord(project, { user: null, cost: 5, wasBlocked: false, key: 'k-fail' }, null, null, T0)] },
          { kind: 'check', check: bad },
        ]),
      ).rejects.toThrow();
      const count = async (table: string) => Number((await a.pool.query(`SELECT count(*) AS n FROM ${table} WHERE project_id = $1`, [project])).rows[0].n);
      expect({ holds: await count('holds'), records: await count('records'), usage: await count('usage') }).toEqual({ holds: 0, records: 0, usage: 0 });
    });

    it('ledger with group commit: concurrent checks and records of a project go in one commit(), each caller gets its own result, same as the ops one by one', async () => {
      const settings = { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } }, fallbackPrice: null, unknownModel: 'block' as const, holdTtlMs: TTL };
      // Watch what the group commit hands to the store: the ops in the order the store got them, and their results.
      let mixed = 0;
      let seen: { op: StoreOp; result: StoreOpResult }[] = [];
      const commit = a.commit.bind(a);
      a.commit = async (list) => {
        if (list.some((o) => o.kind === 'check') && list.some((o) => o.kind === 'record')) mixed++;
        const out = await commit(list);
        list.forEach((op, i) => seen.push({ op, result: out[i] as StoreOpResult }));
        return out;
      };
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.record({ cap: amount, period }),
            fc.array(
              fc.oneof(
                { arbitrary: fc.record({ kind: fc.constant('check' as const), user, tin: fc.nat(3_000), tout: fc.nat(1_000) }), weight: 3 },
                { arbitrary: fc.record({ kind: fc.constant('record' as const), user, tin: fc.nat(3_000), key: fc.constantFrom(...KEYS) }), weight: 1 },
              ),
              { minLength: 1, maxLength: 60, size: 'max' },
            ),
            async (cap, specs) => {
              const n = projects++;
              const [pa, pb] = [`la${n}`, `lb${n}`];
              seen = [];
              const grouped = new Ledger(a, settings, { now: () => T0, groupCommit: true });
              await grouped.setBudget(pa, { scope: 'project', capUsd: cap.cap / 1e9, period: cap.period });
              await b.setBudget({ projectId: pb, scope: 'project', userId: null, capNano: cap.cap, period: cap.period, now: T0 });
              const together = await Promise.all(
                specs.map((o) =>
                  o.kind === 'check'
                    ? grouped.check(pa, { model: 'test-model', tokensIn: o.tin, tokensOut: o.tout, userId: o.user, runId: null })
                    : grouped.record(pa, [{ model: 'test-model', tokensIn: o.tin, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costUsd: null, wasBlocked: false, userId: o.user, runId: null, reservationId: null, idempotencyKey: o.key }]),
                ),
              );
              // The reference: the same ops, in the order the store got them, one call each.
              for (const { op, result } of seen) {
                const alone: StoreOpResult =
                  op.kind === 'check'
                    ? { kind: 'check', decision: await b.check({ ...op.check, projectId: pb }) }
                    : { kind: 'record', result: await b.record(op.records.map((r) => ({ ...r, projectId: pb }))) };
                expect(shape(result)).toEqual(shape(alone));
              }
              expect(await comparable(a, pa)).toEqual(await comparable(b, pb));
              // Each caller got the result of its own op: the holds handed out are the ones taken, once each.
              const decisions = together.filter((x): x is Decision => 'blocked' in x);
              const taken = seen.flatMap(({ result }) => (result.kind === 'check' && result.decision.reservationId !== null ? [result.decision.reservationId] : []));
              expect(decisions.flatMap((d) => (d.reservationId === null ? [] : [d.reservationId])).sort()).toEqual(taken.sort());
              const recorded = together.filter((x): x is RecordResult => !('blocked' in x));
              const sum = (rs: RecordResult[]) => rs.reduce((t, r) => ({ accepted: t.accepted + r.accepted, duplicates: t.duplicates + r.duplicates }), { accepted: 0, duplicates: 0 });
              expect(sum(recorded)).toEqual(sum(seen.flatMap(({ result }) => (result.kind === 'record' ? [result.result] : []))));
              expect(seen.length).toBe(specs.length);
            },
          ),
          { numRuns: 15, ...replay },
        );
      } finally {
        a.commit = commit;
      }
      expect(mixed).toBeGreaterThan(0);
    });
  });
}
