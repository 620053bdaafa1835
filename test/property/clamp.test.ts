/**
 * The bounded-hold guarantee (docs/semantics.md, "Bounded holds"), as a property: for
 * random caps, prices, local input estimates and provider input inflation within the
 * margin (the provider counts up to 20 % more input than the local tokenizer; openai's
 * margin is 1.2), with clamped checks whose real output stays within what was held (the
 * proxy cuts a stream at its hold):
 *  - spend never exceeds any cap (project, user, run), holds included;
 *  - a hold never exceeds the room the caps had left;
 *  - no call is refused while its clamped floor (min(minTokensOut, requested)) fits.
 * The room is computed by a reference model of the caps, independent of the ledger.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { holdNano } from '../../src/lib/ledger/clamp.js';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { nanoToUsd } from '../../src/lib/money.js';
import { ledgerTempDir } from '../helpers/reliability/temp.js';

const { dir, dispose } = ledgerTempDir('noburn-clamp-prop-');
afterAll(dispose);
let files = 0;
const replay = process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']), path: process.env['FC_PATH'] } : {};

const P = 'proj';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const USERS = ['a', 'b'] as const;

const capNano = fc.option(fc.integer({ min: 0, max: 60_000_000 }), { nil: null });
const setup = fc.record({
  projectCap: capNano,
  userCap: capNano,
  defaultUserCap: capNano,
  runCap: capNano,
  /** USD per MTok in nano-dollars: any integer, so a token costs a fraction of a nano-dollar or many. */
  inPrice: fc.integer({ min: 1, max: 15_000_000_000 }),
  outPrice: fc.integer({ min: 0, max: 60_000_000_000 }),
  minTokensOut: fc.integer({ min: 1, max: 600 }),
});
const step = fc.record({
  user: fc.constantFrom(null, ...USERS),
  inRun: fc.boolean(),
  localIn: fc.integer({ min: 0, max: 12_000 }),
  requestedOut: fc.integer({ min: 0, max: 16_000 }),
  /** The provider's input count over the local one, per mille (1000 = same, 1200 = +20 %). */
  inflation: fc.integer({ min: 1000, max: 1200 }),
  /** The share of the held output the answer really used, per mille. */
  outUse: fc.integer({ min: 0, max: 1000 }),
  /** Settle now, or leave in flight (settled later, oldest first). */
  settleNow: fc.boolean(),
});
type Setup = typeof setup extends fc.Arbitrary<infer T> ? T : never;
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

interface Open {
  id: string;
  user: string | null;
  run: boolean;
  hold: number;
  realIn: number;
  realOut: number;
}

