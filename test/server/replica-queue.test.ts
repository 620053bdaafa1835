/**
 * The replica queue's replay (docs/operations-postgres.md "When PostgreSQL is unreachable"):
 * a record the database refuses for good (a data error, a constraint, a noburn validation
 * error) is set aside in the file's outbox_dead table and the rest of the queue goes on; a
 * transient error (a serialization failure) is retried and sets nothing aside.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { NoburnValidationError } from '../../src/lib/errors.js';
import type { NormalizedRecord } from '../../src/lib/validate.js';
import { ReplicaQueue, isRefusal } from '../../src/server/replica-queue.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function queuePath(): string {
  const d = mkdtempSync(join(tmpdir(), 'noburn-rq-'));
  dirs.push(d);
  return join(d, 'replica-queue.db');
}

const rec = (key: string): NormalizedRecord => ({
  model: 'm', tokensIn: 1, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costUsd: 0.001, wasBlocked: false,
  userId: null, runId: null, reservationId: null, provider: null, idempotencyKey: key, tags: [],
});

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

function deadRows(path: string): { idem_key: string; error: string }[] {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return db.prepare('SELECT idem_key, error FROM outbox_dead ORDER BY id').all() as { idem_key: string; error: string }[];
  } finally {
    db.close();
  }
}

describe('replica queue replay', () => {
  it('a record the database refuses is set aside (outbox_dead) and every other record is replayed once', async () => {
    const path = queuePath();
    const settled: string[] = [];
    const dead: string[] = [];
    const q = ReplicaQueue.open({
      path,
      batchSize: 10,
      replay: async (_p, rs) => {
        // As the database does: one bad row fails the whole batch's transaction.
        if (rs.some((r) => r.idempotencyKey === 'bad')) throw pgError('22003', 'value out of range for type bigint');
        settled.push(...rs.map((r) => r.idempotencyKey));
      },
      unreachable: () => false,
      onDead: (_e, key) => dead.push(key),
    });
    q.enqueue('acme', ['a', 'b', 'bad', 'c', 'd'].map(rec), [null, null, null, null, null]);
    await q.drained(10_000);
    await q.close();
    expect(settled.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(dead).toEqual(['bad']);
    expect(deadRows(path)).toEqual([{ idem_key: 'bad', error: 'value out of range for type bigint' }]);
  });

  it('a transient error (serialization failure) is retried: nothing is set aside', async () => {
    const path = queuePath();
    const settled: string[] = [];
    let failures = 2;
    const q = ReplicaQueue.open({
      path,
      replay: async (_p, rs) => {
        if (failures-- > 0) throw pgError('40001', 'could not serialize access due to concurrent update');
        settled.push(...rs.map((r) => r.idempotencyKey));
      },
      unreachable: () => false,
    });
    q.enqueue('acme', ['a', 'b'].map(rec), [null, null]);
    await q.drained(10_000);
    await q.close();
    expect(settled.sort()).toEqual(['a', 'b']);
    expect(deadRows(path)).toEqual([]);
  });

  it('what counts as a refusal: data, constraint and function errors, noburn validation; not transient or network errors', () => {
    expect(isRefusal(pgError('22003', 'x'))).toBe(true);
    expect(isRefusal(pgError('23505', 'x'))).toBe(true);
    expect(isRefusal(pgError('P0001', 'x'))).toBe(true);
    expect(isRefusal(new Error('wrapped', { cause: pgError('42P01', 'x') }))).toBe(true);
    expect(isRefusal(new NoburnValidationError('bad record'))).toBe(true);
    expect(isRefusal(pgError('40001', 'x'))).toBe(false);
    expect(isRefusal(pgError('40P01', 'x'))).toBe(false);
    expect(isRefusal(pgError('57014', 'statement timeout'))).toBe(false);
    expect(isRefusal(pgError('ECONNREFUSED', 'x'))).toBe(false);
    expect(isRefusal(new Error('no code'))).toBe(false);
  });
});
