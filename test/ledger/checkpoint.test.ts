/**
 * serve checkpoints the WAL on a timer (between requests, off the event loop) instead of
 * inside a commit. The WAL must still be recycled: after a timed checkpoint the next writer
 * starts the WAL from the beginning, so bursts separated by a checkpoint do not grow the
 * file. The checkpoints are asked for through the store's seam (checkpointNow) with a
 * timer period far longer than the test, so nothing depends on real timing.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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

function tempStore(opts: SqliteStoreOptions): { store: SqliteStore; wal: () => number; salt: () => string } {
  const dir = mkdtempSync(join(tmpdir(), 'nb-ckpt-'));
  dirs.push(dir);
  const walPath = join(dir, 'l.db-wal');
  // The WAL header's salts (bytes 16-23) are new each time the WAL is restarted from the beginning.
  return { store: new SqliteStore(join(dir, 'l.db'), opts), wal: () => statSync(walPath).size, salt: () => readFileSync(walPath).subarray(16, 24).toString('hex') };
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

/**
 * primeWal (noburn run's store, docs/performance.md "The first proxied call of a run"): the
 * WAL restart after a checkpoint, whose header fsync used to land on the first commit
 * after it, is made by the checkpoint's worker; the main connection's next commit appends.
 */
async function saltsAroundCheckpoint(primeWal: boolean): Promise<{ beforeCkpt: string; afterCkpt: string; afterCommit: string; userVersion: [number, number]; rows: number }> {
  const { store, salt } = tempStore({ checkpointEveryMs: NEVER_MS, primeWal });
  try {
    let n = 0;
    const version = (): number => store.db.pragma('user_version', { simple: true }) as number;
    const before = version();
    for (let i = 0; i < 20; i++) await store.record([rec(n++)]);
    const beforeCkpt = salt();
    await store.checkpointNow();
    const afterCkpt = salt();
    await store.record([rec(n++)]);
    const afterCommit = salt();
    const rows = (store.db.prepare('SELECT count(*) AS c FROM records').get() as { c: number }).c;
    return { beforeCkpt, afterCkpt, afterCommit, userVersion: [before, version()], rows };
  } finally {
    await store.close();
  }
}

it('primeWal: the worker restarts the WAL after its checkpoint, so the next commit appends; nothing is changed', async () => {
  const s = await saltsAroundCheckpoint(true);
  expect(s.afterCkpt).not.toBe(s.beforeCkpt);
  expect(s.afterCommit).toBe(s.afterCkpt);
  expect(s.userVersion[1]).toBe(s.userVersion[0]);
  expect(s.rows).toBe(21);
});

it('control: without primeWal the first commit after the checkpoint is the one that restarts the WAL', async () => {
  const s = await saltsAroundCheckpoint(false);
  expect(s.afterCkpt).toBe(s.beforeCkpt);
  expect(s.afterCommit).not.toBe(s.afterCkpt);
});

it('primeWal: a tick with no commit since the last one does nothing (the primed WAL is not primed again while idle)', async () => {
  const { store, salt } = tempStore({ checkpointEveryMs: NEVER_MS, primeWal: true });
  try {
    for (let i = 0; i < 5; i++) await store.record([rec(i)]);
    await store.checkpointNow();
    const primed = salt();
    await store.checkpointNow();
    await store.checkpointNow();
    expect(salt()).toBe(primed);
    // And the main connection's next commit still appends to the primed WAL.
    await store.record([rec(99)]);
    expect(salt()).toBe(primed);
  } finally {
    await store.close();
  }
});

it('primeWal: timed checkpoints still recycle the WAL between bursts', async () => {
  const timed = await walAfterBursts({ checkpointEveryMs: NEVER_MS, primeWal: true }, (s) => s.checkpointNow());
  expect(timed[2]).toBeLessThanOrEqual((timed[0] ?? 0) * 1.2);
});
