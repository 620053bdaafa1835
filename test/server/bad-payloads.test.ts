/**
 * contract §6/§7 "bad input", table-driven: malformed payloads for the routes of docs/api.md,
 * each answered with its documented 4xx and `{error: {code, message}}`, never a 5xx, and
 * the store digest (every row of every table) unchanged. Complements api.test.ts and
 * isolation.test.ts (which hold the first cases of each status) with the rest of the edges.
 * The server runs with the default 1 MiB body limit, so the 413 cases test the documented one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_USD } from '../../src/lib/money.js';
import { MAX_TOKENS } from '../../src/lib/validate.js';
import { ErrorBody } from '../../src/lib/wire/responses.js';
import { keyIdOf } from '../../src/server/keys.js';
import { rawHttp } from '../helpers/http-fuzz.js';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { call, checkBody, recordBody, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const keys: Record<KeyName, string> = { app: '', admin: '', revoked: '', other: '', none: '' };
const ids = { run: '', otherRun: '' };

type KeyName = 'app' | 'admin' | 'revoked' | 'other' | 'none';
type Method = 'GET' | 'POST' | 'PUT';

interface Case {
  name: string;
  method: Method;
  /** `{run}` and `{otherRun}` are replaced by this project's open run and another project's run. */
  path: string;
  key?: KeyName;
  /** Sent as is when a string, JSON-encoded otherwise. */
  body?: unknown;
  headers?: Record<string, string>;
  status: 400 | 401 | 403 | 404 | 405 | 413 | 422;
  /** For 422s: docs/api.md says the message names the field. */
  field?: string;
}

const CODE: Record<Case['status'], string> = {
  400: 'NOBURN_MALFORMED',
  401: 'NOBURN_AUTH',
  403: 'NOBURN_FORBIDDEN',
  404: 'NOBURN_NOT_FOUND',
  405: 'NOBURN_METHOD_NOT_ALLOWED',
  413: 'NOBURN_TOO_LARGE',
  422: 'NOBURN_VALIDATION',
};

const MIB = 1024 * 1024;
const rec = recordBody;
const chk = checkBody;
/** A syntactically valid check body of exactly `bytes` bytes (padded with JSON whitespace). */
const padded = (bytes: number) => {
  const s = JSON.stringify(chk());
  return s.slice(0, -1) + ' '.repeat(bytes - s.length) + '}';
};

const C = (name: string, method: Method, path: string, status: Case['status'], rest: Partial<Case> = {}): Case => ({ name, method, path, status, key: 'app', ...rest });

