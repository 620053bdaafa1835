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
import type { StoreCheck, StoreRecord } from '../../src/lib/ledger/store.js';

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

  // Rule: a batch reads each budgets row once (no decision writes a cap), and a cap set
  // after a batch applies to the next one.
  it('reads the caps once per batch, and the next batch sees a cap set in between', async () => {
    const store = await cappedStore(1_000_000);
    try {
      const real = prepareStatements(store.db);
      let reads = 0;
      const st = Object.create(real, { getBudget: { value: { get: (...a: unknown[]) => (reads++, real.getBudget.get(...a)) } } }) as typeof real;
      const six = [check(T0), check(T0), check(T0 + 1), check(T0 + 2), { ...check(T0 + 2), userId: 'w' }, check(T0 + 3)];
      const out = store.db.transaction(() => decideBatch(st, six)).immediate();
      expect(out.every((d) => !d.blocked)).toBe(true);
      // project, then user u's own and the default-user cap, then user w's own (its default is known).
      expect(reads).toBe(4);
      await store.setBudget({ projectId: 'p', scope: 'user', userId: 'u', capNano: 500, period: 'day', now: T0 });
      const [next] = await store.checkBatch([check(T0 + 4)]);
      expect(next?.blockReason).toBe('user_budget_exceeded');
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

describe('a batch of records', () => {
  const rec = (i: number, ts: number, userId: string | null, tags: string[] = []): StoreRecord => ({
    projectId: 'p', userId, runId: null, model: i % 2 ? 'm' : 'n', tokensIn: 10 + i, tokensOut: 5 + i, cachedTokensIn: 0, cacheWriteTokensIn: 0,
    costNano: 1000 + i, unpriced: i % 5 === 0, wasBlocked: i % 7 === 0, reservationId: null, idempotencyKey: `k${i % 11}`, ts, tags,
  });
  // Rule: a batch's summary rows are summed before they are written (UsageBatch), and read as
  // if each record had been written alone: every period's row, across minute, hour and day ends.
  it('writes the same usage rows as the same records one at a time', async () => {
    const edge = Date.UTC(2026, 11, 31, 23, 59, 59, 990);
    const times = [edge - 120_000, edge - 5, edge, edge + 5, edge + 10, edge + 61_000, edge + 3_600_000, edge, edge + 20];
    const rs = times.flatMap((ts, i) => [rec(i, ts, i % 3 ? 'u' : null, i % 4 ? [] : ['t']), rec(i + 20, ts, 'v')]);
    const rows = async (batched: boolean) => {
      const store = await cappedStore(1_000_000_000);
      try {
        if (batched) await store.record(rs);
        else for (const r of rs) await store.record([r]);
        return store.db.prepare('SELECT * FROM usage ORDER BY project_id, scope, subject, window').all();
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const one = await rows(false);
    const batch = await rows(true);
    expect(batch).toEqual(one);
    // The rows do span the windows the batch crosses (two minutes and three hours at least).
    const windows = new Set((one as { window: string }[]).map((r) => r.window));
    expect([...windows].filter((w) => w.startsWith('n')).length).toBeGreaterThanOrEqual(4);
    expect([...windows].filter((w) => w.startsWith('d')).length).toBe(2);
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
