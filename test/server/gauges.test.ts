/**
 * The spend gauges of /metrics (src/server/gauges.ts, docs/operations.md "Metrics"): one
 * ledger read serves a whole scrape and is kept for the cache interval (a fake clock), the
 * series limit keeps the first capped scopes then open runs and counts the rest, and a
 * failed read leaves the gauges empty instead of failing the scrape.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerSpendGauges, usedRatio } from '../../src/server/gauges.js';
import type { GaugeSource } from '../../src/server/gauges.js';
import type { Budget, RunInfo } from '../../src/lib/types.js';

const budget = (userId: string | null, spentUsd: number, capUsd = 1): Budget => ({
  scope: userId === null ? 'project' : 'user', userId, capUsd, period: 'day', spentUsd, heldUsd: 0, unpricedCalls: 0, windowStart: '2026-12-02T00:00:00.000Z',
});
const run = (runId: string, spendUsd: number, budgetCapUsd: number | null): RunInfo => ({
  runId, label: null, parentRunId: null, status: 'open', exhausted: false, budgetCapUsd, spendUsd, heldUsd: 0, calls: 1, blockedCalls: 0, unpricedCalls: 0, clampedCalls: 2, overHolds: 1, startedAt: '2026-12-02T00:00:00.000Z', endedAt: null,
});

function fakeSource(state: { budgets: Budget[]; runs: RunInfo[]; fail?: boolean }) {
  const reads = { projects: 0, budgets: 0, runs: 0 };
  const src: GaugeSource = {
    projects: () => {
      reads.projects++;
      return state.fail === true ? Promise.reject(new Error('store closed')) : Promise.resolve(['acme']);
    },
    budgets: () => {
      reads.budgets++;
      return Promise.resolve(state.budgets);
    },
    openRuns: (_p, limit) => {
      reads.runs++;
      return Promise.resolve(state.runs.slice(0, limit));
    },
  };
  return { src, reads };
}

const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('spend gauges', () => {
  it('a scrape reads the ledger once for all gauges; within the cache interval no read at all; after it, fresh values', async () => {
    const state = { budgets: [budget(null, 0.25)], runs: [run('run_a', 0.1, 0.5)] };
    const { src, reads } = fakeSource(state);
    let now = 1_000_000;
    const registry = new Registry();
    registerSpendGauges(registry, src, { now: () => now, cacheMs: 1000 });
    const first = await registry.metrics();
    expect(reads).toEqual({ projects: 1, budgets: 1, runs: 1 });
    expect(series(first, 'noburn_budget_spend_usd')).toEqual(['noburn_budget_spend_usd{project="acme",scope="project",user="",model="",tag="",period="day"} 0.25']);
    expect(series(first, 'noburn_budget_used_ratio')[0]).toMatch(/ 0\.25$/);
    expect(series(first, 'noburn_run_used_ratio')[0]).toMatch(/run="run_a".* 0\.2$/);
    expect(series(first, 'noburn_run_clamped_calls')[0]).toMatch(/ 2$/);
    expect(series(first, 'noburn_run_over_holds')[0]).toMatch(/ 1$/);

    state.budgets = [budget(null, 0.75)];
    now += 999;
    expect(series(await registry.metrics(), 'noburn_budget_spend_usd')[0]).toMatch(/ 0\.25$/);
    expect(reads.projects).toBe(1);
    now += 1;
    expect(series(await registry.metrics(), 'noburn_budget_spend_usd')[0]).toMatch(/ 0\.75$/);
    expect(reads.projects).toBe(2);
  });

  it('the series limit: the first capped scopes, then open runs; the rest counted in noburn_gauge_series_dropped', async () => {
    const { src } = fakeSource({ budgets: [budget(null, 1), budget('u1', 0.1), budget('u2', 0.2)], runs: [run('run_a', 0, 1), run('run_b', 0, 1), run('run_c', 0, null)] });
    const registry = new Registry();
    registerSpendGauges(registry, src, { now: () => 0, seriesLimit: 4 });
    const text = await registry.metrics();
    expect(series(text, 'noburn_budget_cap_usd')).toHaveLength(3);
    expect(series(text, 'noburn_run_spend_usd')).toEqual([expect.stringContaining('run="run_a"')]);
    // 3 open runs were read for 1 place: the runs read are limited to one past the room left.
    expect(series(text, 'noburn_gauge_series_dropped')).toEqual(['noburn_gauge_series_dropped 1']);

    const small = new Registry();
    registerSpendGauges(small, fakeSource({ budgets: [budget(null, 1), budget('u1', 0.1), budget('u2', 0.2)], runs: [run('run_a', 0, 1)] }).src, { now: () => 0, seriesLimit: 2 });
    const t2 = await small.metrics();
    expect(series(t2, 'noburn_budget_cap_usd')).toHaveLength(2);
    expect(series(t2, 'noburn_run_spend_usd')).toHaveLength(0);
    expect(series(t2, 'noburn_gauge_series_dropped')).toEqual(['noburn_gauge_series_dropped 2']);
  });

  it('a run without a cap has spend but no cap or ratio; a failed read gives empty gauges and is read again next scrape', async () => {
    const state: { budgets: Budget[]; runs: RunInfo[]; fail?: boolean } = { budgets: [], runs: [run('run_x', 0.3, null)], fail: true };
    const { src, reads } = fakeSource(state);
    const registry = new Registry();
    registerSpendGauges(registry, src, { now: () => 0 });
    expect(series(await registry.metrics(), 'noburn_run_spend_usd')).toEqual([]);
    state.fail = false;
    const text = await registry.metrics();
    expect(reads.projects).toBe(2);
    expect(series(text, 'noburn_run_spend_usd')).toHaveLength(1);
    expect(series(text, 'noburn_run_cap_usd')).toEqual([]);
    expect(series(text, 'noburn_run_used_ratio')).toEqual([]);
  });

  it('used ratio: spend over cap; a cap of 0 is used up (1); no cap, none', () => {
    expect(usedRatio(0.5, 2)).toBe(0.25);
    expect(usedRatio(0, 0)).toBe(1);
    expect(usedRatio(1, null)).toBeNull();
  });
});