const CASES: Case[] = [
  // POST /v1/check
  C('check: single-quoted JSON', 'POST', '/v1/check', 400, { body: "{'model': 'test-model'}" }),
  C('check: NaN literal', 'POST', '/v1/check', 400, { body: '{"model":"test-model","estimatedTokensIn":NaN,"estimatedTokensOut":1}' }),
  C('check: two JSON values', 'POST', '/v1/check', 400, { body: '{} {}' }),
  C('check: UTF-8 byte order mark', 'POST', '/v1/check', 400, { body: '\ufeff' + JSON.stringify(chk()) }),
  C('check: form-encoded body', 'POST', '/v1/check', 400, { body: 'model=test-model&estimatedTokensIn=1&estimatedTokensOut=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
  C('check: multipart body', 'POST', '/v1/check', 400, { body: '--b\r\ncontent-disposition: form-data; name="model"\r\n\r\ntest-model\r\n--b--', headers: { 'content-type': 'multipart/form-data; boundary=b' } }),
  C('check: JSON null', 'POST', '/v1/check', 422, { body: 'null' }),
  C('check: a JSON string', 'POST', '/v1/check', 422, { body: '"test-model"' }),
  C('check: tokens as a string', 'POST', '/v1/check', 422, { body: chk({ estimatedTokensIn: '1000' }), field: 'estimatedTokensIn' }),
  C('check: tokens 1e400 (Infinity)', 'POST', '/v1/check', 422, { body: '{"model":"test-model","estimatedTokensIn":1e400,"estimatedTokensOut":1}', field: 'estimatedTokensIn' }),
  C('check: tokens over the maximum', 'POST', '/v1/check', 422, { body: chk({ estimatedTokensOut: MAX_TOKENS + 1 }), field: 'estimatedTokensOut' }),
  C('check: tokens 2^53', 'POST', '/v1/check', 422, { body: chk({ estimatedTokensIn: 2 ** 53 }), field: 'estimatedTokensIn' }),
  C('check: empty endUserId', 'POST', '/v1/check', 422, { body: chk({ endUserId: '' }), field: 'endUserId' }),
  C('check: runId a number', 'POST', '/v1/check', 422, { body: chk({ runId: 42 }), field: 'runId' }),
  C('check: model null', 'POST', '/v1/check', 422, { body: chk({ model: null }), field: 'model' }),
  C('check: a "__proto__" field', 'POST', '/v1/check', 422, { body: JSON.stringify(chk()).slice(0, -1) + ',"__proto__":{"blocked":false}}', field: '__proto__' }),
  C('check: lone surrogate in endUserId', 'POST', '/v1/check', 422, { body: JSON.stringify(chk()).slice(0, -1) + ',"endUserId":"u\\ud800"}', field: 'endUserId' }),
  C('check: tab in model', 'POST', '/v1/check', 422, { body: chk({ model: 'test\tmodel' }), field: 'model' }),
  C('check: DEL in runId', 'POST', '/v1/check', 422, { body: chk({ runId: 'run_\u007f' }), field: 'runId' }),
  C('check: endUserId of 257 characters', 'POST', '/v1/check', 422, { body: chk({ endUserId: 'u'.repeat(257) }), field: 'endUserId' }),
  C('check: revoked key', 'POST', '/v1/check', 401, { key: 'revoked', body: chk() }),
  C('check: "Bearer" with no key', 'POST', '/v1/check', 401, { key: 'none', body: chk(), headers: { authorization: 'Bearer         ' } }),
  C('check: Authorization header over 512 bytes', 'POST', '/v1/check', 401, { key: 'none', body: chk(), headers: { authorization: `Bearer ${'A'.repeat(600)}` } }),
  C('check: bad JSON and no key: the key is checked first', 'POST', '/v1/check', 401, { key: 'none', body: '{{{' }),
  C('check: GET', 'GET', '/v1/check', 405),

  // POST /v1/records
  C('records: an object instead of an array', 'POST', '/v1/records', 422, { body: { records: rec() }, field: 'records' }),
  C('records: a bare array', 'POST', '/v1/records', 422, { body: [rec()] }),
  C('records: [null]', 'POST', '/v1/records', 422, { body: { records: [null] }, field: 'records.0' }),
  C('records: 1001 records in one batch', 'POST', '/v1/records', 422, { body: { records: Array.from({ length: 1001 }, () => rec()) }, field: 'records' }),
  C('records: 999 good records then a bad one: nothing written', 'POST', '/v1/records', 422, { body: { records: [...Array.from({ length: 999 }, () => rec()), rec({ tokensIn: -5 })] }, field: 'records.999.tokensIn' }),
  C('records: wasBlocked "false"', 'POST', '/v1/records', 422, { body: { records: [rec({ wasBlocked: 'false' })] }, field: 'wasBlocked' }),
  C('records: negative ts', 'POST', '/v1/records', 422, { body: { records: [rec({ ts: -1 })] }, field: 'ts' }),
  C('records: fractional ts', 'POST', '/v1/records', 422, { body: { records: [rec({ ts: 1764330000000.5 })] }, field: 'ts' }),
  C('records: costUsd "NaN"', 'POST', '/v1/records', 422, { body: { records: [rec({ costUsd: 'NaN' })] }, field: 'costUsd' }),
  C('records: costUsd over the maximum', 'POST', '/v1/records', 422, { body: { records: [rec({ costUsd: MAX_USD + 0.01 })] }, field: 'costUsd' }),
  C('records: cache writes above tokensIn', 'POST', '/v1/records', 422, { body: { records: [rec({ tokensIn: 10, cacheWriteTokensIn: 11 })] }, field: 'cachedTokensIn' }),
  C('records: empty reservationId', 'POST', '/v1/records', 422, { body: { records: [rec({ reservationId: '' })] }, field: 'reservationId' }),
  C('records: newline in idempotencyKey', 'POST', '/v1/records', 422, { body: { records: [rec({ idempotencyKey: 'k\n1' })] }, field: 'idempotencyKey' }),
  C('records: idempotencyKey of 257 characters', 'POST', '/v1/records', 422, { body: { records: [rec({ idempotencyKey: 'k'.repeat(257) })] }, field: 'idempotencyKey' }),
  C('records: lone surrogate in idempotencyKey', 'POST', '/v1/records', 422, { body: `{"records":[${JSON.stringify(rec({ idempotencyKey: 'X' })).replace('"X"', '"k\\udc00"')}]}`, field: 'idempotencyKey' }),
  C('records: a projectId field', 'POST', '/v1/records', 422, { body: { records: [rec({ projectId: 'other' })] }, field: 'projectId' }),
  C('records: body 1 byte over 1 MiB', 'POST', '/v1/records', 413, { body: padded(MIB + 1) }),

  // POST /v1/runs and /v1/runs/:id/end
  C('runs: no body', 'POST', '/v1/runs', 400, { body: '' }),
  C('runs: negative cap', 'POST', '/v1/runs', 422, { body: { budgetCapUsd: -0.01 }, field: 'budgetCapUsd' }),
  C('runs: cap 1e309', 'POST', '/v1/runs', 422, { body: '{"budgetCapUsd":1e309}', field: 'budgetCapUsd' }),
  C('runs: NUL in label', 'POST', '/v1/runs', 422, { body: { label: 'a\u0000b' }, field: 'label' }),
  C('runs: label of 257 characters', 'POST', '/v1/runs', 422, { body: { label: 'l'.repeat(257) }, field: 'label' }),
  C('runs: a runId field', 'POST', '/v1/runs', 422, { body: { budgetCapUsd: 1, runId: 'run_mine' }, field: 'runId' }),
  C("end: another project's run", 'POST', '/v1/runs/{otherRun}/end', 404),
  C('end: unknown run', 'POST', '/v1/runs/run_nosuchrun00/end', 404),
  C('end: %00 as the run id', 'POST', '/v1/runs/%00/end', 422, { field: 'run id' }),
  C('end: run id of 300 characters', 'POST', `/v1/runs/${'r'.repeat(300)}/end`, 422, { field: 'run id' }),
  C('end: broken percent-encoding', 'POST', '/v1/runs/%ZZ/end', 400),
  C('end: GET', 'GET', '/v1/runs/{run}/end', 405),

  // PUT /v1/budgets/project and /v1/budgets/users/:id
  C('budget: capUsd missing', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: { period: 'day' }, field: 'capUsd' }),
  C('budget: capUsd a string', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: { capUsd: '5' }, field: 'capUsd' }),
  C('budget: capUsd negative', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: { capUsd: -1 }, field: 'capUsd' }),
  C('budget: capUsd over the maximum', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: { capUsd: MAX_USD * 10 }, field: 'capUsd' }),
  C('budget: period "Daily"', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: { capUsd: 1, period: 'Daily' }, field: 'period' }),
  C('budget: period null', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: { capUsd: 1, period: null }, field: 'period' }),
  C('budget: an array of budgets', 'PUT', '/v1/budgets/project', 422, { key: 'admin', body: [{ capUsd: 1 }] }),
  C('budget: unknown key', 'PUT', '/v1/budgets/project', 401, { key: 'none', body: { capUsd: 1 }, headers: { authorization: 'Bearer nb_key_nosuchkey000.AAAA' } }),
  C('user budget: app key, even with a bad body', 'PUT', '/v1/budgets/users/u1', 403, { body: { capUsd: 'lots' } }),
  C('user budget: %00 as the user id', 'PUT', '/v1/budgets/users/%00', 422, { key: 'admin', body: { capUsd: 1 }, field: 'user id' }),
  C('user budget: user id of 257 characters', 'PUT', `/v1/budgets/users/${'u'.repeat(257)}`, 422, { key: 'admin', body: { capUsd: 1 }, field: 'user id' }),
  C('user budget: a lone surrogate in the path', 'PUT', '/v1/budgets/users/%ED%A0%80', 400, { key: 'admin', body: { capUsd: 1 } }),
  C('user budget: capUsd true', 'PUT', '/v1/budgets/users/u1', 422, { key: 'admin', body: { capUsd: true }, field: 'capUsd' }),
  C('user budget: a key of another project cannot see it either', 'PUT', '/v1/budgets/users/u1', 403, { key: 'other', body: { capUsd: 1 } }),

  // GET /v1/spend, /v1/events, /v1/runs
  C('spend: by=team', 'GET', '/v1/spend?by=team', 422, { field: 'by' }),
  C('spend: month 13', 'GET', '/v1/spend?since=2026-13-45', 422, { field: 'since' }),
  C('spend: since of 65 characters', 'GET', `/v1/spend?since=${'9'.repeat(65)}`, 422, { field: 'since' }),
  C('spend: an unknown parameter', 'GET', '/v1/spend?from=2026-01-01', 422, { field: 'from' }),
  C('spend: an empty runId', 'GET', '/v1/spend?runId=', 422, { field: 'runId' }),
  C('events: after=abc', 'GET', '/v1/events?after=abc', 422, { field: 'after' }),
  C('events: after=1e3', 'GET', '/v1/events?after=1e3', 422, { field: 'after' }),
  C('events: after of 16 digits', 'GET', '/v1/events?after=9999999999999999', 422, { field: 'after' }),
  C('events: limit=0', 'GET', '/v1/events?limit=0', 422, { field: 'limit' }),
  C('events: limit=1001', 'GET', '/v1/events?limit=1001', 422, { field: 'limit' }),
  C('events: kind=refund', 'GET', '/v1/events?kind=refund', 422, { field: 'kind' }),
  C('events: since month 13', 'GET', '/v1/events?since=2026-13-45', 422, { field: 'since' }),
  C('events: until of 65 characters', 'GET', `/v1/events?until=${'9'.repeat(65)}`, 422, { field: 'until' }),
  C('runs: status=OPEN', 'GET', '/v1/runs?status=OPEN', 422, { field: 'status' }),
  C('runs: empty status', 'GET', '/v1/runs?status=', 422, { field: 'status' }),
  C('runs: limit=-1', 'GET', '/v1/runs?limit=-1', 422, { field: 'limit' }),
];

