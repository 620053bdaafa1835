/**
 * serve checkpoints the WAL on a timer (between requests) instead of inside a commit. The
 * WAL must still be recycled: after a timed checkpoint the next writer starts the WAL from
 * the beginning, so bursts separated by a checkpoint do not grow the file. The timer is
 * injected and ticked by hand between bursts, so nothing depends on real timing.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { SqliteStoreOptions } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreRecord } from '../../src/lib/ledger/store.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const rec = (i: number): StoreRecord => ({
  projectId: 'p', userId: `u${i % 7}`, runId: null, model: 'm', tokensIn: 10, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0,
  costNano: 1, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: `k${i}`, ts: Date.UTC(2026, 10, 28),
});

/** A timer that fires only when the test says so; remembers the period it was asked for and whether it was stopped. */
function manualTimer() {
  const t = { ticks: [] as (() => void)[], everyMs: [] as number[], stopped: 0 };
  const timer: NonNullable<SqliteStoreOptions['checkpointTimer']> = (tick, everyMs) => {
    t.ticks.push(tick);
    t.everyMs.push(everyMs);
    return () => void t.stopped++;
  };
  return { t, timer, tick: () => t.ticks.forEach((f) => f()) };
}

async function walAfterBursts(opts: SqliteStoreOptions, between: () => void, setup: (s: SqliteStore) => void = () => {}): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nb-ckpt-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'l.db'), opts);
  setup(store);
  const sizes: number[] = [];
  let n = 0;
  try {
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 150; i++) await store.record([rec(n++)]); // one commit each
      sizes.push(statSync(join(dir, 'l.db-wal')).size);
      between();
    }
  } finally {
    await store.close();
  }
  return sizes;
}

it('timed checkpoints recycle the WAL between bursts; the timer is stopped on close', async () => {
  const m = manualTimer();
  const timed = await walAfterBursts({ checkpointEveryMs: 40, checkpointTimer: m.timer }, m.tick);
  expect(m.t.everyMs).toEqual([40]);
  expect(m.t.stopped).toBe(1);
  expect(timed[2]).toBeLessThanOrEqual((timed[0] ?? 0) * 1.2);
});

it('control: with the same high automatic threshold and no timer, the WAL keeps growing', async () => {
  const sizes = await walAfterBursts({}, () => {}, (s) => s.db.pragma('wal_autocheckpoint = 20000'));
  expect(sizes[2]).toBeGreaterThan((sizes[0] ?? 0) * 2);
});