async function scenario(s: Setup, steps: readonly Step[]): Promise<void> {
  const store = new SqliteStore(join(dir, `c-${files++}.db`));
  const ledger = new Ledger(store, { prices: { m: { inputPerMTok: nanoToUsd(s.inPrice), outputPerMTok: nanoToUsd(s.outPrice) } }, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 3_600_000, minTokensOut: s.minTokensOut }, { now: () => T0 });
  const prices = { inNanoPerMTok: s.inPrice, outNanoPerMTok: s.outPrice };
  try {
    const set = (scope: 'project' | 'user' | 'default_user', userId: string | undefined, cap: number | null) =>
      cap === null ? Promise.resolve() : ledger.setBudget(P, { scope, userId, capUsd: nanoToUsd(cap), period: 'total' });
    await set('project', undefined, s.projectCap);
    await set('user', 'a', s.userCap);
    await set('default_user', undefined, s.defaultUserCap);
    const run = await ledger.startRun(P, { budgetCapUsd: s.runCap === null ? null : nanoToUsd(s.runCap) });

    // The reference model: spent and open holds per scope.
    const spent = { project: 0, user: new Map<string, number>(), run: 0 };
    const open: Open[] = [];
    const userCap = (u: string) => (u === 'a' ? (s.userCap ?? s.defaultUserCap) : s.defaultUserCap);
    const rooms = (user: string | null, inRun: boolean): number[] => {
      const held = (f: (o: Open) => boolean) => open.filter(f).reduce((n, o) => n + o.hold, 0);
      const out: number[] = [];
      if (s.projectCap !== null) out.push(s.projectCap - spent.project - held(() => true));
      if (user !== null) {
        const c = userCap(user);
        if (c !== null) out.push(c - (spent.user.get(user) ?? 0) - held((o) => o.user === user));
      }
      if (inRun && s.runCap !== null) out.push(s.runCap - spent.run - held((o) => o.run));
      return out;
    };
    const settle = async (o: Open) => {
      open.splice(open.indexOf(o), 1);
      await ledger.record(P, [{ model: 'm', tokensIn: o.realIn, tokensOut: o.realOut, cachedTokensIn: 0, cacheWriteTokensIn: 0, costUsd: null, wasBlocked: false, userId: o.user, runId: o.run ? run.runId : null, reservationId: o.id, idempotencyKey: o.id }]);
      const cost = holdNano(prices, o.realIn, o.realOut);
      spent.project += cost;
      if (o.user !== null) spent.user.set(o.user, (spent.user.get(o.user) ?? 0) + cost);
      if (o.run) spent.run += cost;
    };
    const assertCaps = async () => {
      for (const b of await ledger.getBudgets(P)) {
        if (b.scope !== 'default_user') expect(Math.round((b.spentUsd + b.heldUsd) * 1e9)).toBeLessThanOrEqual(Math.round(b.capUsd * 1e9));
      }
      for (const u of USERS) {
        const c = userCap(u);
        if (c !== null) expect(spent.user.get(u) ?? 0).toBeLessThanOrEqual(c);
      }
      const r = await ledger.getRun(P, run.runId);
      if (s.runCap !== null) expect(Math.round((r.spendUsd + r.heldUsd) * 1e9)).toBeLessThanOrEqual(s.runCap);
      if (s.projectCap !== null) expect(spent.project).toBeLessThanOrEqual(s.projectCap);
    };

    for (const st of steps) {
      const room = rooms(st.user, st.inRun);
      const minRoom = room.length ? Math.min(...room) : Infinity;
      const d = await ledger.check(P, {
        model: 'm', tokensIn: st.localIn, tokensOut: st.requestedOut, userId: st.user, runId: st.inRun ? run.runId : null,
        clamp: true, provider: 'openai', tokensInSource: 'tokenizer',
      });
      // The hold covers the provider's count: 20 % more than the local one at most.
      const realIn = Math.floor((st.localIn * st.inflation) / 1000);
      expect(d.tokensIn).toBeGreaterThanOrEqual(realIn);
      const floor = Math.min(s.minTokensOut, st.requestedOut);
      if (d.blocked) {
        // Refused only when even the floor does not fit the tightest cap.
        expect(holdNano(prices, d.tokensIn, floor)).toBeGreaterThan(minRoom);
        continue;
      }
      const hold = Math.round(d.estimatedCostUsd * 1e9);
      expect(hold).toBe(holdNano(prices, d.tokensIn, d.tokensOut));
      expect(hold).toBeLessThanOrEqual(minRoom);
      expect(d.tokensOut).toBeLessThanOrEqual(st.requestedOut);
      expect(d.tokensOut).toBeGreaterThanOrEqual(floor);
      if (!d.clamped) expect(d.tokensOut).toBe(st.requestedOut);
      const o: Open = { id: d.reservationId as string, user: st.user, run: st.inRun, hold, realIn, realOut: Math.floor((d.tokensOut * st.outUse) / 1000) };
      open.push(o);
      if (st.settleNow) await settle(o);
      else if (open.length > 3) await settle(open[0] as Open);
      await assertCaps();
    }
    for (const o of [...open]) await settle(o);
    await assertCaps();
    expect((await ledger.getRun(P, run.runId)).overHolds).toBe(0);
  } finally {
    await store.close();
  }
}

describe('clamped holds (property)', () => {
  it('spend never exceeds a cap, holds never exceed the room, and no call is refused while its floor fits', async () => {
    await fc.assert(
      fc.asyncProperty(setup, fc.array(step, { minLength: 1, maxLength: 25 }), (s, steps) => scenario(s, steps)),
      { numRuns: 120, ...replay },
    );
  }, 120_000);
});
