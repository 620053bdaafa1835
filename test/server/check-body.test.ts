/**
 * POST /v1/check refusals are zod's, word for word, whether or not the body went through
 * the hand-checked fast path first (src/lib/wire/check-fast.ts): each malformed body below
 * is a 422 NOBURN_VALIDATION with the message zod gave before the fast path existed, and
 * the store is unchanged. Valid bodies, with every optional field, are answered 200.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOKENS } from '../../src/lib/validate.js';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { call, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
let key = '';

beforeAll(async () => {
  t = await startTestServer();
  key = await t.key('fast', 'app');
});
afterAll(async () => {
  await t.dispose();
});

const ok = { model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500 };

/** [case, body, the message zod answers with] */
const REFUSED: [string, unknown, string][] = [
  ["an array", [ok], "Invalid input: expected object, received array"],
  ["an empty object", {}, "model: Invalid input: expected string, received undefined"],
  ["model missing", { estimatedTokensIn: 1, estimatedTokensOut: 1 }, "model: Invalid input: expected string, received undefined"],
  ["model empty", { ...ok, model: '' }, "model: Too small: expected string to have >=1 characters"],
  ["model 257 characters", { ...ok, model: 'm'.repeat(257) }, "model: Too big: expected string to have <=256 characters"],
  ["model a number", { ...ok, model: 7 }, "model: Invalid input: expected string, received number"],
  ["estimatedTokensIn negative", { ...ok, estimatedTokensIn: -1 }, "estimatedTokensIn: Too small: expected number to be >=0"],
  ["estimatedTokensIn fractional", { ...ok, estimatedTokensIn: 1.5 }, "estimatedTokensIn: Invalid input: expected int, received number"],
  ["estimatedTokensOut missing", { model: 'test-model', estimatedTokensIn: 1 }, "estimatedTokensOut: Invalid input: expected number, received undefined"],
  ["estimatedTokensOut over the maximum", { ...ok, estimatedTokensOut: MAX_TOKENS + 1 }, "estimatedTokensOut: Too big: expected number to be <=100000000"],
  ["endUserId a number", { ...ok, endUserId: 5 }, "endUserId: Invalid input: expected string, received number"],
  ["endUserId with a newline", { ...ok, endUserId: 'a\nb' }, "endUserId: must not contain control characters or lone surrogates"],
  ["runId empty", { ...ok, runId: '' }, "runId: Too small: expected string to have >=1 characters"],
  ["clamp a string", { ...ok, clamp: 'yes' }, "clamp: Invalid input: expected boolean, received string"],
  ["minTokensOut negative", { ...ok, minTokensOut: -3 }, "minTokensOut: Too small: expected number to be >=0"],
  ["provider an object", { ...ok, provider: {} }, "provider: Invalid input: expected string, received object"],
  ["tokensInSource unknown", { ...ok, tokensInSource: 'guess' }, "tokensInSource: Invalid option: expected one of \"exact\"|\"tokenizer\""],
  ["tags an array", { ...ok, tags: ['a'] }, "tags: Invalid input: expected record, received array"],
  ["tags a number value", { ...ok, tags: { feature: 1 } }, "tags.feature: Invalid input: expected string, received number"],
  ["a misspelt field", { ...ok, endUserID: 'u' }, "Unrecognized key: \"endUserID\""],
  ["two unknown fields", { ...ok, foo: 1, bar: 2 }, "Unrecognized keys: \"foo\", \"bar\""],
];

describe('POST /v1/check: refusals keep zod\'s messages', () => {
  it.each(REFUSED)('%s', async (_name, body, message) => {
    const before = ledgerSnapshot(t.dbPath);
    const r = await call(t.url, 'POST', '/v1/check', { key, body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ error: { code: 'NOBURN_VALIDATION', message } });
    expect(ledgerSnapshot(t.dbPath)).toEqual(before);
  });

  it('valid bodies, bare and with every optional field (null or set), are allowed', async () => {
    const full = { ...ok, endUserId: 'u1', runId: null, clamp: true, minTokensOut: 10, provider: 'openai', tokensInSource: 'tokenizer', tags: { feature: 'search' } };
    const nulls = { ...ok, endUserId: null, runId: null, clamp: null, minTokensOut: null, provider: null, tokensInSource: null, tags: null };
    for (const body of [ok, full, nulls]) {
      const r = await call(t.url, 'POST', '/v1/check', { key, body });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ blocked: false });
    }
  });
});
