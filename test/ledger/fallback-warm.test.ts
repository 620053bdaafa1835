/**
 * A long-lived guard's warm-up opens its fallback pricing too: every record of a run the
 * guard tracks is priced by it (so that the run cap holds in an outage that starts any
 * moment), and its first use opens a second connection to the ledger file. After
 * warmUp(), a tracked run's first check and record open no connection on the call's path;
 * without the warm-up the record does (the control). Connections are counted as this
 * process's open descriptors of the ledger file (/proc/self/fd). The warm-up's lookup in the
 * price data (whose first lookup runs cold code) keeps nothing: no price is cached by it.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { makeHome } from '../proxy/helpers.js';

const homes: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});

/** How many descriptors of this process are open on `path`. */
function openOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while listed
    }
  }
  return n;
}

async function firstCall(warm: boolean): Promise<{ before: number; after: number }> {
  const home = makeHome();
  homes.push(home);
  const guard = new NoburnGuard({ home: home.home, env: {}, longLived: true });
  const db = join(home.home, 'noburn.db');
  try {
    const { runId } = await guard.startRun({ budgetCapUsd: 1 });
    if (warm) await guard.warmUp(runId);
    const before = openOn(db);
    const d = await guard.check({ model: 'gpt-4o-mini', estimatedTokensIn: 20, estimatedTokensOut: 10, runId });
    expect(d.blocked).toBe(false);
    guard.record({ model: 'gpt-4o-mini', tokensIn: 20, tokensOut: 10, runId, reservationId: d.reservationId ?? undefined });
    await guard.flush();
    return { before, after: openOn(db) };
  } finally {
    await guard.close();
  }
}

it('after warmUp, the first check and record of a tracked run open no connection to the ledger file', async () => {
  const { before, after } = await firstCall(true);
  expect(before).toBeGreaterThan(0);
  expect(after).toBe(before);
});

it('control: without the warm-up, the first record of a tracked run opens the fallback pricing\'s connection', async () => {
  const { before, after } = await firstCall(false);
  expect(after).toBeGreaterThan(before);
});

it('the warm-up caches no price: its price-data lookup keeps nothing', async () => {
  const home = makeHome({});
  homes.push(home);
  const guard = new NoburnGuard({ home: home.home, env: {}, longLived: true });
  try {
    const { runId } = await guard.startRun({ budgetCapUsd: 1 });
    await guard.warmUp(runId);
    const db = new Database(join(home.home, 'noburn.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT model FROM prices').all()).toEqual([]);
    } finally {
      db.close();
    }
    // A real check of the model the warm-up looked up does cache its price (the table is the cache).
    expect((await guard.check({ model: 'gpt-4o-mini', estimatedTokensIn: 20, estimatedTokensOut: 10, runId })).blocked).toBe(false);
    const after = new Database(join(home.home, 'noburn.db'), { readonly: true });
    try {
      expect(after.prepare('SELECT model FROM prices').all()).toEqual([{ model: 'gpt-4o-mini' }]);
    } finally {
      after.close();
    }
  } finally {
    await guard.close();
  }
});
