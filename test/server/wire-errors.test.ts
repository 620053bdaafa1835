/**
 * One wire-error table (src/lib/wire/errors.ts): every code has one status and one client
 * error; the server answers an error with its row, and the client turns the answer back
 * into the row's error, whether it reads the code or only the status. Checked on the
 * functions, over real HTTP, and against the table in docs/api.md.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NoburnAuthError,
  NoburnBlockedError,
  NoburnConfigError,
  NoburnConflictError,
  NoburnError,
  NoburnForbiddenError,
  NoburnNotFoundError,
  NoburnStoreError,
  NoburnTimeoutError,
  NoburnUnreachableError,
  NoburnValidationError,
} from '../../src/lib/errors.js';
import { HttpClient } from '../../src/lib/remote/http-client.js';
import { WIRE_ERRORS, clientErrorFor, errorFromAnswer } from '../../src/lib/wire/errors.js';
import type { WireCode } from '../../src/lib/wire/errors.js';
import { HttpError, errorResponse } from '../../src/server/http.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

const CODES = Object.keys(WIRE_ERRORS) as WireCode[];
const body = (code: string, message: string) => JSON.stringify({ error: { code, message } });
/** An error class, as `instanceof` takes it. */
type ErrorClass = abstract new (...args: never[]) => NoburnError;

describe('the table', () => {
  it('rows that share a status share their client error, so the status alone gives the same error as the code', () => {
    for (const code of CODES) {
      const row = WIRE_ERRORS[code];
      expect(clientErrorFor(row.status), code).toBe(row.client);
      const byCode = errorFromAnswer(row.status, body(code, 'why'));
      const byStatus = errorFromAnswer(row.status, 'a proxy page, not JSON');
      expect(byCode).toBeInstanceOf(row.client.error);
      expect(byStatus.constructor, code).toBe(byCode.constructor);
      expect(byStatus.code).toBe(byCode.code);
    }
  });

  it('a code the server never answers with that status is read by the status', () => {
    // A body claiming 404's code on a 503 answer: the status decides (the server is away).
    expect(errorFromAnswer(503, body('NOBURN_NOT_FOUND', 'x'))).toBeInstanceOf(NoburnUnreachableError);
    expect(errorFromAnswer(502, '')).toBeInstanceOf(NoburnUnreachableError);
    expect(errorFromAnswer(504, '')).toBeInstanceOf(NoburnUnreachableError);
    const other = errorFromAnswer(418, body('SOMETHING_ELSE', 'teapot'));
    expect(other.code).toBe('NOBURN_INTERNAL');
    expect(other.message).toBe('the noburn server failed (HTTP 418: teapot)');
  });

  it('the HTTP layer refusals are NoburnErrors with their code and the status of their row', () => {
    for (const code of ['NOBURN_MALFORMED', 'NOBURN_TOO_LARGE', 'NOBURN_METHOD_NOT_ALLOWED', 'NOBURN_NOT_FOUND'] as const) {
      const e = new HttpError(code, 'no');
      expect(e).toBeInstanceOf(NoburnError);
      expect(e).toBeInstanceOf(HttpError);
      expect(errorResponse(e)).toEqual({ status: WIRE_ERRORS[code].status, code, message: 'no', internal: false });
      // Its library code is what a client throws for it.
      expect(errorFromAnswer(e.status, body(code, 'no')).code).toBe(e.code);
    }
    expect(new NoburnValidationError('x')).not.toBeInstanceOf(HttpError);
  });
});

