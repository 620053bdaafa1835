/**
 * LedgerStore.checkBatch (group commit, used by `serve`) promises "the same result as
 * calling check() in sequence". Two ledger files get the same setup; one decides a random
 * list of checks in one checkBatch, the other one by one; decisions and resulting tables
 * must match (ids aside: reservation and decision ids are random by design).
 */
import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreCheck, StoreDecision } from '../../src/lib/ledger/store.js';
import type { Period } from '../../src/lib/periods.js';
import type { Decision } from '../../src/lib/types.js';
import { ledgerTempDir } from '../helpers/reliability/temp.js';
import { dumpTables } from '../helpers/reliability/observe.js';
import { MODELS, priceOverrides } from '../helpers/reliability/prices.js';

const { dir, dispose } = ledgerTempDir('noburn-batch-');
afterAll(dispose);
let files = 0;
const replay = process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']), path: process.env['FC_PATH'] } : {};

const P = 'proj';
const T0 = Date.UTC(2026, 10, 29, 23, 59, 0); // a minute before a UTC day, week and month all end
const TTL = 30_000;
const USERS = ['u1', 'u2'] as const;
const RUNS = ['run_0', 'run_1', 'run_2'] as const;

const period = fc.constantFrom<Period>('minute', 'hour', 'day', 'week', 'month', 'total');
/** Caps and costs in whole millions of nano-dollars or not; estimates smaller, so a cap takes several. */
const amount = fc.oneof(fc.nat(40).map((k) => k * 1_000_000), fc.integer({ min: 0, max: 40_000_000 }));
const estimate = fc.oneof(fc.nat(4).map((k) => k * 1_000_000), fc.integer({ min: 0, max: 4_000_000 }));
const setup = fc.record({
  projectCap: fc.option(fc.record({ cap: amount, period }), { nil: null }),
  defaultCap: fc.option(fc.record({ cap: amount, period }), { nil: null }),
  u1Cap: fc.option(fc.record({ cap: amount, period }), { nil: null }),
  runs: fc.tuple(...RUNS.map(() => fc.record({ cap: fc.option(amount, { nil: null }), ended: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }) }))),
  /** Spend settled before the checks (at T0), and holds taken before them. */
  spend: fc.array(fc.record({ user: fc.constantFrom(null, ...USERS), run: fc.constantFrom(null, ...RUNS), cost: amount }), { maxLength: 4 }),
  holds: fc.array(fc.record({ user: fc.constantFrom(null, ...USERS), run: fc.constantFrom(null, ...RUNS), estimate }), { maxLength: 4 }),
});
const check = fc.record({
  user: fc.constantFrom(null, ...USERS),
  run: fc.constantFrom(null, null, null, ...RUNS, 'run_missing'),
  estimate,
  forceBlock: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.constant('unknown_model_price' as const), weight: 1 }),
  /** Time since the previous check: checks in one batch may carry different clocks. */
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: TTL + 1 })),
});
type Setup = typeof setup extends fc.Arbitrary<infer T> ? T : never;
type CheckSpec = typeof check extends fc.Arbitrary<infer T> ? T : never;

async function prepared(s: Setup): Promise<SqliteStore> {
  const path = join(dir, `b-${files++}.db`);
  const st = new SqliteStore(path);
  const budget = (scope: 'project' | 'user' | 'default_user', userId: string | null, b: { cap: number; period: Period } | null) =>
    b ? st.setBudget({ projectId: P, scope, userId, capNano: b.cap, period: b.period, now: T0 }) : Promise.resolve();
  await budget('project', null, s.projectCap);
  await budget('default_user', null, s.defaultCap);
  await budget('user', 'u1', s.u1Cap);
  for (const [i, r] of s.runs.entries()) {
    await st.startRun({ projectId: P, runId: RUNS[i] as string, capNano: r.cap, label: null, now: T0 });
  }
  await st.record(
    s.spend.map((x, i) => ({
      projectId: P, userId: x.user, runId: x.run, model: 'm', tokensIn: 1, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0,
      costNano: x.cost, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: `pre-${i}`, ts: T0,
    })),
  );
  for (const h of s.holds) await st.check(storeCheck({ user: h.user, run: h.run, estimate: h.estimate, forceBlock: undefined, dt: 0 }, T0));
  for (const [i, r] of s.runs.entries()) if (r.ended) await st.endRun(P, RUNS[i] as string, T0);
  return st;
}

