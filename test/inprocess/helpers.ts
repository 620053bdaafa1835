/** One in-process test world: a ledger home with fixed prices, a guard on it, the fake upstream. */
import { expect } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { startFakeUpstream, type FakeUpstream, type ServedCall } from '../fixtures/fake-upstream.js';
import { costNano, makeHome, PRICES, toNano, type TestPrice } from '../proxy/helpers.js';

export interface World {
  guard: NoburnGuard;
  upstream: FakeUpstream;
  home: string;
  close(): Promise<void>;
}

export async function makeWorld(prices: Record<string, TestPrice> = PRICES): Promise<World> {
  const home = makeHome(prices);
  const upstream = await startFakeUpstream();
  const guard = new NoburnGuard({ home: home.home, env: {} });
  return {
    guard,
    upstream,
    home: home.home,
    async close() {
      await guard.close();
      await upstream.close();
      home.cleanup();
    },
  };
}

/** What the upstream's reported usage costs at the test prices, nano-dollars (calls from index `from` on). */
export function servedNano(calls: ServedCall[], from = 0, prices: Record<string, TestPrice> = PRICES): number {
  return calls.slice(from).reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage, prices) : 0), 0);
}

/** An end user's spend in the ledger, nano-dollars, with their calls. */
export async function userSpend(guard: NoburnGuard, user: string): Promise<{ nano: number; calls: number }> {
  await guard.flush();
  const s = await guard.spend({ by: 'user' });
  const row = s.rows.find((r) => r.key === user);
  return { nano: toNano(row?.spendUsd ?? 0), calls: row?.calls ?? 0 };
}

/** Held USD under the user's cap (the budget must exist). */
export async function userHeld(guard: NoburnGuard, user: string): Promise<number> {
  const b = (await guard.getBudgets()).find((x) => x.scope === 'user' && x.userId === user);
  expect(b, `no budget for ${user}`).toBeDefined();
  return b!.heldUsd;
}

/** Waits until a condition holds: records of a stream land after its body ends, in the background. */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
