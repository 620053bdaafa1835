/** Every endpoint of docs/api.md against a real server and SQLite file; every refusal leaves the store as it was. */
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { call, checkBody, recordBody, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
let admin: string;
let app: string;

beforeAll(async () => {
  t = await startTestServer({ maxBodyBytes: 64 * 1024 });
  admin = await t.key('acme', 'admin');
  app = await t.key('acme', 'app');
});
afterAll(async () => {
  await t.dispose();
});

/** Runs a request that must be refused with `status` and `code`, and checks the store did not change. */
async function refused(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts: Parameters<typeof call>[3], status: number, code: string) {
  const before = ledgerSnapshot(t.dbPath);
  const r = await call(t.url, method, path, opts);
  expect({ status: r.status, body: r.body }).toMatchObject({ status, body: { error: { code } } });
  expect((r.body as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
  expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  return r;
}

describe('endpoints', () => {
  it('GET /healthz and /metrics need no key', async () => {
    expect(await call(t.url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true, store: 'sqlite' } });
    await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody() });
    const m = await call(t.url, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/text\/plain/);
    const text = m.body as string;
    expect(text).toMatch(/noburn_http_requests_total\{route="\/v1\/check",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/noburn_http_request_duration_seconds_bucket\{le="[\d.]+",route="\/v1\/check"\}/);
    expect(text).toMatch(/noburn_decisions_total\{outcome="allowed",reason=""\} \d+/);
    expect(text).toMatch(/noburn_holds_open \d+/);
    expect(text).not.toContain(app);
  });

  it('POST /v1/check -> 200 decision, blocked once the cap is reached', async () => {
    const ok = await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody({ endUserId: 'u-check' }) });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ blocked: false, blockReason: null, estimatedCostUsd: 0.002, unpriced: false });
    const d = ok.body as { reservationId: string; decisionId: string };
    expect(d.reservationId).toMatch(/^res_/);
    expect(d.decisionId).toBe(d.reservationId);

    expect((await call(t.url, 'PUT', '/v1/budgets/users/u-check', { key: admin, body: { capUsd: 0.003, period: 'day' } })).status).toBe(200);
    const blocked = await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody({ endUserId: 'u-check' }) });
    expect(blocked).toMatchObject({ status: 200, body: { blocked: true, blockReason: 'user_budget_exceeded', reservationId: null, remaining: { userUsd: 0.001 } } });
    expect((blocked.body as { decisionId: string }).decisionId).toMatch(/^dec_/);
    const unknown = await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody({ model: 'no-such-model-xyz' }) });
    expect(unknown.body).toMatchObject({ blocked: true, blockReason: 'unknown_model_price', unpriced: true });
  });

  it('POST /v1/records -> 202 {accepted, duplicates, items}; a repeated idempotency key counts once', async () => {
    const a = recordBody({ costUsd: 0.25 });
    const b = recordBody({ endUserId: 'u-rec' });
    const r1 = await call(t.url, 'POST', '/v1/records', { key: app, body: { records: [a, b] } });
    expect(r1).toMatchObject({ status: 202, body: { accepted: 2, duplicates: 0 } });
    expect((r1.body as { items: unknown[] }).items).toEqual([
      { idempotencyKey: a.idempotencyKey, costUsd: 0.25, unpriced: false },
      { idempotencyKey: b.idempotencyKey, costUsd: 0.002, unpriced: false },
    ]);
    const r2 = await call(t.url, 'POST', '/v1/records', { key: app, body: { records: [a] } });
    expect(r2).toMatchObject({ status: 202, body: { accepted: 0, duplicates: 1 } });
    const spend = await call(t.url, 'GET', '/v1/spend?by=user', { key: app });
    expect((spend.body as { rows: { key: string | null; spendUsd: number }[] }).rows).toContainEqual(expect.objectContaining({ key: 'u-rec', spendUsd: 0.002 }));
  });

  it('runs: POST 201, GET 200, list 200, end 200, end again 409, unknown 404', async () => {
    const created = await call(t.url, 'POST', '/v1/runs', { key: app, body: { budgetCapUsd: 0.5, label: 'nightly' } });
    expect(created).toMatchObject({ status: 201, body: { status: 'open', budgetCapUsd: 0.5, label: 'nightly', calls: 0 } });
    const id = (created.body as { runId: string }).runId;
    expect(await call(t.url, 'GET', `/v1/runs/${id}`, { key: app })).toMatchObject({ status: 200, body: { runId: id } });
    const open = await call(t.url, 'GET', '/v1/runs?status=open', { key: app });
    expect((open.body as { runs: { runId: string }[] }).runs.map((r) => r.runId)).toContain(id);
    await call(t.url, 'POST', '/v1/records', { key: app, body: { records: [recordBody({ runId: id, costUsd: 0.1 })] } });
    expect(await call(t.url, 'GET', `/v1/spend?runId=${id}`, { key: app })).toMatchObject({ status: 200, body: { totalUsd: 0.1, calls: 1, rows: [] } });
    expect(await call(t.url, 'POST', `/v1/runs/${id}/end`, { key: app })).toMatchObject({
      status: 200,
      body: { runId: id, status: 'completed', spendUsd: 0.1, budgetCapUsd: 0.5, calls: 1 },
    });
    await refused('POST', `/v1/runs/${id}/end`, { key: app }, 409, 'NOBURN_CONFLICT');
    await refused('GET', '/v1/runs/run_doesnotexist', { key: app }, 404, 'NOBURN_NOT_FOUND');
    await refused('POST', '/v1/runs/run_doesnotexist/end', { key: app }, 404, 'NOBURN_NOT_FOUND');
  });

  it('budgets: PUT project, users/:id, default-user (admin) -> 200; GET -> 200; null removes', async () => {
    expect(await call(t.url, 'PUT', '/v1/budgets/project', { key: admin, body: { capUsd: 100 } })).toMatchObject({
      status: 200,
      body: { scope: 'project', capUsd: 100, period: 'month' },
    });
    expect((await call(t.url, 'PUT', '/v1/budgets/default-user', { key: admin, body: { capUsd: 5, period: 'week' } })).status).toBe(200);
    expect((await call(t.url, 'PUT', '/v1/budgets/users/a%2Fb', { key: admin, body: { capUsd: 1, period: 'total' } })).body).toMatchObject({ userId: 'a/b' });
    const got = await call(t.url, 'GET', '/v1/budgets', { key: app });
    const budgets = (got.body as { budgets: { scope: string; userId: string | null; capUsd: number }[] }).budgets;
    expect(budgets).toContainEqual(expect.objectContaining({ scope: 'project', capUsd: 100 }));
    expect(budgets).toContainEqual(expect.objectContaining({ scope: 'default_user', capUsd: 5 }));
    expect(budgets).toContainEqual(expect.objectContaining({ scope: 'user', userId: 'a/b', capUsd: 1 }));
    await call(t.url, 'PUT', '/v1/budgets/default-user', { key: admin, body: { capUsd: null } });
    const after = (await call(t.url, 'GET', '/v1/budgets', { key: app })).body as { budgets: { scope: string }[] };
    expect(after.budgets.map((b) => b.scope)).not.toContain('default_user');
  });

  it('budgets: PUT /v1/budgets/models (admin) caps the calls of the models a glob matches, for one user here', async () => {
    const set = await call(t.url, 'PUT', '/v1/budgets/models', { key: admin, body: { model: 'test-*', userId: 'u-model', capUsd: 0.001, period: 'hour' } });
    expect(set).toMatchObject({ status: 200, body: { scope: 'model', userId: 'u-model', model: 'test-*', capUsd: 0.001, period: 'hour' } });
    const blocked = await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody({ endUserId: 'u-model' }) });
    expect(blocked).toMatchObject({ status: 200, body: { blocked: true, blockReason: 'model_budget_exceeded', limit: { scope: 'model', capUsd: 0.001 } } });
    expect((await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody({ endUserId: 'u-other' }) })).body).toMatchObject({ blocked: false });
    const got = (await call(t.url, 'GET', '/v1/budgets', { key: app })).body as { budgets: unknown[] };
    expect(got.budgets).toContainEqual(expect.objectContaining({ scope: 'model', userId: 'u-model', model: 'test-*', period: 'hour' }));
    await refused('PUT', '/v1/budgets/models', { key: app, body: { model: 'x', capUsd: 1 } }, 403, 'NOBURN_FORBIDDEN');
    await refused('PUT', '/v1/budgets/models', { key: admin, body: { model: 'x[1]', capUsd: 1 } }, 422, 'NOBURN_VALIDATION');
    await call(t.url, 'PUT', '/v1/budgets/models', { key: admin, body: { model: 'test-*', userId: 'u-model', capUsd: null } });
  });

  it('GET /v1/users, /v1/spend, /v1/prices/:model -> 200', async () => {
    const users = await call(t.url, 'GET', '/v1/users', { key: app });
    expect(users.status).toBe(200);
    expect((users.body as { users: { userId: string }[] }).users.map((u) => u.userId)).toContain('u-rec');
    const spend = await call(t.url, 'GET', '/v1/spend?by=model&since=2000-01-01', { key: app });
    expect(spend).toMatchObject({ status: 200, body: { by: 'model', since: '2000-01-01T00:00:00.000Z' } });
    expect(await call(t.url, 'GET', '/v1/prices/test-model', { key: app })).toMatchObject({
      status: 200,
      body: { model: 'test-model', inputPerMTok: 1, outputPerMTok: 2, source: 'config' },
    });
  });

  it('GET /v1/events pages with a cursor', async () => {
    const all = await call(t.url, 'GET', '/v1/events?after=0&limit=1000', { key: app });
    const feed = all.body as { events: { seq: number; kind: string; projectId: string }[]; cursor: number; more: boolean };
    expect(feed.more).toBe(false);
    expect(feed.events.length).toBeGreaterThan(4);
    expect(new Set(feed.events.map((e) => e.projectId))).toEqual(new Set(['acme']));
    expect(feed.cursor).toBe(feed.events.at(-1)?.seq);
    const page = await call(t.url, 'GET', '/v1/events?after=0&limit=2', { key: app });
    const p1 = page.body as typeof feed;
    expect(p1.events).toHaveLength(2);
    expect(p1.more).toBe(true);
    const p2 = (await call(t.url, 'GET', `/v1/events?after=${p1.cursor}&limit=2`, { key: app })).body as typeof feed;
    expect(p2.events[0]?.seq).toBe(feed.events[2]?.seq);
  });

  it('GET /v1/events?kind=&since=&until= keeps the matching events, and pages within them', async () => {
    type Feed = { events: { seq: number; kind: string; ts: string }[]; cursor: number; more: boolean };
    const all = (await call(t.url, 'GET', '/v1/events?limit=1000', { key: app })).body as Feed;
    const records = (await call(t.url, 'GET', '/v1/events?kind=record', { key: app })).body as Feed;
    expect(records.events.map((e) => e.seq)).toEqual(all.events.filter((e) => e.kind === 'record').map((e) => e.seq));
    expect(records.events.length).toBeGreaterThan(1);
    const p1 = (await call(t.url, 'GET', '/v1/events?kind=record&limit=1', { key: app })).body as Feed;
    expect(p1).toMatchObject({ more: true, cursor: records.events[0]?.seq });
    const p2 = (await call(t.url, 'GET', `/v1/events?kind=record&limit=1&after=${p1.cursor}`, { key: app })).body as Feed;
    expect(p2.events.map((e) => e.seq)).toEqual([records.events[1]?.seq]);
    const at = all.events[2]?.ts ?? '';
    const since = (await call(t.url, 'GET', `/v1/events?since=${encodeURIComponent(at)}`, { key: app })).body as Feed;
    expect(since.events.map((e) => e.seq)).toEqual(all.events.filter((e) => e.ts >= at).map((e) => e.seq));
    const until = (await call(t.url, 'GET', `/v1/events?until=${encodeURIComponent(at)}`, { key: app })).body as Feed;
    expect(until.events.map((e) => e.seq)).toEqual(all.events.filter((e) => e.ts < at).map((e) => e.seq));
  });

  it('keys: POST 201 (shown once, works), GET lists without secrets, DELETE revokes at once', async () => {
    const created = await call(t.url, 'POST', '/v1/keys', { key: admin, body: { role: 'app', label: 'ci' } });
    expect(created).toMatchObject({ status: 201, body: { projectId: 'acme', role: 'app', label: 'ci', revokedAt: null } });
    const { key, id } = created.body as { key: string; id: string };
    expect((await call(t.url, 'POST', '/v1/check', { key, body: checkBody() })).status).toBe(200);
    const list = await call(t.url, 'GET', '/v1/keys', { key: admin });
    expect(JSON.stringify(list.body)).not.toContain(key.split('.')[1]);
    expect(JSON.stringify(list.body)).not.toMatch(/hash/);
    expect((list.body as { keys: { id: string }[] }).keys.map((k) => k.id)).toContain(id);
    const revoked = await call(t.url, 'DELETE', `/v1/keys/${id}`, { key: admin });
    expect(revoked).toMatchObject({ status: 200, body: { id } });
    expect((revoked.body as { revokedAt: string | null }).revokedAt).not.toBeNull();
    await refused('POST', '/v1/check', { key, body: checkBody() }, 401, 'NOBURN_AUTH');
    await refused('DELETE', '/v1/keys/key_nosuchkey000', { key: admin }, 404, 'NOBURN_NOT_FOUND');
  });
});

