/**
 * contract §7 "bad input", fuzzed: random JSON and mutations of valid payloads for every
 * POST/PUT route of docs/api.md. Whatever arrives, the answer is a documented status below
 * 500, a refusal has the `{error: {code, message}}` body and leaves the store exactly as it
 * was, and the server still answers afterwards. Rerun a failure with FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ErrorBody } from '../../src/lib/wire/responses.js';
import { DOCUMENTED_STATUSES, fuzzRequests } from '../helpers/http-fuzz.js';
import type { FuzzRequest } from '../helpers/http-fuzz.js';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { call, checkBody, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);
const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

let t: TestServer;
const keys = { app: '', admin: '' };
let runId = '';

beforeAll(async () => {
  t = await startTestServer();
  keys.app = await t.key('fuzz', 'app');
  keys.admin = await t.key('fuzz', 'admin');
  runId = ((await call(t.url, 'POST', '/v1/runs', { key: keys.app, body: { budgetCapUsd: 1 } })).body as { runId: string }).runId;
});
afterAll(async () => {
  await t.dispose();
});

async function send(r: FuzzRequest) {
  return call(t.url, r.method, r.path, {
    key: keys[r.role],
    // call() JSON-encodes non-strings: the fuzzer's body is already the exact text.
    body: r.body,
    headers: r.body === undefined ? {} : { 'content-type': r.contentType },
  });
}

it(`${RUNS} random and mutated payloads: a documented status < 500, an error body and no change on refusal`, async () => {
  console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`);
  const seen = new Map<number, number>();
  try {
    await fc.assert(
      fc.asyncProperty(fuzzRequests(runId), async (req) => {
        const before = ledgerSnapshot(t.dbPath);
        const res = await send(req);
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status).toBeLessThan(500);
        expect(DOCUMENTED_STATUSES).toContain(res.status);
        if (res.status >= 400) {
          expect(ErrorBody.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
          expect((res.body as ErrorBody).error.message.length).toBeGreaterThan(0);
          expect(ledgerSnapshot(t.dbPath)).toEqual(before);
        }
      }),
      // No shrinking: the server's state moves on between runs, so shrunk cases would not replay.
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  } catch (e) {
    throw new Error(`fuzz failed; rerun with FUZZ_SEED=${SEED}\n${(e as Error).message}`);
  }
  console.log(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...seen].sort((a, b) => a[0] - b[0])))}`);
  // The mix must reach both sides: a fuzzer that only ever produced 422s (or only 2xx) tests little.
  const count = (lo: number, hi: number) => [...seen].filter(([s]) => s >= lo && s < hi).reduce((a, [, n]) => a + n, 0);
  expect(count(200, 300)).toBeGreaterThan(RUNS / 20);
  expect(count(400, 500)).toBeGreaterThan(RUNS / 4);
  expect(seen.get(400) ?? 0).toBeGreaterThan(0);
  expect(seen.get(422) ?? 0).toBeGreaterThan(0);

  // Still alive and still deciding.
  expect(await call(t.url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
  expect((await call(t.url, 'POST', '/v1/check', { key: keys.app, body: checkBody() })).status).toBe(200);
  expect(t.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
});