describe('server -> client', () => {
  const thrown: [NoburnError, ErrorClass][] = [
    [new NoburnValidationError('bad tokens'), NoburnValidationError],
    [new NoburnConfigError('bad period'), NoburnValidationError],
    [new NoburnAuthError('unknown key'), NoburnAuthError],
    [new NoburnForbiddenError('app key'), NoburnForbiddenError],
    [new NoburnNotFoundError('no run'), NoburnNotFoundError],
    [new NoburnConflictError('ended'), NoburnConflictError],
    [new NoburnStoreError('disk full'), NoburnUnreachableError],
    [new NoburnUnreachableError('db down'), NoburnUnreachableError],
    [new NoburnTimeoutError('slow db'), NoburnUnreachableError],
  ];

  it('each library error the server throws comes back as its row says, with the message', () => {
    for (const [e, expected] of thrown) {
      const r = errorResponse(e);
      expect(r).toMatchObject({ status: WIRE_ERRORS[e.code as WireCode].status, code: e.code });
      const back = errorFromAnswer(r.status, body(r.code, r.message));
      expect(back, e.code).toBeInstanceOf(expected);
      expect(back.message).toContain(e.message);
    }
  });

  it('internal errors never leak their message', () => {
    expect(errorResponse(new NoburnError('NOBURN_INTERNAL', 'secret detail'))).toEqual({ status: 500, code: 'NOBURN_INTERNAL', message: 'internal error', internal: true });
    expect(errorResponse(new NoburnBlockedError({
          blocked: true, blockReason: 'project_budget_exceeded', estimatedCostUsd: 1, reservationId: null, remaining: {}, source: 'server', unpriced: false,
          tokensIn: 1, tokensOut: 1, clamped: false, estimate: { inputUsd: 0, outputUsd: 1 }, limit: null, maxTokensOut: null, hint: null,
        }))).toMatchObject({ status: 402, code: 'NOBURN_BLOCKED' });
  });
});

describe('over HTTP', () => {
  let t: TestServer;
  let app: string;
  let admin: string;
  const clients: HttpClient[] = [];
  const client = (key: string | null) => {
    const c = new HttpClient(t.url, key, { timeoutMs: 2000 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestServer();
    app = await t.key('wire', 'app');
    admin = await t.key('wire', 'admin');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await t.dispose();
  });

  it('what the server answers is what the client throws', async () => {
    const cases: [HttpClient, 'GET' | 'POST' | 'PUT' | 'DELETE', string, unknown, ErrorClass, WireCode][] = [
      [client(null), 'GET', '/v1/budgets', undefined, NoburnAuthError, 'NOBURN_AUTH'],
      [client(app), 'PUT', '/v1/budgets/project', { capUsd: 1 }, NoburnForbiddenError, 'NOBURN_FORBIDDEN'],
      [client(app), 'GET', '/v1/runs/run_nosuchrun00', undefined, NoburnNotFoundError, 'NOBURN_NOT_FOUND'],
      [client(app), 'GET', '/v1/nowhere', undefined, NoburnNotFoundError, 'NOBURN_NOT_FOUND'],
      [client(app), 'POST', '/v1/check', { model: 'test-model', estimatedTokensIn: -1, estimatedTokensOut: 1 }, NoburnValidationError, 'NOBURN_VALIDATION'],
      [client(admin), 'PUT', '/v1/budgets/project', { capUsd: 1, period: 'fortnight' }, NoburnValidationError, 'NOBURN_VALIDATION'],
      [client(app), 'DELETE', '/v1/check', undefined, NoburnError, 'NOBURN_METHOD_NOT_ALLOWED'],
    ];
    for (const [c, method, path, payload, cls, code] of cases) {
      const err = await c.request(method, path, payload).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, `${method} ${path}`).toBeInstanceOf(cls);
      expect((err as NoburnError).code).toBe(WIRE_ERRORS[code].client.error.errorCode ?? 'NOBURN_INTERNAL');
    }
    const run = await client(app).request<{ runId: string }>('POST', '/v1/runs', {});
    await client(app).request('POST', `/v1/runs/${run.runId}/end`);
    await expect(client(app).request('POST', `/v1/runs/${run.runId}/end`)).rejects.toBeInstanceOf(NoburnConflictError);
  });
});

it('docs/api.md lists each code with the status of its row', () => {
  const text = readFileSync(`${REPO_ROOT}/docs/api.md`, 'utf8');
  const rows = [...text.matchAll(/^\| (\d{3}) \| `(NOBURN_[A-Z_]+)` \|/gm)].map((m) => [m[2] as string, Number(m[1])] as const);
  expect(rows.length).toBeGreaterThan(8);
  for (const [code, status] of rows) expect(WIRE_ERRORS[code as WireCode]?.status, code).toBe(status);
});
