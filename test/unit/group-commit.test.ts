/**
 * The ledger's group commit queue: one queue per project (a slow project's transaction
 * never holds up another project's), and on a store without commit() a failing store call
 * fails only its own ops (the ops before it committed and keep their results).
 */
import { describe, expect, it } from 'vitest';
import { KeyedGroupCommit, commitInOrder } from '../../src/lib/ledger/group-commit.js';
import type { LedgerStore, StoreCheck, StoreDecision, StoreOp, StoreRecord } from '../../src/lib/ledger/store.js';
import type { RecordResult } from '../../src/lib/types.js';

const check = (projectId: string, estimateNano: number): StoreCheck => ({
  projectId, userId: null, runId: null, model: 'm', estimateNano, tokensIn: 1, tokensOut: 1, unpriced: false, now: 0, holdTtlMs: 1000,
});
const record = (key: string): StoreRecord => ({
  projectId: 'p', userId: null, runId: null, model: 'm', tokensIn: 1, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0,
  costNano: 1, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: key, ts: 0,
});

/** A store that answers checks with their estimate as the reservation id and refuses records keyed 'bad'. */
function fakeStore(calls: string[]): LedgerStore {
  const decide = (c: StoreCheck): StoreDecision => ({ blocked: false, blockReason: null, reservationId: `res_${c.estimateNano}`, remainingNano: {} });
  return {
    kind: 'sqlite',
    checkBatch: (cs: readonly StoreCheck[]) => {
      calls.push(`checks:${cs.length}`);
      return Promise.resolve(cs.map(decide));
    },
    record: (rs: readonly StoreRecord[]): Promise<RecordResult> => {
      calls.push(`records:${rs.length}`);
      return rs.some((r) => r.idempotencyKey === 'bad') ? Promise.reject(new Error('disk full')) : Promise.resolve({ accepted: rs.length, duplicates: 0 });
    },
  } as unknown as LedgerStore;
}

describe('group commit queue', () => {
  it('a project whose batch is still in the database does not hold up another project', async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    const q = new KeyedGroupCommit<string, string>(async (items) => {
      if (items[0]?.startsWith('a')) await slow;
      return items.map((i) => `done ${i}`);
    });
    const a = q.submit('A', 'a1');
    // B's item is decided while A's batch waits; with one queue for all it would wait behind A.
    await expect(q.submit('B', 'b1')).resolves.toBe('done b1');
    release();
    await expect(a).resolves.toBe('done a1');
  });

  it('items of one project submitted together are one batch, in order', async () => {
    const batches: string[][] = [];
    const q = new KeyedGroupCommit<string, string>((items) => {
      batches.push([...items]);
      return Promise.resolve(items.map((i) => i.toUpperCase()));
    });
    await expect(Promise.all(['x', 'y', 'z'].map((i) => q.submit('P', i)))).resolves.toEqual(['X', 'Y', 'Z']);
    expect(batches).toEqual([['x', 'y', 'z']]);
  });

  it('commitInOrder: consecutive checks share a checkBatch; a failing record call fails only its own op', async () => {
    const calls: string[] = [];
    const ops: StoreOp[] = [
      { kind: 'check', check: check('p', 1) },
      { kind: 'check', check: check('p', 2) },
      { kind: 'record', records: [record('bad')] },
      { kind: 'record', records: [record('k1'), record('k2')] },
      { kind: 'check', check: check('p', 3) },
    ];
    const out = await commitInOrder(fakeStore(calls), ops);
    expect(calls).toEqual(['checks:2', 'records:1', 'records:2', 'checks:1']);
    expect(out.map((o) => (o.kind === 'check' ? o.decision.reservationId : o.kind === 'record' ? o.result.accepted : (o.error as Error).message))).toEqual([
      'res_1', 'res_2', 'disk full', 2, 'res_3',
    ]);
  });
});