beforeAll(async () => {
  t = await startTestServer();
  keys.app = await t.key('bad', 'app');
  keys.admin = await t.key('bad', 'admin');
  keys.other = await t.key('elsewhere', 'app');
  keys.revoked = await t.key('bad', 'app');
  // Revoked in the store, as `noburn keys revoke` does (not through this server's API).
  await t.store.revokeKey(keyIdOf(keys.revoked) ?? '', Date.now());
  ids.run = ((await call(t.url, 'POST', '/v1/runs', { key: keys.app, body: { budgetCapUsd: 1 } })).body as { runId: string }).runId;
  ids.otherRun = ((await call(t.url, 'POST', '/v1/runs', { key: keys.other, body: { budgetCapUsd: 1 } })).body as { runId: string }).runId;
  await call(t.url, 'PUT', '/v1/budgets/project', { key: keys.admin, body: { capUsd: 10, period: 'month' } });
  await call(t.url, 'POST', '/v1/records', { key: keys.app, body: { records: [rec({ costUsd: 0.5, endUserId: 'u1' })] } });
});
afterAll(async () => {
  await t.dispose();
});

describe(`${CASES.length} malformed requests: documented 4xx, error body, store unchanged`, () => {
  it('the table is big enough and its names are unique', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES)('$status $name', async (c) => {
    const path = c.path.replace('{run}', ids.run).replace('{otherRun}', ids.otherRun);
    const before = ledgerSnapshot(t.dbPath);
    const key = c.key === undefined || c.key === 'none' ? null : keys[c.key];
    const r = await call(t.url, c.method, path, { key, body: c.body, headers: c.headers });
    expect({ status: r.status, body: r.body }).toMatchObject({ status: c.status, body: { error: { code: CODE[c.status] } } });
    expect(ErrorBody.safeParse(r.body).success).toBe(true);
    const message = (r.body as ErrorBody).error.message;
    expect(message.length).toBeGreaterThan(0);
    if (c.field !== undefined) expect(message).toContain(c.field);
    expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  });
});

