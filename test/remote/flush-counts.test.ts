/**
 * flush() and close() say what became of the records: {delivered, rejected, pending},
 * since the previous flush. A rejected record is never silent: onRecordError gets it, or,
 * without one, one process warning per kind of rejection. A closed guard refuses check()
 * (NoburnClosedError) instead of failing open.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NoburnError } from '../../src/lib/errors.js';
import { NoburnClosedError } from '../../src/lib/errors.js';
import { NoburnGuard } from '../../src/lib/guard.js';
import { serverKey, targetFor } from '../../src/lib/remote/target.js';
import { removeHomes, tempHome } from '../helpers/cli.js';
import { startTestServer, TEST_PRICES } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { remoteGuard } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
  removeHomes();
});

const good = (i: number) => ({ model: 'test-model', tokensIn: 10, tokensOut: 1, costUsd: 0.001, idempotencyKey: `good-${i}-${Date.now()}` });

function captureWarnings(): { list: Error[]; stop: () => void } {
  const list: Error[] = [];
  const on = (w: Error) => {
    if ((w as Error & { code?: string }).code === 'NOBURN_RECORD_REJECTED') list.push(w);
  };
  process.on('warning', on);
  return { list, stop: () => process.off('warning', on) };
}

it('embedded: flush resolves with delivered and rejected since the last flush; one warning per kind without a handler', async () => {
  const g = new NoburnGuard({ home: tempHome(), prices: TEST_PRICES.prices, env: {} });
  const w = captureWarnings();
  try {
    g.record(good(1));
    g.record(good(2));
    g.record({ model: 'test-model', tokensIn: -1, tokensOut: 1 });
    g.record({ model: 'test-model', tokensIn: -2, tokensOut: 1 });
    g.record({ model: '', tokensIn: 1, tokensOut: 1 });
    expect(await g.flush()).toEqual({ delivered: 2, rejected: 3, pending: 0 });
    expect(await g.flush()).toEqual({ delivered: 0, rejected: 0, pending: 0 });
    g.record(good(3));
    expect(await g.close()).toEqual({ delivered: 1, rejected: 0, pending: 0 });
    await new Promise((r) => setImmediate(r));
    // Two kinds (tokensIn, model): two warnings, not three.
    expect(w.list).toHaveLength(2);
    expect(w.list.map((x) => x.message).join('\n')).toMatch(/tokensIn[\s\S]*model/);
  } finally {
    w.stop();
  }
});

it('remote: a record the server refuses counts as rejected, the others as delivered', async () => {
  const home = tempHome();
  const errors: { e: unknown; rejected?: number }[] = [];
  const g = remoteGuard(t.url, await t.key('counts', 'app'), home, { onRecordError: (e, info) => errors.push({ e, rejected: info?.rejected }) });
  try {
    g.record(good(4));
    expect(await g.flush()).toEqual({ delivered: 1, rejected: 0, pending: 0 });
    // A row the server will refuse (written by an older or broken client) for this server and project.
    const db = new Database(join(home, 'outbox.db'));
    db.prepare('INSERT INTO outbox (target, idem_key, ts, body) VALUES (?, ?, ?, ?)').run(
      targetFor(serverKey(t.url), 'counts'),
      'bad-1',
      Date.now(),
      JSON.stringify({ model: 'test-model', tokensIn: -5, tokensOut: 1, wasBlocked: false, idempotencyKey: 'bad-1' }),
    );
    db.close();
    g.record(good(5));
    expect(await g.flush()).toEqual({ delivered: 1, rejected: 1, pending: 0 });
  } finally {
    expect(await g.close()).toEqual({ delivered: 0, rejected: 0, pending: 0 });
  }
  expect(errors.filter((x) => x.rejected === 1)).toHaveLength(1);
});

it('after close(): check, recordNow and startRun throw NoburnClosedError; record() is reported, not kept', async () => {
  const errors: unknown[] = [];
  const g = new NoburnGuard({ home: tempHome(), prices: TEST_PRICES.prices, env: {}, onError: 'allow', onRecordError: (e) => errors.push(e) });
  await g.check({ model: 'test-model', estimatedTokensIn: 1, estimatedTokensOut: 1 });
  await g.close();
  const err = await g.check({ model: 'test-model', estimatedTokensIn: 1, estimatedTokensOut: 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NoburnClosedError);
  expect((err as NoburnError).code).toBe('NOBURN_CLOSED');
  await expect(g.recordNow(good(6))).rejects.toBeInstanceOf(NoburnClosedError);
  await expect(g.startRun({ budgetCapUsd: 1 })).rejects.toBeInstanceOf(NoburnClosedError);
  g.record(good(7));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(NoburnClosedError);
  expect(await g.close()).toEqual({ delivered: 0, rejected: 1, pending: 0 });
});
