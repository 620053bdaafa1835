/** contract §3 check: caps, block reasons, holds, TTL and period windows. */
import { describe, expect, it } from 'vitest';
import { P, TTL, UNKNOWN_MODEL, cap, check, projectBudget, rec, record, useEnv, utc } from './harness.js';
import type { Env, StoreFactory } from './harness.js';
import type { Period } from '../../src/lib/periods.js';

export function defineCapTests(factory: StoreFactory): void {
  const env = useEnv(factory);

  describe('caps and block reasons', () => {
    it('a scope with no cap is unlimited but metered', async () => {
      const { ledger } = await env();
      for (let i = 0; i < 3; i++) expect((await check(ledger, 400)).blocked).toBe(false);
      await record(ledger, rec({ usd: 0.25 }));
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.25);
    });

    it('project_budget_exceeded: spent + held + estimate > cap blocks, = cap allows', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01);
      await record(ledger, rec({ usd: 0.004 })); // spent 4
      expect((await check(ledger, 2)).blocked).toBe(false); // 4 + 0 + 2 = 6: held 2
      const eq = await check(ledger, 4); // 4 + 2 + 4 = 10 = cap
      expect(eq).toMatchObject({ blocked: false, blockReason: null, remaining: { projectUsd: 0 } });
      expect(eq.reservationId).toMatch(/^res_/);
      const over = await check(ledger, 0, { tin: 1 }); // one token: 10 + 0.000001 > 10
      expect(over).toMatchObject({ blocked: true, blockReason: 'project_budget_exceeded', reservationId: null });
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.004, heldUsd: 0.006 });
    });

    it('user_budget_exceeded: explicit user cap, per user', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.005, { user: 'alice' });
      expect((await check(ledger, 5, { user: 'alice' })).remaining).toEqual({ userUsd: 0 });
      expect(await check(ledger, 1, { user: 'alice' })).toMatchObject({ blocked: true, blockReason: 'user_budget_exceeded', remaining: { userUsd: 0 } });
      // Another user and a call without a user are not under alice's cap.
      expect((await check(ledger, 50, { user: 'bob' })).blocked).toBe(false);
      expect((await check(ledger, 50)).blocked).toBe(false);
    });

    it('user_budget_exceeded: the default_user cap applies to each user without a cap of their own', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.003, { defaultUser: true });
      for (const u of ['u1', 'u2']) {
        expect((await check(ledger, 3, { user: u })).blocked).toBe(false);
        expect((await check(ledger, 1, { user: u })).blockReason).toBe('user_budget_exceeded');
      }
      expect((await check(ledger, 30)).blocked).toBe(false); // no user: no user cap
    });

    it('an explicit user cap wins over the default, larger or smaller', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.003, { defaultUser: true });
      await cap(ledger, 0.01, { user: 'big' });
      await cap(ledger, 0.001, { user: 'small' });
      expect((await check(ledger, 8, { user: 'big' })).blocked).toBe(false);
      expect((await check(ledger, 2, { user: 'small' })).blockReason).toBe('user_budget_exceeded');
      expect((await check(ledger, 1, { user: 'small' })).blocked).toBe(false);
      expect((await check(ledger, 3, { user: 'other' })).blocked).toBe(false);
      expect((await check(ledger, 1, { user: 'other' })).blockReason).toBe('user_budget_exceeded');
    });

    it('run_budget_exceeded, and the run is exhausted', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, { budgetCapUsd: 0.005 });
      expect((await check(ledger, 2, { run: run.runId })).remaining).toEqual({ runUsd: 0.003 });
      await record(ledger, rec({ usd: 0.002, runId: run.runId })); // settles the oldest hold, spends 2
      expect((await check(ledger, 3, { run: run.runId })).blocked).toBe(false); // 2 + 0 + 3 = 5
      expect(await check(ledger, 0, { run: run.runId, tin: 1 })).toMatchObject({ blocked: true, blockReason: 'run_budget_exceeded' });
      expect((await ledger.endRun(P, run.runId)).status).toBe('exhausted');
    });

    it('run_not_found: an unknown run, or a run of another project', async () => {
      const { ledger } = await env();
      expect(await check(ledger, 1, { run: 'run_nope' })).toMatchObject({ blocked: true, blockReason: 'run_not_found' });
      const other = await ledger.startRun('proj_b', { budgetCapUsd: 1 });
      expect((await check(ledger, 1, { run: other.runId })).blockReason).toBe('run_not_found');
      expect((await check(ledger, 1, { run: other.runId, project: 'proj_b' })).blocked).toBe(false);
    });

    it('run_ended: checks on an ended run are blocked', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, {});
      expect((await check(ledger, 1, { run: run.runId })).blocked).toBe(false);
      await ledger.endRun(P, run.runId);
      expect(await check(ledger, 1, { run: run.runId })).toMatchObject({ blocked: true, blockReason: 'run_ended' });
      expect((await ledger.getRun(P, run.runId)).blockedCalls).toBe(1);
    });

    it('when several caps block, one reason is reported: project, then user, then run', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, { budgetCapUsd: 0.001 });
      await cap(ledger, 0.001);
      await cap(ledger, 0.001, { user: 'u' });
      expect((await check(ledger, 2, { user: 'u', run: run.runId })).blockReason).toBe('project_budget_exceeded');
      await cap(ledger, null);
      expect((await check(ledger, 2, { user: 'u', run: run.runId })).blockReason).toBe('user_budget_exceeded');
      await cap(ledger, null, { user: 'u' });
      expect((await check(ledger, 2, { user: 'u', run: run.runId })).blockReason).toBe('run_budget_exceeded');
    });

    it('unknown_model_price: blocked, flagged unpriced, takes no hold', async () => {
      const { ledger } = await env();
      await cap(ledger, 1);
      const d = await check(ledger, 0, { model: UNKNOWN_MODEL, tin: 1000 });
      expect(d).toMatchObject({ blocked: true, blockReason: 'unknown_model_price', unpriced: true, reservationId: null });
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0, heldUsd: 0 });
      expect((await ledger.spend(P, {})).blockedCalls).toBe(1);
    });

    it('unknownModel "allow": an unpriced model is allowed, holds $0 and is flagged', async () => {
      const { withSettings } = await env();
      const ledger = withSettings({ unknownModel: 'allow' });
      await cap(ledger, 0.001);
      const d = await check(ledger, 0, { model: UNKNOWN_MODEL, tin: 1_000_000 });
      expect(d).toMatchObject({ blocked: false, unpriced: true, estimatedCostUsd: 0 });
      expect(d.reservationId).toMatch(/^res_/);
    });

    it('a fallback price prices an unknown model instead of blocking it', async () => {
      const { withSettings } = await env();
      const ledger = withSettings({ fallbackPrice: { inputPerMTok: 10, outputPerMTok: 30 } });
      await cap(ledger, 0.05);
      // 1000 in x $10/M + 1000 out x $30/M = $0.04
      const d = await check(ledger, 0, { model: UNKNOWN_MODEL, tin: 1000, tout: 1000 });
      expect(d).toMatchObject({ blocked: false, unpriced: false, estimatedCostUsd: 0.04, remaining: { projectUsd: 0.01 } });
      expect((await check(ledger, 0, { model: UNKNOWN_MODEL, tin: 1000, tout: 1000 })).blockReason).toBe('project_budget_exceeded');
      await record(ledger, rec({ model: UNKNOWN_MODEL, tokensIn: 2000, tokensOut: 0 }));
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.02);
    });
  });

  describe('holds', () => {
    it('record with a reservationId releases exactly that hold', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01);
      const a = await check(ledger, 2);
      const b = await check(ledger, 4);
      expect((await check(ledger, 6)).blocked).toBe(true); // 2 + 4 + 6 > 10
      await record(ledger, rec({ usd: 0.001, reservationId: b.reservationId }));
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.001, heldUsd: 0.002 });
      expect((await check(ledger, 7)).blocked).toBe(false); // 1 + 2 + 7 = 10
      await record(ledger, rec({ usd: 0, reservationId: a.reservationId }));
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.001, heldUsd: 0.007 });
    });

    it('record without a reservation releases the oldest open hold of the same project/user/run/model', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 1);
      const run = await ledger.startRun(P, {});
      await check(ledger, 64, { user: 'u', model: 'test-model' }); // not the same user: kept
      clock.t += 1;
      await check(ledger, 32, { user: 'v', model: 'other-model' }); // not the same model: kept
      clock.t += 1;
      await check(ledger, 16, { user: 'v', run: run.runId }); // not the same run: kept
      clock.t += 1;
      await check(ledger, 2, { user: 'v' }); // oldest match
      clock.t += 1;
      await check(ledger, 4, { user: 'v' });
      clock.t += 1;
      await check(ledger, 8, { user: 'v' });
      await record(ledger, rec({ usd: 0, userId: 'v' }));
      expect((await projectBudget(ledger)).heldUsd).toBe(0.124); // 126 - 2
      await record(ledger, rec({ usd: 0, userId: 'v' }));
      expect((await projectBudget(ledger)).heldUsd).toBe(0.12); // - 4
      await record(ledger, rec({ usd: 0, userId: 'v', model: 'other-model' }));
      expect((await projectBudget(ledger)).heldUsd).toBe(0.088); // - 32
    });

    it('a hold stops counting after holdTtlMs (injected clock)', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.01);
      const t0 = clock.t;
      expect((await check(ledger, 6)).blocked).toBe(false);
      clock.t = t0 + TTL - 1;
      expect((await check(ledger, 6)).blockReason).toBe('project_budget_exceeded');
      expect((await projectBudget(ledger)).heldUsd).toBe(0.006);
      clock.t = t0 + TTL;
      expect((await projectBudget(ledger)).heldUsd).toBe(0);
      expect((await check(ledger, 6)).blocked).toBe(false);
    });

    it('the TTL is the configured one', async () => {
      const { withSettings, clock } = await env();
      const ledger = withSettings({ holdTtlMs: 5_000 });
      await cap(ledger, 0.01);
      await check(ledger, 10);
      clock.t += 4_999;
      expect((await check(ledger, 1)).blocked).toBe(true);
      clock.t += 1;
      expect((await check(ledger, 1)).blocked).toBe(false);
    });

    it('an expired hold is not released by a later record (it no longer exists)', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.01);
      const a = await check(ledger, 4);
      clock.t += TTL;
      const b = await check(ledger, 5); // the only open hold now
      await record(ledger, rec({ usd: 0.004, reservationId: a.reservationId }));
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0.004, heldUsd: 0.005 });
      expect(b.blocked).toBe(false);
    });
  });

  describe('per-model caps', () => {
    const modelCap = (ledger: Env['ledger'], usd: number | null, model: string, o: { user?: string; period?: Period } = {}) =>
      ledger.setBudget(P, { scope: 'model', model, userId: o.user, capUsd: usd, period: o.period ?? 'total' });

    it('model_budget_exceeded: a glob caps the sum of every model it matches, and leaves other models alone', async () => {
      const { ledger } = await env();
      await modelCap(ledger, 0.005, '*t*-model'); // test-model and other-model, not cache-model
      await record(ledger, rec({ usd: 0.002, model: 'test-model' }));
      expect((await check(ledger, 2, { model: 'other-model' })).remaining).toEqual({ modelUsd: 0.001 }); // 5 - 2 spent - 2 held
      const over = await check(ledger, 2, { model: 'test-model' }); // 2 + 2 + 2 > 5
      expect(over).toMatchObject({ blocked: true, blockReason: 'model_budget_exceeded', remaining: { modelUsd: 0.001 } });
      expect(over.limit).toMatchObject({ scope: 'model', capUsd: 0.005, spentUsd: 0.002, heldUsd: 0.002 });
      // A model the glob does not match is not under the cap.
      expect((await check(ledger, 50, { model: 'cache-model', tin: 10_000 })).blocked).toBe(false);
    });

    it('an exact model name and ? match as globs; [ is refused', async () => {
      const { ledger } = await env();
      await modelCap(ledger, 0, 'test-mode?');
      expect((await check(ledger, 1)).blockReason).toBe('model_budget_exceeded');
      expect((await check(ledger, 1, { model: 'other-model' })).blocked).toBe(false);
      await expect(modelCap(ledger, 1, 'test-[a]')).rejects.toThrow(/\[ and \] are not allowed/);
    });

    it("a per-user model cap counts only that user's calls of the matching models", async () => {
      const { ledger } = await env();
      await modelCap(ledger, 0.003, 'test-*', { user: 'alice' });
      await record(ledger, rec({ usd: 0.002, userId: 'alice' }));
      await record(ledger, rec({ usd: 0.05, userId: 'bob' })); // bob's spend is not alice's
      expect((await check(ledger, 2, { user: 'alice' })).blockReason).toBe('model_budget_exceeded');
      expect((await check(ledger, 1, { user: 'alice' })).blocked).toBe(false);
      expect((await check(ledger, 30, { user: 'bob' })).blocked).toBe(false);
      expect((await check(ledger, 30)).blocked).toBe(false);
      expect((await check(ledger, 30, { user: 'alice', model: 'other-model' })).blocked).toBe(false);
    });

    it('a model cap set mid-window counts the spend already made; several caps: the least room; getBudgets reports it', async () => {
      const { ledger } = await env();
      await record(ledger, rec({ usd: 0.004, model: 'test-model', userId: 'u' }));
      await modelCap(ledger, 0.005, 'test-model', { period: 'day' });
      await modelCap(ledger, 0.01, '*');
      const d = await check(ledger, 1, { user: 'u' });
      expect(d).toMatchObject({ blocked: false, remaining: { modelUsd: 0 } });
      expect((await check(ledger, 0, { tin: 1 })).blockReason).toBe('model_budget_exceeded');
      const budgets = (await ledger.getBudgets(P)).filter((b) => b.scope === 'model');
      expect(budgets).toEqual([
        { scope: 'model', userId: null, model: '*', capUsd: 0.01, period: 'total', spentUsd: 0.004, heldUsd: 0.001, unpricedCalls: 0, windowStart: '1970-01-01T00:00:00.000Z' },
        { scope: 'model', userId: null, model: 'test-model', capUsd: 0.005, period: 'day', spentUsd: 0.004, heldUsd: 0.001, unpricedCalls: 0, windowStart: '2026-11-25T00:00:00.000Z' },
      ]);
      await modelCap(ledger, null, 'test-model');
      expect((await ledger.getBudgets(P)).filter((b) => b.scope === 'model').map((b) => b.model)).toEqual(['*']);
    });

    it('a minute model cap rolls at the next UTC minute', async () => {
      const { ledger, clock } = await env();
      await modelCap(ledger, 0.001, 'test-model', { period: 'minute' });
      clock.t = utc('2026-11-25T12:07:30.000Z');
      await record(ledger, rec({ usd: 0.001 }));
      expect((await check(ledger, 1)).blockReason).toBe('model_budget_exceeded');
      clock.t = utc('2026-11-25T12:08:00.000Z');
      expect((await check(ledger, 1)).blocked).toBe(false);
    });

    it('clamp: the output bound is lowered to fit a model cap', async () => {
      const { ledger } = await env();
      await modelCap(ledger, 0.003, 'test-model');
      // 1000 input tokens = $0.001; 2000 left = 1000 output tokens at $0.002 per 1000.
      const d = await ledger.check(P, { model: 'test-model', tokensIn: 1000, tokensOut: 5000, userId: null, runId: null, clamp: true, minTokensOut: 10 });
      expect(d).toMatchObject({ blocked: false, clamped: true, tokensOut: 1000, limit: { scope: 'model' } });
    });
  });

  describe('period windows (UTC)', () => {
    async function rolls(period: Period, spendAt: string, stillAt: string, rolledAt: string, scope: 'project' | 'default_user' = 'project') {
      const { ledger, clock } = await env();
      const user = scope === 'default_user' ? 'u' : null;
      if (scope === 'default_user') await cap(ledger, 0.01, { defaultUser: true, period });
      else await cap(ledger, 0.01, { period });
      clock.t = utc(spendAt);
      await record(ledger, rec({ usd: 0.01, userId: user }));
      clock.t = utc(stillAt);
      expect((await check(ledger, 0, { tin: 1, user })).blocked).toBe(true);
      clock.t = utc(rolledAt);
      const d = await check(ledger, 10, { user });
      expect(d.blocked).toBe(false);
      expect(d.remaining).toEqual(scope === 'project' ? { projectUsd: 0 } : { userUsd: 0 });
      // total never rolls: the spend is still there.
      expect((await ledger.spend(P, {})).totalUsd).toBe(0.01);
    }

    it('day rolls at 00:00 UTC', () => rolls('day', '2026-11-25T00:00:00.000Z', '2026-11-25T23:59:59.999Z', '2026-11-26T00:00:00.000Z'));
    it('week rolls at Monday 00:00 UTC, not at a day boundary', () => rolls('week', '2026-11-23T00:00:00.000Z', '2026-11-29T23:59:59.999Z', '2026-11-30T00:00:00.000Z'));
    it('an ISO week spans a year boundary', () => rolls('week', '2026-12-28T00:00:00.000Z', '2027-01-03T23:59:59.999Z', '2027-01-04T00:00:00.000Z'));
    it('month rolls at the 1st 00:00 UTC, not at a week boundary', () => rolls('month', '2026-11-01T00:00:00.000Z', '2026-11-30T23:59:59.999Z', '2026-12-01T00:00:00.000Z'));
    it('month rolls at a year boundary', () => rolls('month', '2026-12-31T23:59:59.999Z', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'));
    it('minute rolls at :00 of the next UTC minute', () => rolls('minute', '2026-11-25T12:07:00.000Z', '2026-11-25T12:07:59.999Z', '2026-11-25T12:08:00.000Z'));
    it('hour rolls at the top of the next UTC hour, not at a minute boundary', () => rolls('hour', '2026-11-25T12:00:00.000Z', '2026-11-25T12:59:59.999Z', '2026-11-25T13:00:00.000Z'));
    it('a user minute cap rolls too (a loop is stopped within its minute)', () => rolls('minute', '2026-11-25T23:59:30.000Z', '2026-11-25T23:59:59.999Z', '2026-11-26T00:00:00.000Z', 'default_user'));
    it('a default_user day cap rolls too', () => rolls('day', '2026-11-25T23:59:59.999Z', '2026-11-25T23:59:59.999Z', '2026-11-26T00:00:00.000Z', 'default_user'));

    it('total never rolls', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.01, { period: 'total' });
      clock.t = utc('2026-01-01T00:00:00.000Z');
      await record(ledger, rec({ usd: 0.01 }));
      clock.t = utc('2030-06-15T00:00:00.000Z');
      expect((await check(ledger, 0, { tin: 1 })).blockReason).toBe('project_budget_exceeded');
    });

    it('budgets report the current minute window and its spend only', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 1, { period: 'minute' });
      clock.t = utc('2026-11-25T12:07:10.000Z');
      await record(ledger, rec({ usd: 0.25 }));
      clock.t = utc('2026-11-25T12:08:05.000Z');
      await record(ledger, rec({ usd: 0.125 }));
      const b = (await ledger.getBudgets(P)).find((x) => x.scope === 'project');
      expect(b).toMatchObject({ period: 'minute', spentUsd: 0.125, windowStart: '2026-11-25T12:08:00.000Z' });
    });

    it('an open hold counts in the new window after the boundary', async () => {
      const { ledger, clock } = await env();
      await cap(ledger, 0.01, { period: 'day' });
      clock.t = utc('2026-11-25T23:59:59.000Z');
      expect((await check(ledger, 6)).blocked).toBe(false);
      clock.t = utc('2026-11-26T00:00:00.000Z');
      expect((await check(ledger, 6)).blocked).toBe(true);
      expect(await projectBudget(ledger)).toEqual({ spentUsd: 0, heldUsd: 0.006 });
    });
  });
}
