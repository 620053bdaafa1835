/**
 * The fallback cap (budgetCapUsd) holds the estimate of every call it approves until that
 * call is recorded: concurrent fallback checks can never approve past it.
 */
import { rmSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { clientHome } from './helpers.js';

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

// Port 9 (discard) is closed on 127.0.0.1: every request fails at once.
const DOWN = 'http://127.0.0.1:9';
// 1,000 input tokens at $1/M = exactly $0.001 per check.
const prices = { m: { inputPerMTok: 1, outputPerMTok: 1 } };
const call = { model: 'm', estimatedTokensIn: 1000, estimatedTokensOut: 0 };

function guard(cap: number): NoburnGuard {
  const home = clientHome();
  homes.push(home);
  return new NoburnGuard({ home, url: DOWN, apiKey: 'nb_x.y', budgetCapUsd: cap, prices, timeoutMs: 300, env: {} });
}

it('20 concurrent checks of $0.001 against a $0.005 fallback cap approve exactly 5', async () => {
  const g = guard(0.005);
  try {
    const ds = await Promise.all(Array.from({ length: 20 }, () => g.check(call)));
    expect(ds.every((d) => d.source === 'fallback')).toBe(true);
    const approved = ds.filter((d) => !d.blocked);
    expect(approved).toHaveLength(5);
    expect(ds.filter((d) => d.blocked).every((d) => d.blockReason === 'local_budget_exceeded')).toBe(true);
    // Each approval carries its own local hold id.
    expect(new Set(approved.map((d) => d.reservationId)).size).toBe(5);
  } finally {
    await g.close();
  }
});

it('a record settles its hold at the real cost; a blocked record frees it', async () => {
  const g = guard(0.005);
  try {
    const ds = await Promise.all(Array.from({ length: 5 }, () => g.check(call)));
    expect(ds.every((d) => !d.blocked)).toBe(true);
    expect((await g.check(call)).blocked).toBe(true);
    // One call cost less than held ($0.0005), one was not made: $0.0015 of room comes back.
    g.record({ model: 'm', tokensIn: 500, tokensOut: 0, costUsd: 0.0005, reservationId: ds[0]!.reservationId });
    g.record({ model: 'm', tokensIn: 0, tokensOut: 0, wasBlocked: true, reservationId: ds[1]!.reservationId });
    expect((await g.check(call)).blocked).toBe(false);
    const last = await g.check({ ...call, estimatedTokensIn: 501 });
    expect(last).toMatchObject({ blocked: true, blockReason: 'local_budget_exceeded' });
    expect((await g.check({ ...call, estimatedTokensIn: 500 })).blocked).toBe(false);
    expect((await g.check({ ...call, estimatedTokensIn: 1 })).blocked).toBe(true);
  } finally {
    await g.close();
  }
});

it('a hold that is never recorded stops counting after the hold TTL', async () => {
  let now = 1_000_000;
  const home = clientHome();
  homes.push(home);
  const g = new NoburnGuard({ home, url: DOWN, apiKey: 'nb_x.y', budgetCapUsd: 0.001, prices, timeoutMs: 300, holdTtlMs: 60_000, now: () => now, env: {} });
  try {
    expect((await g.check(call)).blocked).toBe(false);
    expect((await g.check(call)).blocked).toBe(true);
    now += 60_000;
    expect((await g.check(call)).blocked).toBe(false);
  } finally {
    await g.close();
  }
});
