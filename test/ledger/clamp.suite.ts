/**
 * Clamped holds, refusal figures, input calibration and over-holds (docs/semantics.md,
 * "Bounded holds"). test-model: input $1/MTok (1,000 nano-dollars a token), output
 * $2/MTok (2,000 a token).
 */
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../src/lib/ledger/ledger.js';
import type { NormalizedCheck } from '../../src/lib/validate.js';
import { P, PRICES, cap, rec, record, rng, useEnv } from './harness.js';
import type { StoreFactory } from './harness.js';

const FRAC = 'frac-model';
// Prices with fractions of a nano-dollar per token, so that rounding is exercised.
const FRAC_PRICES = { ...PRICES, [FRAC]: { inputPerMTok: 0.000333, outputPerMTok: 0.000777 } };

function ask(l: Ledger, o: Partial<NormalizedCheck> & { project?: string } = {}) {
  const { project, ...c } = o;
  return l.check(project ?? P, { model: 'test-model', tokensIn: 1000, tokensOut: 0, userId: null, runId: null, ...c });
}

export function defineClampTests(factory: StoreFactory): void {
  const env = useEnv(factory);

  describe('clamp: hold the largest output that fits', () => {
    it('clamps the output bound to the room left after the input, and says so', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01); // 10,000,000 nano: input 1000 tokens = 1,000,000, room for 4,500 output tokens
      const d = await ask(ledger, { tokensOut: 10_000, clamp: true });
      expect(d).toMatchObject({
        blocked: false,
        clamped: true,
        tokensIn: 1000,
        tokensOut: 4500,
        maxTokensOut: 4500,
        estimatedCostUsd: 0.01,
        estimate: { inputUsd: 0.001, outputUsd: 0.009 },
        remaining: { projectUsd: 0 },
        limit: { scope: 'project', capUsd: 0.01, spentUsd: 0, heldUsd: 0, leftUsd: 0.01 },
        hint: 'max_tokens clamped to 4500 to fit the project cap',
      });
      // The hold is the clamped amount: nothing else fits.
      expect(await ask(ledger, { tokensIn: 1, clamp: true })).toMatchObject({ blocked: true, blockReason: 'project_budget_exceeded' });
    });

    it('without clamp the same call is refused with the figures and a max_tokens hint', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01);
      await record(ledger, rec({ usd: 0.002 }));
      await ask(ledger, { tokensIn: 1000 }); // held 0.001
      const d = await ask(ledger, { tokensOut: 10_000 });
      expect(d).toMatchObject({
        blocked: true,
        blockReason: 'project_budget_exceeded',
        clamped: false,
        tokensIn: 1000,
        tokensOut: 10_000,
        estimatedCostUsd: 0.021,
        estimate: { inputUsd: 0.001, outputUsd: 0.02 },
        limit: { scope: 'project', capUsd: 0.01, spentUsd: 0.002, heldUsd: 0.001, leftUsd: 0.007 },
        maxTokensOut: 3000,
        hint: 'set max_tokens <= 3000',
      });
    });

    it('a call that fits is held as asked (not clamped) and reports maxTokensOut', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.01);
      const d = await ask(ledger, { tokensOut: 100, clamp: true });
      expect(d).toMatchObject({ blocked: false, clamped: false, tokensOut: 100, maxTokensOut: 4500, hint: null, estimatedCostUsd: 0.0012 });
    });

    it('below the floor (minTokensOut, default 256) it blocks; a lower floor lets it through', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.0014); // room for 200 output tokens after 1000 input tokens
      const d = await ask(ledger, { tokensOut: 4000, clamp: true });
      expect(d).toMatchObject({ blocked: true, blockReason: 'project_budget_exceeded', clamped: false, maxTokensOut: 200, reservationId: null });
      expect(d.hint).toBe('set max_tokens <= 200 (below the clamp floor minTokensOut 256) or raise the project cap');
      expect(await ask(ledger, { tokensOut: 4000, clamp: true, minTokensOut: 200 })).toMatchObject({ blocked: false, clamped: true, tokensOut: 200 });
    });

    it('the minTokensOut setting is the default floor', async () => {
      const { withSettings } = await env();
      const ledger = withSettings({ minTokensOut: 150 });
      await cap(ledger, 0.0014);
      expect(await ask(ledger, { tokensOut: 4000, clamp: true })).toMatchObject({ blocked: false, clamped: true, tokensOut: 200 });
    });

    it('a requested bound under the floor is its own floor: held whole or refused', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.0012); // room for 100 output tokens
      expect(await ask(ledger, { tokensOut: 101, clamp: true })).toMatchObject({ blocked: true, maxTokensOut: 100 });
      expect(await ask(ledger, { tokensOut: 100, clamp: true })).toMatchObject({ blocked: false, clamped: false, tokensOut: 100 });
    });

    it('when the input alone does not fit, the hint says so', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.0005);
      const d = await ask(ledger, { tokensOut: 1000, clamp: true });
      expect(d).toMatchObject({ blocked: true, maxTokensOut: 0 });
      expect(d.hint).toBe('the input alone ($0.001000) exceeds what is left under the project cap ($0.000500): shorten the prompt or raise the cap');
    });

    it('clamps to the tightest of project, user and run caps', async () => {
      const { ledger } = await env();
      await cap(ledger, 1);
      await cap(ledger, 0.5, { user: 'u' });
      const run = await ledger.startRun(P, { budgetCapUsd: 0.003 }); // room for 1000 output tokens
      const d = await ask(ledger, { tokensOut: 50_000, clamp: true, userId: 'u', runId: run.runId });
      expect(d).toMatchObject({ blocked: false, clamped: true, tokensOut: 1000, limit: { scope: 'run', capUsd: 0.003, leftUsd: 0.003 } });
      expect(d.remaining).toEqual({ projectUsd: 0.997, userUsd: 0.497, runUsd: 0 });
      expect((await ledger.getRun(P, run.runId)).clampedCalls).toBe(1);
    });

    it('no cap: nothing to clamp, limit and maxTokensOut are null', async () => {
      const { ledger } = await env();
      expect(await ask(ledger, { tokensOut: 1_000_000, clamp: true })).toMatchObject({ blocked: false, clamped: false, tokensOut: 1_000_000, limit: null, maxTokensOut: null, hint: null });
    });

    it('rounding never lets a clamped hold exceed the room (fractional nano-dollar prices)', async () => {
      const { withSettings } = await env();
      const ledger = withSettings({ prices: FRAC_PRICES });
      const r = rng(7);
      for (let i = 0; i < 60; i++) {
        const project = `p${i}`;
        const capNano = 1000 + Math.floor(r() * 5_000_000);
        await cap(ledger, capNano / 1e9, { project });
        const tokensIn = Math.floor(r() * 2_000_000);
        const d = await ask(ledger, { project, model: FRAC, tokensIn, tokensOut: 100_000_000, clamp: true, minTokensOut: 1 });
        const inN = BigInt(tokensIn) * 333_000n;
        const hold = (o: number) => Number((inN + BigInt(o) * 777_000n + 999_999n) / 1_000_000n);
        if (d.blocked) {
          expect(hold(1)).toBeGreaterThan(capNano);
          continue;
        }
        expect(hold(d.tokensOut)).toBeLessThanOrEqual(capNano);
        expect(hold(d.tokensOut + 1)).toBeGreaterThan(capNano); // the largest that fits
        expect(Math.round(d.estimatedCostUsd * 1e9)).toBe(hold(d.tokensOut));
        expect(Math.round((d.estimate.inputUsd + d.estimate.outputUsd) * 1e9)).toBe(hold(d.tokensOut));
      }
    });

    it('concurrent clamped checks never hold past the cap together', async () => {
      const { ledger } = await env();
      await cap(ledger, 0.05);
      const ds = await Promise.all(Array.from({ length: 40 }, () => ask(ledger, { tokensOut: 2000, clamp: true, minTokensOut: 256 })));
      const held = ds.filter((d) => !d.blocked).reduce((s, d) => s + Math.round(d.estimatedCostUsd * 1e9), 0);
      expect(held).toBeLessThanOrEqual(50_000_000);
      // 0.005 a call: 10 whole calls; the rest do not fit even at the floor (0.001 + 256 x 2000 nano).
      expect(ds.filter((d) => !d.blocked && !d.clamped)).toHaveLength(10);
      const budget = (await ledger.getBudgets(P)).find((b) => b.scope === 'project');
      expect(budget?.heldUsd).toBeLessThanOrEqual(0.05);
    });
  });

  describe('input calibration (tokensInSource "tokenizer")', () => {
    it('exact input is held as given; a tokenizer count is scaled by the provider margin', async () => {
      const { ledger } = await env();
      expect((await ask(ledger, { tokensIn: 1000 })).tokensIn).toBe(1000);
      expect((await ask(ledger, { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'openai' })).tokensIn).toBe(1200);
      expect((await ask(ledger, { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'anthropic' })).tokensIn).toBe(1350);
      expect((await ask(ledger, { tokensIn: 1000, tokensInSource: 'tokenizer' })).tokensIn).toBe(1300);
      const d = await ask(ledger, { tokensIn: 1000, tokensOut: 0, tokensInSource: 'tokenizer', provider: 'openai' });
      expect(d.estimatedCostUsd).toBe(0.0012);
    });

    it('the inputMargin setting wins over the defaults, most specific key first', async () => {
      const { withSettings } = await env();
      const ledger = withSettings({ inputMargin: { openai: 1.5, 'openai/test-model': 1.25, default: 2 } });
      expect((await ask(ledger, { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'openai' })).tokensIn).toBe(1250);
      expect((await ask(ledger, { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'openai', model: 'other-model' })).tokensIn).toBe(1500);
      expect((await ask(ledger, { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'google' })).tokensIn).toBe(2000);
    });

    it('learns the provider ratio from settled records and holds more when the provider counts more', async () => {
      const { ledger, clock, withSettings } = await env();
      const c = { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'anthropic' } as const;
      for (let i = 0; i < 3; i++) {
        const d = await ask(ledger, c);
        await record(ledger, rec({ tokensIn: 2000, reservationId: d.reservationId }));
      }
      clock.t += 11_000; // the learnt ratio is cached for up to 10 s
      expect((await ask(ledger, c)).tokensIn).toBe(2200); // ratio 2.0 with 10 % headroom
      // Another ledger on the same store (another process) reads the same calibration.
      expect((await ask(withSettings({}), c)).tokensIn).toBe(2200);
      // Another provider or model has learnt nothing.
      expect((await ask(ledger, { ...c, provider: 'openai' })).tokensIn).toBe(1200);
    });

    it('a provider that counts fewer tokens never lowers the hold below the margin', async () => {
      const { ledger, clock } = await env();
      const c = { tokensIn: 1000, tokensInSource: 'tokenizer', provider: 'openai' } as const;
      const d = await ask(ledger, c);
      await record(ledger, rec({ tokensIn: 500, reservationId: d.reservationId }));
      clock.t += 11_000;
      expect((await ask(ledger, c)).tokensIn).toBe(1200);
    });
  });

  describe('over-holds and clamped calls are counted', () => {
    it('a record that costs more than its hold is an over-hold on its run', async () => {
      const { ledger } = await env();
      const run = await ledger.startRun(P, { budgetCapUsd: 1 });
      const a = await ask(ledger, { runId: run.runId, tokensOut: 100 }); // held 0.0012
      await record(ledger, rec({ runId: run.runId, reservationId: a.reservationId, tokensIn: 1000, tokensOut: 100 }));
      const b = await ask(ledger, { runId: run.runId, tokensOut: 100 });
      await record(ledger, rec({ runId: run.runId, reservationId: b.reservationId, tokensIn: 1000, tokensOut: 101 }));
      const c = await ask(ledger, { runId: run.runId, tokensOut: 100, clamp: true });
      expect(c.clamped).toBe(false);
      expect(await ledger.getRun(P, run.runId)).toMatchObject({ overHolds: 1, clampedCalls: 0, calls: 2 });
      expect((await ledger.listRuns(P))[0]).toMatchObject({ overHolds: 1, clampedCalls: 0 });
    });
  });
}
