/** docs/semantics.md "Alerts": thresholds fire once per scope, threshold and window, in the record's transaction. */
import { describe, expect, it } from 'vitest';
import { P, rec, record, useEnv, utc } from './harness.js';
import type { StoreFactory } from './harness.js';

export function defineAlertTests(factory: StoreFactory): void {
  const env = useEnv(factory);

  describe('alert thresholds', () => {
    it('a threshold fires once when recorded spend reaches it, never again in the window, and again in the next', async () => {
      const { ledger, clock } = await env();
      clock.t = utc('2026-12-02T10:00:00Z');
      await ledger.setBudget(P, { scope: 'project', capUsd: 1, period: 'day', alertAt: [80, 50] });
      expect((await ledger.getBudgets(P))[0]?.alertAt).toEqual([50, 80]);
      await record(ledger, rec({ usd: 0.49 }));
      expect(await ledger.alerts(P)).toEqual([]);
      await record(ledger, rec({ usd: 0.01 })); // exactly 50 %: at-or-above fires
      await record(ledger, rec({ usd: 0.1 }));
      const a = await ledger.alerts(P);
      expect(a.map((x) => [x.scope, x.subject, x.threshold, x.spentUsd, x.capUsd, x.window])).toEqual([['project', null, 50, 0.5, 1, 'd2026-12-02']]);
      // Both thresholds crossed by one record: both fire, each once.
      await record(ledger, rec({ usd: 0.5 }));
      await record(ledger, rec({ usd: 0.5 }));
      expect((await ledger.alerts(P)).map((x) => x.threshold)).toEqual([50, 80]);
      // The feed logs each as an `alert` event (ref: the alert id, amount: the spend).
      const ev = (await ledger.events(P, 0)).filter((e) => e.kind === 'alert');
      expect(ev.map((e) => [e.ref, e.amountUsd, e.tokensIn])).toEqual((await ledger.alerts(P)).map((x) => [x.id, x.spentUsd, x.threshold]));
      // The next day is a new window: the thresholds fire again.
      clock.t = utc('2026-12-03T00:00:01Z');
      await record(ledger, rec({ usd: 0.9 }));
      expect((await ledger.alerts(P)).filter((x) => x.window === 'd2026-12-03').map((x) => x.threshold)).toEqual([50, 80]);
    });

    it('holds never fire an alert: only recorded spend counts', async () => {
      const { ledger } = await env();
      await ledger.setBudget(P, { scope: 'project', capUsd: 0.01, period: 'total', alertAt: [50] });
      const d = await ledger.check(P, { model: 'test-model', tokensIn: 9000, tokensOut: 0, userId: null, runId: null });
      expect(d.blocked).toBe(false);
      expect(await ledger.alerts(P)).toEqual([]);
      await record(ledger, rec({ usd: 0, reservationId: d.reservationId }));
      expect(await ledger.alerts(P)).toEqual([]);
    });

    it('user (own and default), model and run caps fire for their own subject', async () => {
      const { ledger } = await env();
      await ledger.setBudget(P, { scope: 'default_user', capUsd: 1, period: 'total', alertAt: [50] });
      await ledger.setBudget(P, { scope: 'user', userId: 'quiet', capUsd: 1, period: 'total' }); // own cap, no thresholds: the default's do not apply
      await ledger.setBudget(P, { scope: 'model', model: 'test-*', capUsd: 2, period: 'total', alertAt: [25] });
      await ledger.setBudget(P, { scope: 'model', model: 'test-*', userId: 'u1', capUsd: 1, period: 'total', alertAt: [60] });
      const run = await ledger.startRun(P, { budgetCapUsd: 1, alertAt: [90] });
      expect(run.alertAt).toEqual([90]);
      await record(ledger, rec({ usd: 0.6, userId: 'u1' }), rec({ usd: 0.6, userId: 'quiet' }), rec({ usd: 0.95, runId: run.runId }));
      const got = (await ledger.alerts(P)).map((a) => `${a.scope}:${a.subject ?? ''}:${a.userId ?? ''}:${a.threshold}`).sort();
      expect(got).toEqual(['model:test-*::25', 'model:test-*:u1:60', 'run:' + run.runId + '::90', 'user:u1:u1:50']);
      expect((await ledger.alerts(P, { runId: run.runId })).map((a) => a.threshold)).toEqual([90]);
    });

    it('a tag cap fires for the calls that carry its tag only', async () => {
      const { ledger } = await env();
      await ledger.setBudget(P, { scope: 'tag', tag: 'feature=search', capUsd: 1, period: 'total', alertAt: [50] });
      await record(ledger, rec({ usd: 0.9, tags: ['feature=chat'] }), rec({ usd: 0.4, tags: ['feature=search'] }));
      expect(await ledger.alerts(P)).toEqual([]);
      await record(ledger, rec({ usd: 0.1, tags: ['feature=search', 'team=a'] }));
      expect((await ledger.alerts(P)).map((a) => [a.scope, a.subject, a.threshold, a.spentUsd])).toEqual([['tag', 'feature=search', 50, 0.5]]);
    });

    it('setting a cap again without thresholds keeps them; [] removes them', async () => {
      const { ledger } = await env();
      await ledger.setBudget(P, { scope: 'project', capUsd: 1, period: 'total', alertAt: [50] });
      await ledger.setBudget(P, { scope: 'project', capUsd: 2, period: 'total' });
      expect((await ledger.getBudgets(P))[0]).toMatchObject({ capUsd: 2, alertAt: [50] });
      await ledger.setBudget(P, { scope: 'project', capUsd: 2, period: 'total', alertAt: [] });
      expect((await ledger.getBudgets(P))[0]?.alertAt).toBeUndefined();
      await record(ledger, rec({ usd: 1.5 }));
      expect(await ledger.alerts(P)).toEqual([]);
    });

    it('bad thresholds are refused and change nothing', async () => {
      const { ledger } = await env();
      for (const bad of [[0], [1001], [50.5], Array.from({ length: 11 }, (_, i) => i + 1)]) {
        await expect(ledger.setBudget(P, { scope: 'project', capUsd: 1, alertAt: bad })).rejects.toMatchObject({ code: 'NOBURN_VALIDATION' });
      }
      await expect(ledger.startRun(P, { alertAt: [50] })).rejects.toMatchObject({ code: 'NOBURN_VALIDATION' });
      expect(await ledger.getBudgets(P)).toEqual([]);
    });

    it('the queue: a claimed alert is not claimed again until delivered or its lease ends; a failure is due again at retryAt', async () => {
      const { ledger, store, clock } = await env();
      await ledger.setBudget(P, { scope: 'project', capUsd: 1, period: 'total', alertAt: [50] });
      await record(ledger, rec({ usd: 0.6 }));
      const t = clock.t;
      const first = await store.claimAlerts(null, t, 1000, 10);
      expect(first.map((a) => a.attempts)).toEqual([1]);
      expect(await store.claimAlerts(null, t, 1000, 10)).toEqual([]);
      await store.settleAlerts([{ id: first[0]?.id ?? '', delivered: false, error: 'HTTP 503', retryAt: t + 5000 }], t);
      expect(await store.claimAlerts(null, t + 4999, 1000, 10)).toEqual([]);
      const again = await store.claimAlerts(null, t + 5000, 1000, 10);
      expect(again.map((a) => [a.attempts, a.lastError])).toEqual([[2, 'HTTP 503']]);
      // The lease ends (a deliverer died): another may claim it.
      const third = await store.claimAlerts(P, t + 6000, 1000, 10);
      expect(third).toHaveLength(1);
      await store.settleAlerts([{ id: third[0]?.id ?? '', delivered: true }], t + 6001);
      expect(await store.claimAlerts(null, t + 99_000, 1000, 10)).toEqual([]);
      expect((await ledger.alerts(P))[0]).toMatchObject({ deliveredAt: new Date(t + 6001).toISOString(), attempts: 3, lastError: null });
    });
  });
}