function storeCheck(c: CheckSpec, now: number): StoreCheck {
  return { projectId: P, userId: c.user, runId: c.run, model: 'm', estimateNano: c.estimate, tokensIn: 1, tokensOut: 1, unpriced: false, forceBlock: c.forceBlock, now, holdTtlMs: TTL };
}

function timed(cs: readonly CheckSpec[]): StoreCheck[] {
  let now = T0;
  return cs.map((c) => storeCheck(c, (now += c.dt)));
}

const shape = (d: StoreDecision) => ({ blocked: d.blocked, reason: d.blockReason, remaining: d.remainingNano, holds: d.reservationId !== null });

/** The tables with the random ids taken out (a hold's id, a blocked check's decision id). */
function comparable(st: SqliteStore): Record<string, unknown[]> {
  const t = dumpTables(st.db);
  const holds = st.db.prepare('SELECT project_id, user_id, run_id, model, amount_nano, created_at, expires_at FROM holds').raw().all();
  const events = st.db.prepare("SELECT seq, ts, kind, user_id, run_id, amount_nano, blocked, reason, CASE WHEN kind = 'check' THEN NULL ELSE ref END FROM events ORDER BY seq").raw().all();
  return { ...t, holds: holds.map((r) => JSON.stringify(r)).sort(), events };
}

async function closeAll(...ss: SqliteStore[]): Promise<void> {
  for (const s of ss) {
    await s.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(s.path + suffix, { force: true });
  }
}

describe('checkBatch equals sequential check', () => {
  it('store: one checkBatch transaction decides a list exactly as check() one by one', async () => {
    let blocked = 0;
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(setup, fc.array(check, { maxLength: 40, size: 'max' }), async (s, cs) => {
        const [a, b] = [await prepared(s), await prepared(s)];
        try {
          const list = timed(cs);
          const batched = await a.checkBatch(list);
          const one: StoreDecision[] = [];
          for (const c of list) one.push(await b.check(c));
          expect(batched.map(shape)).toEqual(one.map(shape));
          expect(comparable(a)).toEqual(comparable(b));
          for (const d of one) {
            if (d.blocked) blocked++;
            else allowed++;
          }
        } finally {
          await closeAll(a, b);
        }
      }),
      { numRuns: 100, ...replay },
    );
    // Both outcomes must be common, or the comparison proves little.
    expect(blocked).toBeGreaterThan(200);
    expect(allowed).toBeGreaterThan(200);
  });

  it('ledger with group commit: concurrent checks decide as the same checks awaited one by one', async () => {
    const prices = priceOverrides();
    const models = MODELS.slice(0, -1);
    let largestBatch = 0;
    await fc.assert(
      fc.asyncProperty(
        setup,
        fc.array(fc.record({ user: fc.constantFrom(undefined, ...USERS), run: fc.constantFrom(null, ...RUNS, 'run_missing'), model: fc.constantFrom(...models), tin: fc.nat(5_000), tout: fc.nat(1_000) }), { maxLength: 300, size: 'max' }),
        async (s, cs) => {
          const [a, b] = [await prepared(s), await prepared(s)];
          const settings = { prices, fallbackPrice: null, unknownModel: 'block' as const, holdTtlMs: TTL };
          // Watch the batches the group commit hands to the store, to prove it did group.
          const checkBatch = a.checkBatch.bind(a);
          a.checkBatch = (list) => {
            largestBatch = Math.max(largestBatch, list.length);
            return checkBatch(list);
          };
          const grouped = new Ledger(a, settings, { now: () => T0, groupCommit: true });
          const single = new Ledger(b, settings, { now: () => T0 });
          try {
            const reqs = cs.map((c) => ({ model: c.model, tokensIn: c.tin, tokensOut: c.tout, userId: c.user ?? null, runId: c.run }));
            const together = await Promise.all(reqs.map((r) => grouped.check(P, r)));
            const apart: Decision[] = [];
            for (const r of reqs) apart.push(await single.check(P, r));
            const view = (d: Decision) => ({ blocked: d.blocked, reason: d.blockReason, remaining: d.remaining, estimate: d.estimatedCostUsd, holds: d.reservationId !== null });
            expect(together.map(view)).toEqual(apart.map(view));
            expect(comparable(a)).toEqual(comparable(b));
          } finally {
            await closeAll(a, b);
          }
        },
      ),
      { numRuns: 40, ...replay },
    );
    expect(largestBatch).toBeGreaterThan(100);
  });
});
