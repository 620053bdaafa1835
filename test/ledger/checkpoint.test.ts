/**
 * serve checkpoints the WAL on a timer (between requests) instead of inside a commit. The
 * WAL must still be recycled: after a timed checkpoint the next writer starts the WAL from
 * the beginning, so bursts separated by a checkpoint do not grow the file.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreRecord } from '../../src/lib/ledger/store.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const rec = (i: number): StoreRecord => ({
  projectId: 'p', userId: `u${i % 7}`, runId: null, model: 'm', tokensIn: 10, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0,
  costNano: 1, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: `k${i}`, ts: Date.UTC(2026, 10, 28),
});
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function walAfterBursts(opts: { checkpointEveryMs?: number }, setup: (s: SqliteStore) => void = () => {}): Promise<number[]> {
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
      await sleep(150);
    }
  } finally {
    await store.close();
  }
  return sizes;
}

it('timed checkpoints recycle the WAL between bursts', async () => {
  const timed = await walAfterBursts({ checkpointEveryMs: 40 });
  expect(timed[2]).toBeLessThanOrEqual((timed[0] ?? 0) * 1.2);
}, 30_000);

it('control: with the same high automatic threshold and no timer, the WAL keeps growing', async () => {
  const sizes = await walAfterBursts({}, (s) => s.db.pragma('wal_autocheckpoint = 20000'));
  expect(sizes[2]).toBeGreaterThan((sizes[0] ?? 0) * 2);
}, 30_000);

it('the timed checkpoint runs off the event loop: it happens while the main thread is busy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nb-ckpt-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'l.db'), { checkpointEveryMs: 40 });
  const wal = () => statSync(join(dir, 'l.db-wal')).size;
  try {
    let n = 0;
    for (let i = 0; i < 150; i++) await store.record([rec(n++)]);
    const first = wal();
    // Blocks this thread (no timer of its own can fire) for several checkpoint periods.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
    for (let i = 0; i < 150; i++) await store.record([rec(n++)]);
    // Checkpointed during the block: the second burst restarted the WAL instead of appending.
    expect(wal()).toBeLessThanOrEqual(first * 1.2);
  } finally {
    await store.close();
  }
}, 30_000);
