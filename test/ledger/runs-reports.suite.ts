/** contract §3 runs, and the reads: spend report, event feed, keys, price cache. */
import { describe, expect, it } from 'vitest';
import { NoburnConflictError, NoburnNotFoundError, NoburnValidationError } from '../../src/lib/errors.js';
import type { CachedPrice } from '../../src/lib/pricing/price-cache.js';
import { P, T0, cap, check, rec, record, useEnv, utc } from './harness.js';
import type { StoreFactory } from './harness.js';

export function defineRunAndReportTests(factory: StoreFactory): void {
  const env = useEnv(factory);

  describe('runs', () => {
    it('lifecycle: start, check and record in the run, end with the documented result', async () => {
      const { ledger, clock } = await env();
      const run = await ledger.startRun(P, { budgetCapUsd: 0.5, label: 'nightly' });
      expect(run).toMatchObject({ label: 'nightly', status: 'open', exhausted: false, budgetCapUsd: 0.5, spendUsd: 0, heldUsd: 0, calls: 0, blockedCalls: 0, startedAt: new Date(T0).toISOString(), endedAt: null });
      expect(run.runId).toMatch(/^run_/);
      clock.t += 1000;
      const d = await check(ledger, 3, { run: run.runId });
      expect((await ledger.getRun(P, run.runId)).heldUsd).toBe(0.003);
      await record(ledger, rec({ usd: 0.002, runId: run.runId, reservationId: d.reservationId }));
      await record(ledger, rec({ usd: 0.0005, runId: run.runId, wasBlocked: true }));
      await check(ledger, 0, { run: run.runId, model: 'nb-test-unpriced-model-zz9', tin: 5 }); // blocked, not by the run cap
      clock.t += 1000;
      const end = await ledger.endRun(P, run.runId);
      expect(end).toEqual({
        runId: run.runId, status: 'completed', spendUsd: 0.002, budgetCapUsd: 0.5, calls: 1, blockedCalls: 2,
        startedAt: new Date(T0).toISOString(), endedAt: new Date(T0 + 2000).toISOString(),
      });
      expect(await ledger.getRun(P, run.runId)).toMatchObject({ status: 'ended', endedAt: new Date(T0 + 2000).toISOString(), heldUsd: 0 });
    });

    it('a run without a cap is unlimited; its result says budgetCapUsd null', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, {});
      expect((await check(ledger, 100_000, { run: run.runId })).blocked).toBe(false);
      expect(await ledger.endRun(P, run.runId)).toMatchObject({ status: 'completed', budgetCapUsd: null });
    });

    it('ending an ended run is a conflict; an unknown run is not found', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, {});
      await ledger.endRun(P, run.runId);
      await expect(ledger.endRun(P, run.runId)).rejects.toBeInstanceOf(NoburnConflictError);
      await expect(ledger.endRun(P, 'run_nope')).rejects.toBeInstanceOf(NoburnNotFoundError);
      await expect(ledger.getRun(P, 'run_nope')).rejects.toBeInstanceOf(NoburnNotFoundError);
      // A run is found only in its own project.
      await expect(ledger.getRun('proj_b', run.runId)).rejects.toBeInstanceOf(NoburnNotFoundError);
      await expect(ledger.endRun('proj_b', run.runId)).rejects.toBeInstanceOf(NoburnNotFoundError);
    });

    it('listRuns: open first, newest first, filtered by status', async () => {
      const { ledger, clock } = await env();
      const r1 = await ledger.startRun(P, {});
      clock.t += 1;
      const r2 = await ledger.startRun(P, {});
      clock.t += 1;
      const r3 = await ledger.startRun(P, {});
      await ledger.startRun('proj_b', {});
      await ledger.endRun(P, r3.runId);
      expect((await ledger.listRuns(P)).map((r) => r.runId)).toEqual([r2.runId, r1.runId, r3.runId]);
      expect((await ledger.listRuns(P, 'open')).map((r) => r.runId)).toEqual([r2.runId, r1.runId]);
      expect((await ledger.listRuns(P, 'ended')).map((r) => r.runId)).toEqual([r3.runId]);
      expect(await ledger.listRuns(P, undefined, 1)).toHaveLength(1);
    });
  });

  describe('spend report', () => {
    async function seed() {
      const e = await env();
      const { ledger, clock } = e;
      const run = await ledger.startRun(P, {});
      clock.t = utc('2026-11-24T10:00:00Z');
      await record(ledger, rec({ usd: 0.001, userId: 'alice', model: 'test-model', tokensIn: 10, tokensOut: 1 }));
      await record(ledger, rec({ usd: 0.002, userId: 'bob', model: 'other-model', runId: run.runId, tokensIn: 20, tokensOut: 2 }));
      clock.t = utc('2026-11-25T23:59:59.999Z');
      await record(ledger, rec({ usd: 0.004, userId: 'alice', model: 'other-model', runId: run.runId, tokensIn: 40, tokensOut: 4 }));
      await check(ledger, 1, { user: 'carol', run: 'run_missing' }); // a blocked check: no spend, one blocked call
      clock.t = utc('2026-11-26T00:00:00Z');
      await record(ledger, rec({ usd: 0.008, model: 'test-model', tokensIn: 80, tokensOut: 8 }));
      await ledger.record('proj_b', [rec({ usd: 1 })]); // another project: never counted
      return { ...e, run };
    }

    it('totals, and grouping by user / run / model / day', async () => {
      const { ledger, run } = await seed();
      expect(await ledger.spend(P, {})).toEqual({ by: null, since: null, until: null, totalUsd: 0.015, calls: 4, blockedCalls: 1, unpricedCalls: 0, rows: [] });
      const row = (key: string | null, spendUsd: number, calls: number, blockedCalls: number, tokensIn: number, tokensOut: number) => ({ key, spendUsd, calls, blockedCalls, unpricedCalls: 0, tokensIn, tokensOut });
      expect((await ledger.spend(P, { by: 'user' })).rows).toEqual([row(null, 0.008, 1, 0, 80, 8), row('alice', 0.005, 2, 0, 50, 5), row('bob', 0.002, 1, 0, 20, 2), row('carol', 0, 0, 1, 0, 0)]);
      expect((await ledger.spend(P, { by: 'run' })).rows).toEqual([row(null, 0.009, 2, 0, 90, 9), row(run.runId, 0.006, 2, 0, 60, 6), row('run_missing', 0, 0, 1, 0, 0)]);
      expect((await ledger.spend(P, { by: 'model' })).rows).toEqual([row('test-model', 0.009, 2, 1, 90, 9), row('other-model', 0.006, 2, 0, 60, 6)]);
      expect((await ledger.spend(P, { by: 'day' })).rows).toEqual([row('2026-11-26', 0.008, 1, 0, 80, 8), row('2026-11-25', 0.004, 1, 1, 40, 4), row('2026-11-24', 0.003, 2, 0, 30, 3)]);
    });

    it('since is inclusive, until exclusive (dates are UTC days)', async () => {
      const { ledger } = await seed();
      const s = await ledger.spend(P, { since: '2026-11-25', until: '2026-11-26' });
      expect(s).toMatchObject({ since: '2026-11-25T00:00:00.000Z', until: '2026-11-26T00:00:00.000Z', totalUsd: 0.004, calls: 1, blockedCalls: 1 });
      expect((await ledger.spend(P, { since: '2026-11-26' })).totalUsd).toBe(0.008);
      expect((await ledger.spend(P, { until: '2026-11-25T23:59:59.999Z' })).totalUsd).toBe(0.003);
      expect((await ledger.spend(P, { by: 'user', since: '2026-11-25', until: '2026-11-26' })).rows.map((r) => r.key)).toEqual(['alice', 'carol']);
    });

    it('runId: only the records and blocked checks of that run, grouped or not, and within the window', async () => {
      const { ledger, run } = await seed();
      expect(await ledger.spend(P, { runId: run.runId })).toEqual({ by: null, since: null, until: null, totalUsd: 0.006, calls: 2, blockedCalls: 0, unpricedCalls: 0, rows: [] });
      expect((await ledger.spend(P, { runId: run.runId, by: 'user' })).rows.map((r) => [r.key, r.spendUsd])).toEqual([['alice', 0.004], ['bob', 0.002]]);
      expect(await ledger.spend(P, { runId: 'run_missing', by: 'model' })).toMatchObject({ totalUsd: 0, calls: 0, blockedCalls: 1, rows: [{ key: 'test-model', blockedCalls: 1 }] });
      expect((await ledger.spend(P, { runId: run.runId, since: '2026-11-25' })).totalUsd).toBe(0.004);
      expect((await ledger.spend('proj_b', { runId: run.runId })).totalUsd).toBe(0);
      await expect(ledger.spend(P, { runId: '' })).rejects.toBeInstanceOf(NoburnValidationError);
    });
  });

  describe('event feed', () => {
    it('oldest first, cursor by seq, one project or all', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.001);
      const run = await ledger.startRun(P, {});
      await check(ledger, 1, { run: run.runId }); // allowed: not an event (its record is)
      await check(ledger, 5, { run: run.runId }); // blocked: an event
      await record(ledger, rec({ usd: 0.001, runId: run.runId, idempotencyKey: 'ik-1' }));
      await ledger.startRun('proj_b', {});
      clock.t += 5;
      await ledger.endRun(P, run.runId);
      const all = await ledger.events(P, 0);
      expect(all.map((e) => e.kind)).toEqual(['budget', 'run_start', 'check', 'record', 'run_end']);
      expect(all.every((e) => e.projectId === P)).toBe(true);
      const seqs = all.map((e) => e.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(all[3]).toMatchObject({ kind: 'record', ref: 'ik-1', runId: run.runId, amountUsd: 0.001, blocked: false, ts: new Date(T0).toISOString() });
      expect(all[4]).toMatchObject({ kind: 'run_end', ref: run.runId, ts: new Date(T0 + 5).toISOString() });
      const cursor = all[1]?.seq ?? -1;
      expect(await ledger.events(P, cursor, 2)).toEqual(all.slice(2, 4));
      expect(await ledger.events(P, all[4]?.seq ?? -1)).toEqual([]);
      const everyone = await ledger.events(null, 0);
      expect(everyone).toHaveLength(6);
      expect(everyone.filter((e) => e.projectId === 'proj_b').map((e) => e.kind)).toEqual(['run_start']);
    });

    it('filters: since inclusive, until exclusive (dates or ISO times), one kind; pages by the cursor within the filter', async () => {
      const { ledger, clock } = await env();
      clock.t = utc('2026-11-24T23:00:00Z');
      await cap(ledger, 1);
      for (let i = 0; i < 6; i++) {
        clock.t = utc('2026-11-25T00:00:00Z') + i * 3_600_000;
        await record(ledger, rec({ usd: 0.001, idempotencyKey: `f-${i}` }));
      }
      clock.t = utc('2026-11-26T00:00:00Z');
      await ledger.startRun(P, {});
      const all = await ledger.events(P, 0);
      const kinds = (es: readonly { kind: string }[]) => es.map((e) => e.kind);
      expect(kinds(await ledger.events(P, 0, 1000, { since: '2026-11-25' }))).toEqual([...Array<string>(6).fill('record'), 'run_start']);
      expect(kinds(await ledger.events(P, 0, 1000, { until: '2026-11-25' }))).toEqual(['budget']);
      const window = await ledger.events(P, 0, 1000, { since: '2026-11-25T01:00:00Z', until: '2026-11-25T03:00:00Z' });
      expect(window.map((e) => e.ref)).toEqual(['f-1', 'f-2']);
      expect(kinds(await ledger.events(P, 0, 1000, { kind: 'run_start' }))).toEqual(['run_start']);
      expect(await ledger.events(P, 0, 1000, { kind: 'record', until: '2026-11-25' })).toEqual([]);
      // Paging inside a filter: the cursor is the last seq returned, and nothing outside the filter appears.
      const first = await ledger.events(P, 0, 4, { kind: 'record' });
      const rest = await ledger.events(P, first[3]?.seq ?? -1, 4, { kind: 'record' });
      expect([...first, ...rest]).toEqual(all.filter((e) => e.kind === 'record'));
      await expect(ledger.events(P, 0, 10, { since: 'yesterday' })).rejects.toBeInstanceOf(NoburnValidationError);
      await expect(ledger.events(P, 0, 10, { kind: 'nope' as 'check' })).rejects.toBeInstanceOf(NoburnValidationError);
    });
  });

  describe('keys and price cache', () => {
    it('keys: create, list by project, find by hash, revoke', async () => {
      const { store } = await env();
      const k = (id: string, projectId: string, ms: number) => ({ id, projectId, role: 'app' as const, hash: `hash-${id}`, label: id === 'key_1' ? 'ci' : null, createdAt: new Date(ms).toISOString(), revokedAt: null });
      await store.createKey(k('key_1', P, T0));
      await store.createKey({ ...k('key_2', P, T0 + 1), role: 'admin' });
      await store.createKey(k('key_3', 'proj_b', T0 + 2));
      expect((await store.listKeys(P)).map((x) => x.id)).toEqual(['key_1', 'key_2']);
      expect((await store.listKeys(null)).map((x) => x.id)).toEqual(['key_1', 'key_2', 'key_3']);
      expect(await store.findKeyByHash('hash-key_2')).toEqual({ ...k('key_2', P, T0 + 1), role: 'admin' });
      expect(await store.findKeyByHash('hash-nope')).toBeNull();
      await store.revokeKey('key_1', T0 + 10);
      expect((await store.findKeyByHash('hash-key_1'))?.revokedAt).toBe(new Date(T0 + 10).toISOString());
      await expect(store.revokeKey('key_nope', T0)).rejects.toBeInstanceOf(NoburnNotFoundError);
    });

    it('price cache round-trip, overwrite, miss', async () => {
      const { store } = await env();
      const p: CachedPrice = { model: 'gpt-x', inputNanoPerMTok: 2_500_000_000, outputNanoPerMTok: 10_000_000_000, cacheReadNanoPerMTok: 1_250_000_000, cacheWriteNanoPerMTok: null, source: 'genai-prices', matched: 'openai:gpt-x', dataVersion: 'v1' };
      expect(await store.getCachedPrice('gpt-x')).toBeNull();
      await store.putCachedPrice(p);
      expect(await store.getCachedPrice('gpt-x')).toEqual(p);
      const unknown: CachedPrice = { ...p, inputNanoPerMTok: 0, outputNanoPerMTok: 0, cacheReadNanoPerMTok: null, source: 'unknown', matched: null, dataVersion: 'v2' };
      await store.putCachedPrice(unknown);
      expect(await store.getCachedPrice('gpt-x')).toEqual(unknown);
    });

    it('budgets and users read back what was set', async () => {
      const { ledger } = await env();
      await cap(ledger, 2, { period: 'month' });
      await cap(ledger, 0.5, { defaultUser: true, period: 'day' });
      await cap(ledger, 1, { user: 'vip', period: 'week' });
      await check(ledger, 3, { user: 'vip' });
      await record(ledger, rec({ usd: 0.25, userId: 'vip' }));
      await record(ledger, rec({ usd: 0.125, userId: 'pleb' }));
      expect(await ledger.getBudgets(P)).toEqual([
        { scope: 'default_user', userId: null, capUsd: 0.5, period: 'day', spentUsd: 0, heldUsd: 0, unpricedCalls: 0, windowStart: '2026-11-25T00:00:00.000Z' },
        { scope: 'project', userId: null, capUsd: 2, period: 'month', spentUsd: 0.375, heldUsd: 0, unpricedCalls: 0, windowStart: '2026-11-01T00:00:00.000Z' },
        { scope: 'user', userId: 'vip', capUsd: 1, period: 'week', spentUsd: 0.25, heldUsd: 0, unpricedCalls: 0, windowStart: '2026-11-23T00:00:00.000Z' },
      ]);
      const users = await ledger.listUsers(P);
      expect(users.find((u) => u.userId === 'pleb')).toMatchObject({ spentUsd: 0.125, capUsd: 0.5, period: 'day', calls: 1 });
      expect(users.find((u) => u.userId === 'vip')).toMatchObject({ spentUsd: 0.25, capUsd: 1, period: 'week', heldUsd: 0 });
    });
  });
}
