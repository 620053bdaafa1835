/**
 * contract §3/§7: N concurrent checks of $e against a cap C approve exactly floor(C/e),
 * whatever the concurrency, across processes. Eight real OS processes share one ledger
 * file; a config price override makes the estimate an exact, known figure.
 */
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as Lib from '../../src/lib/index.js';
import { runCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { hammer } from '../helpers/workers.js';
import type { WorkerResult } from '../helpers/workers.js';

const WORKERS = 8;
const MODEL = 'm1';
const PRICE = { inputPerMTok: 1, outputPerMTok: 2 }; // USD per million tokens

const dist = useDist();
let lib: typeof Lib;

beforeAll(async () => {
  lib = (await import(pathToFileURL(dist.index).href)) as typeof Lib;
});

function newHome(): string {
  const home = tempHome('noburn-conc-');
  writeConfig(home, { prices: { [MODEL]: PRICE } });
  return home;
}

/** The estimate in nano-dollars, from the configured price (USD/MTok = 1000 nano/token). */
function estimateNano(tokensIn: number, tokensOut: number): number {
  return tokensIn * lib.usdToNano(PRICE.inputPerMTok) / 1e6 + tokensOut * lib.usdToNano(PRICE.outputPerMTok) / 1e6;
}

interface Totals {
  approved: number;
  blocked: number;
  reasons: Record<string, number>;
  reservations: string[];
  estimates: Set<number>;
  sources: Set<string>;
}

function totals(rs: WorkerResult[]): Totals {
  const t: Totals = { approved: 0, blocked: 0, reasons: {}, reservations: [], estimates: new Set(), sources: new Set() };
  for (const r of rs) {
    t.approved += r.approved;
    t.blocked += r.blocked;
    t.reservations.push(...r.reservations);
    r.estimates.forEach((e) => t.estimates.add(e));
    r.sources.forEach((s) => t.sources.add(s));
    for (const [k, v] of Object.entries(r.reasons)) t.reasons[k] = (t.reasons[k] ?? 0) + v;
  }
  return t;
}

/** Enough attempts that the cap is certainly reached, and well past it. */
function attemptsFor(expected: number): number {
  return Math.ceil((expected * 1.5) / WORKERS) + 2;
}

function assertExact(t: Totals, expected: number, e: number, reason: string, attempts: number): void {
  // Every worker priced the call the same way, at the figure derived from the config.
  expect([...t.estimates].map((u) => lib.usdToNano(u))).toEqual([e]);
  expect([...t.sources]).toEqual(['ledger']);
  expect(t.approved).toBe(expected);
  expect(t.blocked).toBe(WORKERS * attempts - expected);
  expect(t.reasons).toEqual({ [reason]: WORKERS * attempts - expected });
  expect(new Set(t.reservations).size).toBe(expected);
}

describe('no overshoot across 8 processes on one ledger file', () => {
  const projectRounds = [
    { tokensIn: 1000, tokensOut: 500, cap: '0.0617', period: 'day' },
    { tokensIn: 333, tokensOut: 111, cap: '0.02', period: 'month' },
    { tokensIn: 7, tokensOut: 3, cap: '0.001', period: 'total' },
  ] as const;

  it.each(projectRounds)('project cap $cap, estimate of $tokensIn in + $tokensOut out', async ({ tokensIn, tokensOut, cap, period }) => {
    const home = newHome();
    const e = estimateNano(tokensIn, tokensOut);
    const capNano = lib.usdToNano(cap);
    const expected = Math.floor(capNano / e);
    expect(expected).toBeGreaterThan(WORKERS); // the race is real: more approvals than workers
    expect(capNano % e).not.toBe(0); // a remainder smaller than one estimate must not be approved

    const g = new lib.NoburnGuard({ home });
    await g.setBudget({ scope: 'project', capUsd: Number(cap), period });
    const attempts = attemptsFor(expected);
    const t = totals(await hammer(dist.index, home, WORKERS, { model: MODEL, tokensIn, tokensOut, attempts }));
    assertExact(t, expected, e, 'project_budget_exceeded', attempts);

    const [b] = await g.getBudgets();
    expect(lib.usdToNano(b?.heldUsd ?? -1)).toBe(expected * e);
    expect(expected * e).toBeLessThanOrEqual(capNano);
    await g.close();
  });

  it('per-user cap (explicit) and the default-user cap', async () => {
    const home = newHome();
    const g = new lib.NoburnGuard({ home });
    const e = estimateNano(100, 50);
    await g.setBudget({ scope: 'user', userId: 'alice', capUsd: 0.0049, period: 'week' });
    await g.setBudget({ scope: 'default_user', capUsd: 0.0031, period: 'day' });

    const alice = Math.floor(lib.usdToNano('0.0049') / e);
    const a1 = attemptsFor(alice);
    assertExact(totals(await hammer(dist.index, home, WORKERS, { model: MODEL, tokensIn: 100, tokensOut: 50, attempts: a1, endUserId: 'alice' })), alice, e, 'user_budget_exceeded', a1);

    // bob has no cap of his own: the default-user cap applies to him, separately from alice.
    const bob = Math.floor(lib.usdToNano('0.0031') / e);
    const a2 = attemptsFor(bob);
    assertExact(totals(await hammer(dist.index, home, WORKERS, { model: MODEL, tokensIn: 100, tokensOut: 50, attempts: a2, endUserId: 'bob' })), bob, e, 'user_budget_exceeded', a2);
    await g.close();
  });

  it('run cap, under a looser project cap', async () => {
    const home = newHome();
    const g = new lib.NoburnGuard({ home });
    const e = estimateNano(250, 125);
    await g.setBudget({ scope: 'project', capUsd: 1, period: 'total' });
    const run = await g.startRun({ budgetCapUsd: 0.0123, label: 'conc' });
    const expected = Math.floor(lib.usdToNano('0.0123') / e);
    const attempts = attemptsFor(expected);
    const t = totals(await hammer(dist.index, home, WORKERS, { model: MODEL, tokensIn: 250, tokensOut: 125, attempts, runId: run.runId }));
    assertExact(t, expected, e, 'run_budget_exceeded', attempts);

    const info = await g.getRun(run.runId);
    expect(lib.usdToNano(info.heldUsd)).toBe(expected * e);
    expect(info.blockedCalls).toBe(WORKERS * attempts - expected);
    expect(info.exhausted).toBe(true);
    await g.close();
  });

  it('concurrent `noburn check` processes (the CLI) approve exactly floor(cap/estimate)', async () => {
    const home = newHome();
    const e = estimateNano(1000, 1000);
    const set = await runCli(dist.cli, ['budget', 'set', '--project', '0.0159', '--period', 'day'], { home });
    expect(set.code).toBe(0);
    const expected = Math.floor(lib.usdToNano('0.0159') / e);
    const n = 12;
    const rs = await Promise.all(
      Array.from({ length: n }, () => runCli(dist.cli, ['check', '--model', MODEL, '--tokens-in', '1000', '--tokens-out', '1000'], { home })),
    );
    const ok = rs.filter((r) => r.code === 0);
    expect(ok.length).toBe(expected);
    expect(rs.filter((r) => r.code === 1).length).toBe(n - expected);
    expect(new Set(ok.map((r) => r.stdout.trim())).size).toBe(expected);
    for (const r of rs.filter((x) => x.code === 1)) expect(r.stderr).toContain('project_budget_exceeded');
  });
});
