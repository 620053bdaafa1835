/**
 * The SQLite side of serve's check path: a group-committed batch sweeps expired holds once
 * per distinct time (decideBatch) and decides exactly as one check at a time would; a
 * long-lived server's ledger connection keeps a bounded page cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVE_CACHE_KIB, openStore } from '../../src/lib/ledger/open-store.js';
import { decideBatch } from '../../src/lib/ledger/sqlite/decide.js';
import { prepareStatements } from '../../src/lib/ledger/sqlite/statements.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreCheck } from '../../src/lib/ledger/store.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_764_650_000_000;
const check = (now: number, holdTtlMs = 600_000): StoreCheck => ({
  projectId: 'p', userId: 'u', runId: null, model: 'm', estimateNano: 1000, tokensIn: 1, tokensOut: 1, unpriced: false, now, holdTtlMs,
});

async function cappedStore(capNano: number): Promise<SqliteStore> {
  dir = mkdtempSync(join(tmpdir(), 'noburn-batch-'));
  const store = new SqliteStore(join(dir, 'noburn.db'));
  await store.setBudget({ projectId: 'p', scope: 'project', userId: null, capNano, period: 'month', now: T0 });
  return store;
}

describe('decideBatch', () => {
  // Rule: within one transaction the expired holds are swept once per distinct `now`.
  it('sweeps once per distinct time, not once per check', async () => {
    const store = await cappedStore(1_000_000);
    try {
      const real = prepareStatements(store.db);
      let sweeps = 0;
      // The statements with a counting sweep (the object itself is frozen).
      const st = Object.create(real, { sweepHolds: { value: { run: (...a: unknown[]) => (sweeps++, real.sweepHolds.run(...a)) } } }) as typeof real;
      store.db.transaction(() => decideBatch(st, [check(T0), check(T0), check(T0), check(T0 + 1), check(T0 + 1), check(T0)])).immediate();
      // T0, then T0+1; the last check (T0, earlier than the last sweep) needs none.
      expect(sweeps).toBe(2);
    } finally {
      await store.close();
    }
  });

  // Rule: a hold taken in the batch that has expired by a later check's time (TTL 0) is
  // swept before that check, as deciding them one at a time would.
  it('sweeps again when a hold of the batch has already expired (hold TTL 0)', async () => {
    const store = await cappedStore(1500);
    try {
      const [a, b] = await store.checkBatch([check(T0, 0), check(T0, 0)]);
      expect(a?.blocked).toBe(false);
      // The first hold expired at T0: it no longer counts against the 1500 cap.
      expect(b?.blocked).toBe(false);
      expect(b?.remainingNano.project).toBe(500);
    } finally {
      await store.close();
    }
  });

  it('decides a batch as one check at a time does (holds of earlier checks count, expired ones do not)', async () => {
    const one = await cappedStore(10_000);
    const seq = [check(T0, 5), check(T0, 5), check(T0 + 3), check(T0 + 5), check(T0 + 5), check(T0 + 9), check(T0 + 9, 0), check(T0 + 9)];
    const want = [];
    try {
      for (const c of seq) want.push(await one.check(c));
    } finally {
      await one.close();
    }
    rmSync(dir, { recursive: true, force: true });
    const batch = await cappedStore(10_000);
    try {
      const got = await batch.checkBatch(seq);
      const view = (d: (typeof got)[number]) => ({ blocked: d.blocked, remaining: d.remainingNano });
      expect(got.map(view)).toEqual(want.map(view));
    } finally {
      await batch.close();
    }
  });
});

describe('a long-lived server store', () => {
  // Rule: serve's ledger connection keeps SQLite's page cache at SERVE_CACHE_KIB, not the
  // driver's 16 MiB (a long-lived server's memory stays bounded; docs/performance.md).
  it('opens its SQLite ledger with the bounded page cache; a one-shot command keeps the default', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-cache-'));
    const served = (await openStore(join(dir, 'served.db'), { longLived: true })) as SqliteStore;
    const once = (await openStore(join(dir, 'once.db'))) as SqliteStore;
    try {
      expect(served.db.pragma('cache_size', { simple: true })).toBe(-SERVE_CACHE_KIB);
      expect(once.db.pragma('cache_size', { simple: true })).not.toBe(-SERVE_CACHE_KIB);
    } finally {
      await served.close();
      await once.close();
    }
  });
});
