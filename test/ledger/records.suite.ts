/** contract §3 record: settlement, idempotency, blocked and unpriced records, exact money. */
import { describe, expect, it } from 'vitest';
import { usdToNano } from '../../src/lib/money.js';
import type { StoreCheck, StoreDecision, StoreRecord } from '../../src/lib/ledger/store.js';
import { P, T0, TTL, UNKNOWN_MODEL, cap, check, projectBudget, rec, record, rng, useEnv } from './harness.js';
import type { StoreFactory, SuiteOptions } from './harness.js';

export function defineRecordTests(factory: StoreFactory, opts: SuiteOptions): void {
  const env = useEnv(factory);

  describe('records', () => {
    it('the same idempotency key twice counts once (separately and within one batch)', async () => {
      const { ledger } = await env();
      await cap(ledger, 1);
      const run = await ledger.startRun(P, {});
      const r = rec({ usd: 0.003, userId: 'u', runId: run.runId });
      expect(await record(ledger, r)).toEqual({ accepted: 1, duplicates: 0 });
      expect(await record(ledger, r)).toEqual({ accepted: 0, duplicates: 1 });
      const s = rec({ usd: 0.004 });
      // Within one batch the first record of a key is the one that counts.
      expect(await record(ledger, s, { ...s, costUsd: 0.9 }, rec({ usd: 0.001 }))).toEqual({ accepted: 2, duplicates: 1 });
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.008);
      expect((await projectBudget(ledger)).spentUsd).toBe(0.008);
      expect((await ledger.getRun(P, run.runId)).spendUsd).toBe(0.003);
      expect((await ledger.listUsers(P))[0]).toMatchObject({ userId: 'u', spentUsd: 0.003, calls: 1 });
    });

    it('a duplicate does not release a second hold', async () => {
      const { ledger } = await env();
      await cap(ledger, 1);
      await check(ledger, 2);
      await check(ledger, 3);
      const r = rec({ usd: 0 });
      await record(ledger, r);
      await record(ledger, r);
      expect((await projectBudget(ledger)).heldUsd).toBe(0.003);
    });

    it('the idempotency key is per project', async () => {
      const { ledger } = await env();
      expect(await ledger.record(P, [rec({ usd: 0.001, idempotencyKey: 'same' })])).toEqual({ accepted: 1, duplicates: 0 });
      expect(await ledger.record('proj_b', [rec({ usd: 0.001, idempotencyKey: 'same' })])).toEqual({ accepted: 1, duplicates: 0 });
    });

    it('wasBlocked: releases the hold, costs nothing, counts as a blocked call', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01);
      const run = await ledger.startRun(P, {});
      const d = await check(ledger, 8, { user: 'u', run: run.runId });
      await record(ledger, rec({ usd: 0.5, tokensIn: 8000, wasBlocked: true, reservationId: d.reservationId, userId: 'u', runId: run.runId }));
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0, heldUsd: 0 });
      expect(await ledger.spend(P, {})).toMatchObject({ totalUsd: 0, calls: 0, blockedCalls: 1 });
      expect(await ledger.getRun(P, run.runId)).toMatchObject({ spendUsd: 0, calls: 0, blockedCalls: 1 });
      expect((await ledger.listUsers(P))[0]).toMatchObject({ userId: 'u', calls: 0, blockedCalls: 1 });
      expect((await check(ledger, 10)).blocked).toBe(false);
      const ev = (await ledger.events(P, 0)).filter((e) => e.kind === 'record');
      expect(ev).toMatchObject([{ blocked: true, amountUsd: 0, tokensIn: 0, tokensOut: 0 }]);
    });

    it('an unpriced record is stored with its tokens, flagged, and counted as unpriced', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, {});
      await record(ledger, rec({ model: UNKNOWN_MODEL, tokensIn: 1234, tokensOut: 56, userId: 'u', runId: run.runId }));
      const s = await ledger.spend(P, { by: 'model' });
      expect(s).toMatchObject({ totalUsd: 0, calls: 1, unpricedCalls: 1 });
      expect(s.rows).toEqual([{ key: UNKNOWN_MODEL, spendUsd: 0, calls: 1, blockedCalls: 0, unpricedCalls: 1, tokensIn: 1234, tokensOut: 56 }]);
      expect((await ledger.getRun(P, run.runId)).unpricedCalls).toBe(1);
      expect((await ledger.listUsers(P))[0]?.unpricedCalls).toBe(1);
      const ev = (await ledger.events(P, 0)).filter((e) => e.kind === 'record');
      expect(ev).toMatchObject([{ unpriced: true, tokensIn: 1234, tokensOut: 56, amountUsd: 0 }]);
      // With costUsd the model's price does not matter: not unpriced.
      await record(ledger, rec({ model: UNKNOWN_MODEL, usd: 0.002 }));
      expect(await ledger.spend(P, {})).toMatchObject({ totalUsd: 0.002, calls: 2, unpricedCalls: 1 });
    });

    it('blocked checks count as blocked calls for the project, the user and the run', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, { budgetCapUsd: 0.001 });
      await check(ledger, 2, { user: 'u', run: run.runId });
      await check(ledger, 2, { user: 'u', run: run.runId });
      expect(await ledger.spend(P, {})).toMatchObject({ calls: 0, blockedCalls: 2 });
      expect((await ledger.spend(P, { by: 'user' })).rows).toEqual([{ key: 'u', spendUsd: 0, calls: 0, blockedCalls: 2, unpricedCalls: 0, tokensIn: 0, tokensOut: 0 }]);
      expect((await ledger.getRun(P, run.runId)).blockedCalls).toBe(2);
      expect((await ledger.listUsers(P))[0]).toMatchObject({ userId: 'u', blockedCalls: 2, calls: 0 });
    });

    it('a blocked decision names its event in the feed', async () => {
      const { ledger } = await env();
      const d = await check(ledger, 1, { run: 'run_missing' });
      const ev = await ledger.events(P, 0);
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ kind: 'check', blocked: true, reason: 'run_not_found', amountUsd: 0.001, tokensIn: 1000 });
      expect(d.decisionId).toBe(ev[0]?.ref);
    });

    it('a record for a run that has ended still counts', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, {});
      await ledger.endRun(P, run.runId);
      await record(ledger, rec({ usd: 0.002, runId: run.runId }));
      expect((await ledger.getRun(P, run.runId)).spendUsd).toBe(0.002);
    });

    it('cached input is priced at the cache-read price, rounded up to the nano-dollar', async () => {
      const { ledger } = await env();
      // 667 plain x 3000 + 333 cached x 300.1 + 7 out x 15000 = 2,205,933.3 nano -> 2,205,934
      await record(ledger, rec({ model: 'cache-model', tokensIn: 1000, cachedTokensIn: 333, tokensOut: 7 }));
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.002205934);
      // the same tokens without the cache discount: 1000 x 3000 + 7 x 15000
      await record(ledger, rec({ model: 'cache-model', tokensIn: 1000, tokensOut: 7 }));
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.005310934);
    });

    it('costUsd, when given, is the cost', async () => {
      const { ledger } = await env();
      await record(ledger, rec({ model: 'cache-model', tokensIn: 1_000_000, usd: 0.000123456 }));
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.000123456);
    });
  });

  describe('money is exact', () => {
    const n = opts.moneyRecords;
    // Without user and run: the fewest writes per record, so that a million stays affordable.
    it(`${n.toLocaleString('en-US')} records of $0.000001 sum to exactly $${(n / 1e6).toFixed(6)}${opts.moneyNote ? ` ${opts.moneyNote}` : ''}`, { timeout: 180_000 }, async () => {
      const { ledger, store } = await env();
      await cap(ledger, 1_000_000);
      const nano = usdToNano(0.000001);
      const batch = 10_000;
      for (let b = 0; b * batch < n; b++) {
        const rs: StoreRecord[] = [];
        for (let i = b * batch; i < Math.min(n, (b + 1) * batch); i++) {
          rs.push({
            projectId: P, userId: null, runId: null, model: 'test-model', tokensIn: 1, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0,
            costNano: nano, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: `m${i}`, ts: T0,
          });
        }
        expect(await store.record(rs)).toEqual({ accepted: rs.length, duplicates: 0 });
      }
      const expected = n / 1e6; // n * 1000 nano / 1e9, exact for the sizes used
      expect((await ledger.spend(P, {})).totalUsd).toBe(expected);
      expect((await projectBudget(ledger)).spentUsd).toBe(expected);
    });

    it('user and run sums are integer sums too', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, {});
      const rs = Array.from({ length: 1000 }, () => rec({ usd: 0.000001, userId: 'u', runId: run.runId }));
      expect(await record(ledger, ...rs)).toEqual({ accepted: 1000, duplicates: 0 });
      expect((await ledger.getRun(P, run.runId)).spendUsd).toBe(0.001);
      expect((await ledger.listUsers(P))[0]?.spentUsd).toBe(0.001);
      expect((await ledger.spend(P, { by: 'user' })).rows[0]?.spendUsd).toBe(0.001);
    });
  });

  describe('checkBatch', () => {
    it('gives the same decisions as check() one by one', async () => {
      const a = await env();
      const b = await env();
      for (const e of [a, b]) {
        await cap(e.ledger, 0.03);
        await cap(e.ledger, 0.012, { defaultUser: true });
        await cap(e.ledger, 0.02, { user: 'u0' });
      }
      const runA = await a.store.startRun({ projectId: P, runId: 'run_x', capNano: 6_000_000, label: null, now: T0 });
      await b.store.startRun({ projectId: P, runId: 'run_x', capNano: 6_000_000, label: null, now: T0 });
      expect(runA.runId).toBe('run_x');
      const rand = rng(7);
      const cs: StoreCheck[] = [];
      for (let i = 0; i < 120; i++) {
        const u = Math.floor(rand() * 4);
        const r = rand();
        cs.push({
          projectId: P, userId: u === 3 ? null : `u${u}`, runId: r < 0.4 ? 'run_x' : r < 0.45 ? 'run_missing' : null, model: 'test-model',
          estimateNano: Math.floor(rand() * 3_000_000), tokensIn: 1, tokensOut: 1, unpriced: false,
          forceBlock: rand() < 0.05 ? 'unknown_model_price' : undefined, now: T0 + i * 10_000, holdTtlMs: TTL / 2,
        });
      }
      const strip = (ds: StoreDecision[]) => ds.map((d) => ({ blocked: d.blocked, reason: d.blockReason, held: d.reservationId !== null, rem: d.remainingNano }));
      const batched: StoreDecision[] = [];
      for (let i = 0; i < cs.length; i += 16) batched.push(...(await a.store.checkBatch(cs.slice(i, i + 16))));
      const single: StoreDecision[] = [];
      for (const c of cs) single.push(await b.store.check(c));
      expect(strip(batched)).toEqual(strip(single));
      const reasons = new Set(single.map((d) => d.blockReason));
      // The sequence exercises every path, or the comparison proves little.
      for (const r of [null, 'project_budget_exceeded', 'user_budget_exceeded', 'run_budget_exceeded', 'run_not_found', 'unknown_model_price']) expect(reasons).toContain(r);
      expect(await a.ledger.getBudgets(P)).toEqual(await b.ledger.getBudgets(P));
    });
  });
}