describe('refusals change nothing', () => {
  it('400: malformed JSON, empty body', async () => {
    await refused('POST', '/v1/check', { key: app, body: '{"model": "test-model",' }, 400, 'NOBURN_MALFORMED');
    await refused('POST', '/v1/records', { key: app, body: 'not json' }, 400, 'NOBURN_MALFORMED');
    await refused('POST', '/v1/check', { key: app, body: '' }, 400, 'NOBURN_MALFORMED');
    await refused('GET', '/v1/runs/%E0%A4%A', { key: app }, 400, 'NOBURN_MALFORMED');
  });

  it('422: schema violations, including one bad record in a batch', async () => {
    await refused('POST', '/v1/check', { key: app, body: checkBody({ estimatedTokensIn: -1 }) }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/check', { key: app, body: checkBody({ estimatedTokensOut: 1.5 }) }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/check', { key: app, body: checkBody({ endUserID: 'typo' }) }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/check', { key: app, body: { estimatedTokensIn: 1, estimatedTokensOut: 1 } }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/check', { key: app, body: [1, 2] }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/check', { key: app, body: checkBody({ endUserId: 'a\u0001b' }) }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/check', { key: app, body: checkBody({ model: 'm'.repeat(257) }) }, 422, 'NOBURN_VALIDATION');
    const { idempotencyKey: _k, ...noKey } = recordBody();
    await refused('POST', '/v1/records', { key: app, body: { records: [noKey] } }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/records', { key: app, body: { records: [recordBody(), recordBody({ costUsd: -1 })] } }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/records', { key: app, body: { records: [recordBody({ cachedTokensIn: 2000 })] } }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/records', { key: app, body: { records: [] } }, 422, 'NOBURN_VALIDATION');
    await refused('POST', '/v1/runs', { key: app, body: { budgetCapUsd: 'lots' } }, 422, 'NOBURN_VALIDATION');
    await refused('PUT', '/v1/budgets/project', { key: admin, body: { capUsd: 1, period: 'year' } }, 422, 'NOBURN_VALIDATION');
    await refused('GET', '/v1/events?after=-1', { key: app }, 422, 'NOBURN_VALIDATION');
    await refused('GET', '/v1/spend?since=yesterday', { key: app }, 422, 'NOBURN_VALIDATION');
    await refused('GET', '/v1/runs?status=maybe', { key: app }, 422, 'NOBURN_VALIDATION');
  });

  it('413: a body over the limit (declared or chunked)', async () => {
    const big = JSON.stringify({ records: [recordBody({ model: 'x'.repeat(200) })], pad: 'y'.repeat(100 * 1024) });
    await refused('POST', '/v1/records', { key: app, body: big }, 413, 'NOBURN_TOO_LARGE');
    // Chunked (no Content-Length): cut off once it passes the limit.
    const before = ledgerSnapshot(t.dbPath);
    const chunked = await request(t.url + '/v1/records', {
      method: 'POST',
      headers: { authorization: `Bearer ${app}`, 'content-type': 'application/json' },
      body: Readable.from([big.slice(0, 50_000), big.slice(50_000)]),
    });
    expect(chunked.statusCode).toBe(413);
    expect(await chunked.body.json()).toMatchObject({ error: { code: 'NOBURN_TOO_LARGE' } });
    expect(ledgerSnapshot(t.dbPath)).toEqual(before);
    // The server is still fine afterwards.
    expect((await call(t.url, 'POST', '/v1/check', { key: app, body: checkBody() })).status).toBe(200);
  });

  it('401: no key, malformed header, unknown key', async () => {
    await refused('POST', '/v1/check', { body: checkBody() }, 401, 'NOBURN_AUTH');
    await refused('POST', '/v1/check', { body: checkBody(), headers: { authorization: `Basic ${app}` } }, 401, 'NOBURN_AUTH');
    await refused('POST', '/v1/check', { key: app.slice(0, -2) + 'AA', body: checkBody() }, 401, 'NOBURN_AUTH');
    await refused('GET', '/v1/budgets', { key: 'nb_key_abcdefghijkl.' + 'A'.repeat(43) }, 401, 'NOBURN_AUTH');
  });

  it('403: an app key may not set budgets or manage keys', async () => {
    await refused('PUT', '/v1/budgets/project', { key: app, body: { capUsd: 1 } }, 403, 'NOBURN_FORBIDDEN');
    await refused('PUT', '/v1/budgets/users/u1', { key: app, body: { capUsd: 1 } }, 403, 'NOBURN_FORBIDDEN');
    await refused('PUT', '/v1/budgets/default-user', { key: app, body: { capUsd: 1 } }, 403, 'NOBURN_FORBIDDEN');
    await refused('POST', '/v1/keys', { key: app, body: { role: 'admin' } }, 403, 'NOBURN_FORBIDDEN');
    await refused('GET', '/v1/keys', { key: app }, 403, 'NOBURN_FORBIDDEN');
  });

  it('404 unknown endpoint, 405 wrong method', async () => {
    await refused('GET', '/v1/nothing', { key: app }, 404, 'NOBURN_NOT_FOUND');
    await refused('GET', '/v1/check', { key: app }, 405, 'NOBURN_METHOD_NOT_ALLOWED');
    await refused('DELETE', '/v1/runs/x', { key: app }, 405, 'NOBURN_METHOD_NOT_ALLOWED');
  });
});
