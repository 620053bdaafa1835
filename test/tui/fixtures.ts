/** The fixed clock of the component tests: Saturday 2026-11-28 14:03:12 UTC. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreRecord } from '../../src/lib/ledger/store.js';
import type { DashboardSnapshot } from '../../src/lib/dashboard/snapshot.js';
import { emptySnapshot } from '../../src/lib/dashboard/reader.js';

export const NOW = Date.UTC(2026, 10, 28, 14, 3, 12);
export const USD = 1_000_000_000;
export const MIN = 60_000;

/** A snapshot with fixed figures for the pure components. */
export function fixedSnapshot(overrides: Partial<DashboardSnapshot> = {}): DashboardSnapshot {
  const base = emptySnapshot('default', '/home/op/.noburn/noburn.db', NOW, 'ok', null);
  const buckets = new Array<number>(30).fill(0);
  buckets[29] = 0.2 * USD;
  buckets[28] = 0.1 * USD;
  buckets[20] = 0.05 * USD;
  return {
    ...base,
    project: {
      capNano: 50 * USD,
      period: 'month',
      windowStart: Date.UTC(2026, 10, 1),
      windowEnd: Date.UTC(2026, 11, 1),
      spentNano: 12.5 * USD,
      heldNano: 0.25 * USD,
      calls: 1234,
      blockedCalls: 7,
      unpricedCalls: 2,
      lastAt: NOW - 5000,
    },
    burn: {
      ...base.burn,
      buckets,
      rateNanoPerMin: 0.07 * USD,
      exhaustion: { kind: 'at', atMs: NOW + (2 * 60 + 13) * MIN },
    },
    users: [
      { userId: 'alice', spentNano: 1.7 * USD, heldNano: 0, capNano: 2 * USD, period: 'day', capSource: 'user', calls: 40, blockedCalls: 1, unpricedCalls: 0, lastAt: NOW - 5000 },
      { userId: 'bob', spentNano: 0.25 * USD, heldNano: 0, capNano: 5 * USD, period: 'day', capSource: 'default', calls: 3, blockedCalls: 0, unpricedCalls: 0, lastAt: NOW - 2 * MIN },
      { userId: 'carol', spentNano: 3.1 * USD, heldNano: 0, capNano: 5 * USD, period: 'day', capSource: 'default', calls: 12, blockedCalls: 0, unpricedCalls: 0, lastAt: NOW - 3 * 3_600_000 },
      { userId: 'dave', spentNano: 5.5 * USD, heldNano: 0, capNano: 5 * USD, period: 'day', capSource: 'default', calls: 60, blockedCalls: 9, unpricedCalls: 0, lastAt: NOW - 40 * MIN },
      { userId: 'erin', spentNano: 123_000, heldNano: 0, capNano: null, period: null, capSource: null, calls: 1, blockedCalls: 0, unpricedCalls: 1, lastAt: NOW - 2 * 86_400_000 },
    ],
    runs: [
      { runId: 'run_nightly', label: 'nightly eval', open: true, exhausted: false, status: 'open', capNano: 1 * USD, spentNano: 0.25 * USD, heldNano: 0, calls: 10, blockedCalls: 0, unpricedCalls: 0, startedAt: NOW - 10 * MIN, endedAt: null, lastAt: NOW - MIN },
      { runId: 'run_agent7', label: null, open: false, exhausted: true, status: 'exhausted', capNano: 0.5 * USD, spentNano: 0.49 * USD, heldNano: 0, calls: 31, blockedCalls: 2, unpricedCalls: 0, startedAt: NOW - 3 * 3_600_000, endedAt: NOW - 2 * 3_600_000 - 15 * MIN, lastAt: null },
      { runId: 'run_old', label: null, open: false, exhausted: false, status: 'ended', capNano: null, spentNano: 2 * USD, heldNano: 0, calls: 5, blockedCalls: 0, unpricedCalls: 0, startedAt: NOW - 2 * 86_400_000, endedAt: NOW - 2 * 86_400_000 + 90_000, lastAt: null },
    ],
    runsTotal: 3,
    runsOpen: 1,
    blocked: [
      { seq: 9, ts: NOW - 7000, kind: 'check', userId: 'dave', runId: null, model: 'gpt-4o', amountNano: 0.02 * USD, reason: 'user_budget_exceeded' },
      { seq: 8, ts: NOW - 60_000, kind: 'check', userId: null, runId: 'run_agent7', model: 'gpt-4o-mini', amountNano: 0.011 * USD, reason: 'run_budget_exceeded' },
    ],
    unpricedTotal: 3,
    models: [
      { model: 'gpt-4o', spentNano: 9 * USD, calls: 900, blockedCalls: 5, unpricedCalls: 0, lastAt: NOW - 5000 },
      { model: 'gpt-4o-mini', spentNano: 3 * USD, calls: 300, blockedCalls: 2, unpricedCalls: 0, lastAt: NOW - 60_000 },
      { model: 'claude-3-5-haiku', spentNano: 0.5 * USD, calls: 34, blockedCalls: 0, unpricedCalls: 2, lastAt: NOW - 3 * 3_600_000 },
    ],
    modelsTotal: 3,
    ...overrides,
  };
}

/** A temporary ledger written through the real store, closed and removed by dispose(). */
export interface TempLedger {
  home: string;
  dbPath: string;
  store: SqliteStore;
  record(r: Partial<StoreRecord> & { costNano: number; ts: number }): Promise<void>;
  dispose(): Promise<void>;
}

let seq = 0;

export function tempLedger(): TempLedger {
  const home = mkdtempSync(join(tmpdir(), 'noburn-tui-'));
  const dbPath = join(home, 'noburn.db');
  const store = new SqliteStore(dbPath);
  return {
    home,
    dbPath,
    store,
    async record(r) {
      await store.record([
        {
          projectId: 'default',
          userId: null,
          runId: null,
          model: 'gpt-4o',
          tokensIn: 100,
          tokensOut: 10,
          cachedTokensIn: 0,
          cacheWriteTokensIn: 0,
          unpriced: false,
          wasBlocked: false,
          reservationId: null,
          idempotencyKey: `k${++seq}`,
          ...r,
        },
      ]);
    },
    async dispose() {
      await store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
