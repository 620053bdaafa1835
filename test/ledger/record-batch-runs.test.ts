/**
 * A batch of records settles in one transaction with a run's totals summed per run: the
 * run and its ancestors are updated once per batch, and end up exactly as recording the
 * same records one at a time leaves them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { settle, UsageBatch } from '../../src/lib/ledger/sqlite/decide.js';
import { prepareStatements } from '../../src/lib/ledger/sqlite/statements.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreRecord } from '../../src/lib/ledger/store.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_764_650_000_000;
const RUNS = [
  { runId: 'root', parentRunId: null },
  { runId: 'child', parentRunId: 'root' },
  { runId: 'other', parentRunId: null },
];

function records(): StoreRecord[] {
  const shapes: [string | null, number, boolean, boolean, number][] = [
    // run, cost, blocked, unpriced, ts offset (not in order)
    ['child', 700, false, false, 30],
    ['root', 1100, false, false, 10],
    ['child', 0, true, false, 50],
    [null, 400, false, false, 5],
    ['other', 0, false, true, 70],
    ['child', 900, false, false, 20],
    ['other', 300, false, false, 60],
    ['root', 0, true, false, 40],
  ];
  return shapes.map(([runId, costNano, wasBlocked, unpriced, dt], i) => ({
    projectId: 'p', userId: 'u', runId, model: 'm', tokensIn: 10 + i, tokensOut: 5 + i, cachedTokensIn: 0, cacheWriteTokensIn: 0,
    costNano, unpriced, wasBlocked, reservationId: null, idempotencyKey: `k${i}`, ts: T0 + dt,
  }));
}

async function storeWithRuns(name: string): Promise<SqliteStore> {
  const store = new SqliteStore(join(dir, `${name}.db`));
  for (const r of RUNS) await store.startRun({ projectId: 'p', runId: r.runId, parentRunId: r.parentRunId, capNano: null, label: null, now: T0 });
  return store;
}

const runRows = (store: SqliteStore) => store.db.prepare('SELECT id, spent_nano, calls, blocked_calls, unpriced_calls, last_at FROM runs ORDER BY id').all();

describe('records of runs in one batch', () => {
  it('leave every run and its ancestors as recording them one at a time does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-runbatch-'));
    const one = await storeWithRuns('one');
    const batch = await storeWithRuns('batch');
    try {
      for (const r of records()) await one.record([r]);
      expect((await batch.record(records())).accepted).toBe(8);
      expect(runRows(batch)).toEqual(runRows(one));
      // And the figures themselves: the child's calls count on the root too.
      const root = (await batch.getRun('p', 'root', T0 + 100)) as { spentNano: number; calls: number; blockedCalls: number };
      expect([root.spentNano, root.calls, root.blockedCalls]).toEqual([1100 + 700 + 900, 3, 2]);
    } finally {
      await one.close();
      await batch.close();
    }
  });

  it("update each run's chain once per batch, not once per record", async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-runbatch-'));
    const store = await storeWithRuns('count');
    try {
      const real = prepareStatements(store.db);
      let updates = 0;
      const st = Object.create(real, { runRecord: { value: { run: (...a: unknown[]) => (updates++, real.runRecord.run(...a)) } } }) as typeof real;
      store.db.transaction(() => {
        const usage = new UsageBatch();
        for (const r of records()) settle(st, r, usage);
        usage.write(st);
      }).immediate();
      // Three runs among the eight records.
      expect(updates).toBe(3);
    } finally {
      await store.close();
    }
  });
});
