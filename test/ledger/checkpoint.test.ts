/**
 * serve checkpoints the WAL on a timer (between requests, off the event loop) instead of
 * inside a commit. The WAL must still be recycled: after a timed checkpoint the next writer
 * starts the WAL from the beginning, so bursts separated by a checkpoint do not grow the
 * file. The checkpoints are asked for through the store's seam (checkpointNow) with a
 * timer period far longer than the test, so nothing depends on real timing.
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
/** The timer never fires during a test: every checkpoint is the one the test asks for. */
const NEVER_MS = 3_600_000;

function tempStore(opts: SqliteStoreOptions): { store: SqliteStore; wal: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'nb-ckpt-'));
  dirs.push(dir);
  return { store: new SqliteStore(join(dir, 'l.db'), opts), wal: () => statSync(join(dir, 'l.db-wal')).size };
}

async function walAfterBursts(opts: SqliteStoreOptions, between: (s: SqliteStore) => Promise<void>, setup: (s: SqliteStore) => void = () => {}): Promise<number[]> {
  const { store, wal } = tempStore(opts);
  setup(store);
  const sizes: number[] = [];
  let n = 0;
  try {
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 150; i++) await store.record([rec(n++)]); // one commit each
      sizes.push(wal());
      await between(store);
    }
  } finally {
    await store.close();
  }
  return sizes;
}

it('timed checkpoints recycle the WAL between bursts', async () => {
  const timed = await walAfterBursts({ checkpointEveryMs: NEVER_MS }, (s) => s.checkpointNow());
  expect(timed[2]).toBeLessThanOrEqual((timed[0] ?? 0) * 1.2);
});

it('control: with the same high automatic threshold and no checkpoint, the WAL keeps growing', async () => {
  const sizes = await walAfterBursts({ checkpointEveryMs: NEVER_MS }, () => Promise.resolve());
  expect(sizes[2]).toBeGreaterThan((sizes[0] ?? 0) * 2);
});

it('the timed checkpoint runs off the event loop: it completes while the main thread is blocked', async () => {
  const { store, wal } = tempStore({ checkpointEveryMs: NEVER_MS });
  try {
    let n = 0;
    for (let i = 0; i < 150; i++) await store.record([rec(n++)]);
    const first = wal();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const done = store.checkpointNow(flag);
    // This thread blocks until the checkpoint says it is done: 'ok' only if it ran elsewhere
    // (on this thread it would have finished before the wait: 'not-equal'). The bound only
    // keeps a broken worker from hanging the test.
    expect(Atomics.wait(flag, 0, 0, 20_000)).toBe('ok');
    await done;
    for (let i = 0; i < 150; i++) await store.record([rec(n++)]);
    // Checkpointed during the block: the second burst restarted the WAL instead of appending.
    expect(wal()).toBeLessThanOrEqual(first * 1.2);
  } finally {
    await store.close();
  }
}, 30_000);
