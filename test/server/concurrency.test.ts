/**
 * No overshoot over HTTP: 64 connections fire checks at once against one cap; exactly
 * floor(cap / estimate) are approved, whatever the interleaving and the group commits.
 */
import { Pool } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { startServer } from '../../src/server/server.js';
import { TEST_PRICES, call, checkBody, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
let pool: Pool;

beforeAll(async () => {
  t = await startTestServer();
  pool = new Pool(t.url, { connections: 64, pipelining: 1 });
});
afterAll(async () => {
  await pool.destroy();
  await t.dispose();
});

async function burst(key: string, n: number, body: Record<string, unknown>, pools: Pool[] = [pool]): Promise<{ blocked: boolean; blockReason: string | null }[]> {
  const payload = JSON.stringify(checkBody(body));
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await (pools[i % pools.length] as Pool).request({ method: 'POST', path: '/v1/check', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: payload });
      expect(res.statusCode).toBe(200);
      return (await res.body.json()) as { blocked: boolean; blockReason: string | null };
    }),
  );
}

it('64 connections against a project cap approve exactly floor(cap / estimate)', async () => {
  const admin = await t.key('conc', 'admin');
  const app = await t.key('conc', 'app');
  // estimate 0.002; 0.075 / 0.002 = 37.5
  await call(t.url, 'PUT', '/v1/budgets/project', { key: admin, body: { capUsd: 0.075, period: 'day' } });
  const out = await burst(app, 256, {});
  expect(out.filter((d) => !d.blocked)).toHaveLength(37);
  expect(new Set(out.filter((d) => d.blocked).map((d) => d.blockReason))).toEqual(new Set(['project_budget_exceeded']));
  const b = (await call(t.url, 'GET', '/v1/budgets', { key: app })).body as { budgets: { heldUsd: number }[] };
  expect(b.budgets[0]?.heldUsd).toBe(0.074);
});

it('the same for a run cap and a user cap at once', async () => {
  const admin = await t.key('conc2', 'admin');
  const app = await t.key('conc2', 'app');
  await call(t.url, 'PUT', '/v1/budgets/users/bob', { key: admin, body: { capUsd: 0.02, period: 'total' } });
  const run = ((await call(t.url, 'POST', '/v1/runs', { key: app, body: { budgetCapUsd: 0.033 } })).body as { runId: string }).runId;
  const [forRun, forUser] = await Promise.all([burst(app, 128, { runId: run }), burst(app, 128, { endUserId: 'bob' })]);
  expect(forRun.filter((d) => !d.blocked)).toHaveLength(16);
  expect(forUser.filter((d) => !d.blocked)).toHaveLength(10);
});

it('two server replicas over one SQLite file, 32 connections each, approve exactly floor(cap / estimate)', async () => {
  const store2 = new SqliteStore(t.dbPath);
  const replica = await startServer({ store: store2, settings: TEST_PRICES, port: 0, processMetrics: false, closeStore: true });
  const a = new Pool(t.url, { connections: 32 });
  const b = new Pool(replica.url, { connections: 32 });
  try {
    const admin = await t.key('replicas', 'admin');
    const app = await t.key('replicas', 'app');
    await call(t.url, 'PUT', '/v1/budgets/project', { key: admin, body: { capUsd: 0.051, period: 'total' } });
    const out = await burst(app, 200, {}, [a, b]);
    expect(out.filter((d) => !d.blocked)).toHaveLength(25);
  } finally {
    await a.destroy();
    await b.destroy();
    await replica.close();
  }
});
