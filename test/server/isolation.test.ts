/** A key sees and touches only its own project; an app key cannot do admin things. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { call, checkBody, recordBody, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const k = { aApp: '', aAdmin: '', bApp: '', bAdmin: '' };
let runA = '';
let resA = '';

beforeAll(async () => {
  t = await startTestServer();
  k.aApp = await t.key('proj-a', 'app');
  k.aAdmin = await t.key('proj-a', 'admin');
  k.bApp = await t.key('proj-b', 'app');
  k.bAdmin = await t.key('proj-b', 'admin');
  await call(t.url, 'PUT', '/v1/budgets/project', { key: k.aAdmin, body: { capUsd: 1 } });
  await call(t.url, 'PUT', '/v1/budgets/users/alice', { key: k.aAdmin, body: { capUsd: 0.5 } });
  runA = ((await call(t.url, 'POST', '/v1/runs', { key: k.aApp, body: { budgetCapUsd: 1, label: 'secret-label' } })).body as { runId: string }).runId;
  resA = ((await call(t.url, 'POST', '/v1/check', { key: k.aApp, body: checkBody({ runId: runA }) })).body as { reservationId: string }).reservationId;
  await call(t.url, 'POST', '/v1/records', { key: k.aApp, body: { records: [recordBody({ costUsd: 0.3, endUserId: 'alice' })] } });
});
afterAll(async () => {
  await t.dispose();
});

it("project B's keys get 404 for project A's runs, and change nothing", async () => {
  for (const key of [k.bApp, k.bAdmin]) {
    const before = ledgerSnapshot(t.dbPath);
    expect((await call(t.url, 'GET', `/v1/runs/${runA}`, { key })).status).toBe(404);
    expect((await call(t.url, 'POST', `/v1/runs/${runA}/end`, { key })).status).toBe(404);
    const list = await call(t.url, 'GET', '/v1/runs', { key });
    expect((list.body as { runs: unknown[] }).runs).toEqual([]);
    expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  }
  // A's key still sees it open.
  expect(await call(t.url, 'GET', `/v1/runs/${runA}`, { key: k.aApp })).toMatchObject({ status: 200, body: { status: 'open' } });
});

it("project B sees none of A's budgets, users, spend or events", async () => {
  expect((await call(t.url, 'GET', '/v1/budgets', { key: k.bApp })).body).toEqual({ budgets: [] });
  expect((await call(t.url, 'GET', '/v1/users', { key: k.bApp })).body).toEqual({ users: [] });
  expect((await call(t.url, 'GET', '/v1/spend', { key: k.bApp })).body).toMatchObject({ totalUsd: 0, calls: 0 });
  const feed = (await call(t.url, 'GET', '/v1/events?after=0', { key: k.bAdmin })).body as { events: unknown[] };
  expect(feed.events).toEqual([]);
  const aFeed = (await call(t.url, 'GET', '/v1/events?after=0', { key: k.aApp })).body as { events: unknown[] };
  expect(aFeed.events.length).toBeGreaterThan(0);
  expect(JSON.stringify(feed)).not.toContain('secret-label');
});

it("project B cannot use A's run, settle A's hold, or move A's money", async () => {
  const d = await call(t.url, 'POST', '/v1/check', { key: k.bApp, body: checkBody({ runId: runA }) });
  expect(d.body).toMatchObject({ blocked: true, blockReason: 'run_not_found' });
  const heldBefore = ((await call(t.url, 'GET', `/v1/runs/${runA}`, { key: k.aApp })).body as { heldUsd: number }).heldUsd;
  expect(heldBefore).toBe(0.002);
  await call(t.url, 'POST', '/v1/records', { key: k.bApp, body: { records: [recordBody({ reservationId: resA, runId: runA, costUsd: 0.9 })] } });
  const runAfter = (await call(t.url, 'GET', `/v1/runs/${runA}`, { key: k.aApp })).body as { heldUsd: number; spendUsd: number; calls: number };
  expect(runAfter).toMatchObject({ heldUsd: 0.002, spendUsd: 0, calls: 0 });
  expect((await call(t.url, 'GET', '/v1/spend', { key: k.aApp })).body).toMatchObject({ totalUsd: 0.3 });
  // B's budget changes stay in B.
  await call(t.url, 'PUT', '/v1/budgets/project', { key: k.bAdmin, body: { capUsd: 0 } });
  expect((await call(t.url, 'POST', '/v1/check', { key: k.aApp, body: checkBody() })).body).toMatchObject({ blocked: false });
});

it("an admin of B cannot list or revoke A's keys", async () => {
  const keys = (await call(t.url, 'GET', '/v1/keys', { key: k.bAdmin })).body as { keys: { projectId: string; id: string }[] };
  expect(new Set(keys.keys.map((x) => x.projectId))).toEqual(new Set(['proj-b']));
  const aKeys = (await call(t.url, 'GET', '/v1/keys', { key: k.aAdmin })).body as { keys: { id: string }[] };
  const target = aKeys.keys[0]?.id as string;
  const before = ledgerSnapshot(t.dbPath);
  expect((await call(t.url, 'DELETE', `/v1/keys/${target}`, { key: k.bAdmin })).status).toBe(404);
  expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  // A key created by B's admin belongs to B, whatever the body says.
  const made = await call(t.url, 'POST', '/v1/keys', { key: k.bAdmin, body: { role: 'app', projectId: 'proj-a' } });
  expect(made.status).toBe(422);
});

it('app keys: 403 for budgets and keys, whatever the project', async () => {
  for (const key of [k.aApp, k.bApp]) {
    const before = ledgerSnapshot(t.dbPath);
    expect((await call(t.url, 'PUT', '/v1/budgets/project', { key, body: { capUsd: 99 } })).status).toBe(403);
    expect((await call(t.url, 'PUT', '/v1/budgets/users/alice', { key, body: { capUsd: 99 } })).status).toBe(403);
    expect((await call(t.url, 'POST', '/v1/keys', { key, body: { role: 'admin' } })).status).toBe(403);
    expect((await call(t.url, 'GET', '/v1/keys', { key })).status).toBe(403);
    expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  }
});
