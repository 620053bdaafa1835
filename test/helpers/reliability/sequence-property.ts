/**
 * contract §3 as a property: random sequences of caps, checks, records (with and without
 * reservations, repeated idempotency keys, wasBlocked), run starts/ends and clock jumps
 * (past hold TTLs, across UTC day/week/month boundaries) against a real ledger (a SQLite
 * file, or a PostgreSQL schema when NOBURN_TEST_PG is set),
 * checked after every step against a reference model in integer nano-dollars.
 * test/property runs it briefly; test/torture runs it longer.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { nanoToUsd } from '../../../src/lib/money.js';
import type { SpendGroupBy } from '../../../src/lib/types.js';
import type { LedgerUnderTest } from './backend.js';
import { Harness } from './harness.js';
import { capsInUse, overshoots } from './invariants.js';
import {
  dbLiveHolds,
  dbRecords,
  dbRuns,
  dbUsage,
  feedShape,
  modelBudgets,
  modelFeed,
  modelLiveHolds,
  modelRecords,
  modelRuns,
  modelSpend,
  modelUsage,
  modelUsers,
  reportShape,
  sorted,
} from './observe.js';
import { PROJECTS, startClock, step } from './steps.js';

/** Everything settled or held, compared with the model (both projects). */
async function assertState(h: Harness): Promise<void> {
  const db = h.db;
  expect(await dbLiveHolds(db, h.clock.now)).toEqual(modelLiveHolds(h.model));
  expect(await dbRuns(db)).toEqual(modelRuns(h.model));
  for (const p of PROJECTS) {
    expect(await dbRecords(db, p)).toEqual(modelRecords(h.model, p));
    expect(await dbUsage(db, p)).toEqual(modelUsage(h.model.project(p).contributions));
    expect(reportShape(await h.ledger.spend(p, {}))).toEqual(modelSpend(h.model, p, null));
    expect(sorted(await h.ledger.getBudgets(p))).toEqual(modelBudgets(h.model, p));
  }
}

/** The reads a user sees at the end: the event feed, the users, spend grouped every way, every run. */
async function assertReports(h: Harness): Promise<void> {
  for (const p of PROJECTS) {
    expect(feedShape(await h.ledger.events(p, 0, 100_000))).toEqual(modelFeed(h.model, p));
    expect((await h.ledger.listUsers(p)).sort((a, b) => (a.userId < b.userId ? -1 : 1))).toEqual(modelUsers(h.model, p));
    for (const by of ['user', 'run', 'model', 'day', 'tag:feature', 'tag:team'] as SpendGroupBy[]) {
      expect(reportShape(await h.ledger.spend(p, { by }))).toEqual(modelSpend(h.model, p, by));
    }
  }
  for (const r of h.model.runs.values()) {
    const got = await h.ledger.getRun(r.project, r.id);
    const held = h.model.held((x) => x.run === r.id);
    expect(got).toMatchObject({ status: r.open ? 'open' : 'ended', exhausted: r.exhausted, spendUsd: nanoToUsd(r.spent), calls: r.calls, blockedCalls: r.blocked, unpricedCalls: r.unpriced });
    if (r.open) expect(got.heldUsd).toBe(nanoToUsd(held));
  }
}

/**
 * Runs the property; on failure fast-check prints the seed and path, and
 * FC_SEED=<seed> FC_PATH=<path> replays it.
 */
export async function checkLedgerSequences(open: () => Promise<LedgerUnderTest>, opts: { numRuns: number; maxSteps: number }): Promise<void> {
  const replay = process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']), path: process.env['FC_PATH'] } : {};
  let steps = 0;
  const seen = { approvals: 0, duplicates: 0, expiredHoldsAtCheck: 0, dayRollovers: 0, reasons: {} as Record<string, number> };
  const unknownModel = fc.constantFrom('block' as const, 'allow' as const, 'fallback' as const);
  await fc.assert(
    fc.asyncProperty(startClock, unknownModel, fc.array(step, { minLength: 1, maxLength: opts.maxSteps, size: 'max' }), async (start, unknown, seq) => {
      const h = new Harness(await open(), start, unknown);
      try {
        for (const s of seq) {
          const checked = await h.apply(s);
          steps++;
          if (checked && !checked.decision.blocked) {
            // Right after an approval, no cap that applied carries more than it allows.
            const uses = await capsInUse(h.db, checked.project, checked.check.user, checked.check.run, h.clock.now, checked.check.model, checked.check.tags);
            expect(overshoots(uses)).toEqual([]);
          }
          await assertState(h);
        }
        await assertReports(h);
        seen.approvals += h.stats.approvals;
        seen.duplicates += h.stats.duplicates;
        seen.expiredHoldsAtCheck += h.stats.expiredHoldsAtCheck;
        seen.dayRollovers += h.stats.dayRollovers;
        for (const [k, v] of Object.entries(h.stats.reasons)) seen.reasons[k] = (seen.reasons[k] ?? 0) + v;
      } finally {
        await h.dispose();
      }
    }),
    { numRuns: opts.numRuns, ...replay },
  );
  if (replay.seed !== undefined) return;
  // The generators must reach every case (approvals, each block reason, duplicates, expired
  // holds, rollovers), or the property proves little. Margins are ~3x below typical counts.
  const n = opts.numRuns;
  expect(steps).toBeGreaterThan(10 * n);
  expect(seen.approvals).toBeGreaterThan(1.5 * n);
  expect(seen.duplicates).toBeGreaterThan(n);
  expect(seen.expiredHoldsAtCheck).toBeGreaterThan(n);
  expect(seen.dayRollovers).toBeGreaterThan(n / 2);
  for (const r of ['project_budget_exceeded', 'user_budget_exceeded', 'run_budget_exceeded', 'run_not_found', 'run_ended', 'unknown_model_price']) {
    expect(seen.reasons[r] ?? 0, r).toBeGreaterThan(n / 20);
  }
  // A model cap blocks only when a sequence sets one on the model it then checks: rarer
  // (4 to ~10 per 100 runs), so only its being reached is required.
  expect(seen.reasons['model_budget_exceeded'] ?? 0, 'model_budget_exceeded').toBeGreaterThan(0);
  // Likewise a tag cap: a sequence must set one on a tag it then checks with.
  expect(seen.reasons['tag_budget_exceeded'] ?? 0, 'tag_budget_exceeded').toBeGreaterThan(0);
}