describe('edges that are not refusals', () => {
  it('a body of exactly 1 MiB is read (not 413)', async () => {
    const r = await call(t.url, 'POST', '/v1/check', { key: keys.app, body: padded(MIB) });
    expect(r).toMatchObject({ status: 200, body: { blocked: false } });
  });

  it('a surrogate pair (not a lone half) is a valid id and reads back the same', async () => {
    const user = 'emoji-\u{1F600}';
    expect((await call(t.url, 'POST', '/v1/records', { key: keys.app, body: { records: [rec({ costUsd: 0.125, endUserId: user })] } })).status).toBe(202);
    const rows = ((await call(t.url, 'GET', '/v1/spend?by=user', { key: keys.app })).body as { rows: { key: string | null; spendUsd: number }[] }).rows;
    expect(rows).toContainEqual(expect.objectContaining({ key: user, spendUsd: 0.125 }));
  });

  it('a key repeated inside one batch counts once', async () => {
    const before = t.store.db.prepare("SELECT count(*) FROM records WHERE project_id = 'bad'").pluck().get() as number;
    const a = rec({ costUsd: 0.25, idempotencyKey: 'dup-in-batch' });
    const r = await call(t.url, 'POST', '/v1/records', { key: keys.app, body: { records: [a, { ...a, costUsd: 0.5 }] } });
    expect(r).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 1 } });
    expect(t.store.db.prepare("SELECT count(*) FROM records WHERE project_id = 'bad'").pluck().get()).toBe(before + 1);
    expect(t.store.db.prepare("SELECT cost_nano FROM records WHERE idem_key = 'dup-in-batch'").pluck().all()).toEqual([250_000_000]);
  });
});

describe('requests that Node refuses before the API sees them', () => {
  const raw = (headers: string, body: string) => `POST /v1/check HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${keys.app}\r\n${headers}\r\n${body}`;

  it.each([
    ['a non-numeric Content-Length', 'content-length: abc\r\n', '{}'],
    ['both Content-Length and chunked', 'content-length: 5\r\ntransfer-encoding: chunked\r\n', '0\r\n\r\n'],
    ['a broken chunk size', 'transfer-encoding: chunked\r\n', 'zz\r\n{}\r\n0\r\n\r\n'],
  ])('%s: 400 with the JSON error body, store unchanged', async (_name, headers, body) => {
    const before = ledgerSnapshot(t.dbPath);
    const r = await rawHttp(t.url, raw(headers, body));
    expect(r.status).toBe(400);
    expect(r.headers).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'NOBURN_MALFORMED' } });
    expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  });

  it('the server is still alive afterwards', async () => {
    expect(await call(t.url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
  });
});
