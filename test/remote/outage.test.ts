/**
 * Records flowing, the server stopped for a while and started again: during the gap,
 * fail-open allows and fail-closed blocks (noburn_unreachable); afterwards the server
 * holds every record exactly once.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Decision } from '../../src/lib/types.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard, sleep, sql, until } from './helpers.js';

let t: TestServer;
const homes: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const COST_NANO = 1_234; // $0.000001234 per record: sums are exact integers
const check = { model: 'test-model', estimatedTokensIn: 100, estimatedTokensOut: 50 };

it('fail-open and fail-closed during an outage; every record exactly once afterwards', async () => {
  const key = await t.key('outage', 'app');
  const mk = (onError: 'allow' | 'block') => {
    const h = clientHome();
    homes.push(h);
    // The stopped server refuses connections at once, so the fallback needs no short timeout;
    // a long one keeps a loaded machine's slow answer from passing for an outage.
    return remoteGuard(t.url, key, h, { onError, timeoutMs: 5_000 });
  };
  const open = mk('allow');
  const closed = mk('block');
  let n = 0;
  const step = async (): Promise<[Decision, Decision]> => {
    const d = await Promise.all([open.check(check), closed.check(check)]);
    for (const g of [open, closed]) {
      g.record({ model: 'test-model', tokensIn: 100, tokensOut: 50, costUsd: COST_NANO / 1e9, idempotencyKey: `outage-${n++}` });
    }
    await sleep(5);
    return d;
  };

  try {
    for (let i = 0; i < 20; i++) {
      const [a, b] = await step();
      expect([a.source, b.source]).toEqual(['server', 'server']);
      expect([a.blocked, b.blocked]).toEqual([false, false]);
    }
    await t.stop();
    for (let i = 0; i < 30; i++) {
      const [a, b] = await step();
      expect(a).toMatchObject({ source: 'fallback', blocked: false });
      expect(b).toMatchObject({ source: 'fallback', blocked: true, blockReason: 'noburn_unreachable' });
    }
    // The records of the gap wait in each client's outbox file.
    for (const h of homes) expect(sql<{ n: number }>(join(h, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBeGreaterThanOrEqual(25);
    await t.restart();
    await until(async () => (await open.check(check)).source === 'server', 10_000, 'the server to answer again');
    for (let i = 0; i < 20; i++) {
      const [a, b] = await step();
      expect([a.source, b.source]).toEqual(['server', 'server']);
    }
    await Promise.all([open.flush(), closed.flush()]);
  } finally {
    await open.close();
    await closed.close();
  }
  const got = sql<{ n: number; keys: number; spent: number }>(
    t.dbPath,
    "SELECT count(*) AS n, count(DISTINCT idem_key) AS keys, sum(cost_nano) AS spent FROM records WHERE project_id = 'outage'",
  );
  expect(got).toEqual({ n: 140, keys: 140, spent: 140 * COST_NANO });
  const usage = sql<{ spent_nano: number; calls: number }>(t.dbPath, "SELECT spent_nano, calls FROM usage WHERE project_id = 'outage' AND scope = 'project' AND window = 'total'");
  expect(usage).toEqual({ spent_nano: 140 * COST_NANO, calls: 140 });
  expect(sql<{ integrity_check: string }>(t.dbPath, 'PRAGMA integrity_check').integrity_check).toBe('ok');
});
