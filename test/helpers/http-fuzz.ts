/**
 * Helpers for the bad-input suites of the HTTP API (test/server/bad-payloads.test.ts,
 * test/server/fuzz.test.ts): raw HTTP for what a well-behaved client cannot send, and
 * fast-check arbitraries that build random and mutated payloads for every POST/PUT route.
 */
import fc from 'fast-check';
import { connect } from 'node:net';

/** Statuses docs/api.md documents for the routes fuzzed here (success and refusal). */
export const DOCUMENTED_STATUSES = [200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 422] as const;

export interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

/**
 * Writes `text` as is on a fresh socket to the server of `url` (127.0.0.1 only) and reads
 * until the server closes or `timeoutMs` passes, then parses the first response.
 */
export function rawHttp(url: string, text: string, timeoutMs = 3000): Promise<RawResponse> {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`rawHttp only talks to 127.0.0.1 (got ${u.hostname})`);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(data);
      if (!m) reject(new Error(`no HTTP response: ${JSON.stringify(data.slice(0, 200))}`));
      else resolve({ status: Number(m[1]), headers: m[2] ?? '', body: m[3] ?? '' });
    });
    socket.write(text);
  });
}

// ---- fuzzing ----

export type Role = 'app' | 'admin';

export interface FuzzRequest {
  method: 'POST' | 'PUT';
  path: string;
  role: Role;
  /** The exact body text, or undefined for none. */
  body: string | undefined;
  contentType: string;
}

type Obj = Record<string, unknown>;

/** Values that broke parsers somewhere once: wrong types, edges of the numeric ranges, control characters, lone surrogates. */
const NASTY: readonly unknown[] = [
  null, true, false, 0, -0, -1, 0.5, -1e-9, 1e-12, 1e21, 2 ** 53, Number.MAX_SAFE_INTEGER, 1e308,
  100_000_000, 100_000_001, 1_000_000, 1_000_000.01, '', ' ', '0', '1000', 'NaN', 'Infinity', '-1',
  'x'.repeat(256), 'x'.repeat(257), 'a\u0000b', 'a\nb', 'tab\t', '\u007f', '\ud800', 'x\udc00', '\u{1F600}',
  'test-model', 'day', 'admin', [], {}, [1], { a: 1 }, [null],
];

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
);

const id = fc.oneof(fc.constantFrom('u1', 'user-2', 'a/b', 'ü-ser', '\u{1F600}'), fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme-ascii' }));
const tokens = fc.oneof(fc.nat(5_000), fc.nat(100_000_000));
const usd = fc.oneof(fc.constantFrom(0, 0.001, 0.5, 1, 100), fc.double({ min: 0, max: 1_000, noNaN: true }));
const period = fc.constantFrom('minute', 'hour', 'day', 'week', 'month', 'total');
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

function dropUndefined(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

const validCheck = (runId: string) =>
  fc
    .record({
      model: fc.constantFrom('test-model', 'test-model', 'no-such-model'),
      estimatedTokensIn: tokens,
      estimatedTokensOut: tokens,
      endUserId: opt(id),
      runId: opt(fc.constantFrom(runId, 'run_nope')),
    })
    .map(dropUndefined);

const validRecord = (runId: string) =>
  fc
    .record({
      model: fc.constantFrom('test-model', 'no-such-model'),
      tokensIn: fc.nat(5_000),
      tokensOut: fc.nat(5_000),
      costUsd: opt(usd),
      wasBlocked: fc.boolean(),
      endUserId: opt(id),
      runId: opt(fc.constantFrom(runId, 'run_nope')),
      reservationId: opt(fc.constantFrom('res_nope')),
      // A few fixed keys so that duplicates (in a batch and across requests) come up often.
      idempotencyKey: fc.oneof(fc.constantFrom('k-1', 'k-2', 'k-3'), fc.uuid()),
      ts: opt(fc.nat(2 ** 45)),
    })
    .map(dropUndefined);

/** One operation on a JSON object: set a field (known, misspelt or unknown) or delete one. */
type Op = { kind: 'set'; key: string; value: unknown } | { kind: 'delete'; key: string };
/** What is finally done with the (mutated) value. */
type Whole = 'keep' | 'array' | 'replace' | 'truncate' | 'insert' | 'nobody';

function opsFor(keys: readonly string[]): fc.Arbitrary<Op[]> {
  const key = fc.oneof(fc.constantFrom(...keys), fc.constantFrom('extra', '__proto__', 'constructor', 'endUserID', 'projectId', ''));
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key, value: nastyValue }),
    fc.record({ kind: fc.constant('delete' as const), key }),
  );
  return fc.array(op, { maxLength: 3 });
}

const whole: fc.Arbitrary<Whole> = fc.constantFrom<Whole>('keep', 'keep', 'keep', 'keep', 'array', 'replace', 'truncate', 'insert', 'nobody');

function apply(o: Obj, ops: readonly Op[]): Obj {
  const out: Obj = { ...o };
  for (const op of ops) {
    // defineProperty: a "__proto__" key must become an own field, as JSON.parse makes it.
    if (op.kind === 'set') Object.defineProperty(out, op.key, { value: op.value, enumerable: true, writable: true, configurable: true });
    else delete out[op.key];
  }
  return out;
}

function finish(value: unknown, w: Whole, replacement: unknown, cut: number, ch: string): string | undefined {
  if (w === 'nobody') return undefined;
  if (w === 'array') return JSON.stringify([value]);
  if (w === 'replace') return JSON.stringify(replacement) ?? 'null';
  const text = JSON.stringify(value) ?? 'null';
  const at = cut % (text.length + 1);
  if (w === 'truncate') return text.slice(0, at);
  if (w === 'insert') return text.slice(0, at) + ch + text.slice(at);
  return text;
}

/** A path segment: a well-formed id, an over-long or control-character one, or broken percent-encoding. */
const pathId = (known: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant(known),
    fc.string({ unit: 'binary', maxLength: 300 }).map((s) => {
      try {
        return encodeURIComponent(s);
      } catch {
        return '%ED%A0%80'; // a lone surrogate, as UTF-8 would have to spell it
      }
    }),
    fc.constantFrom('%', '%ZZ', '%E0%A4%A', '%00', '%0A', 'x'.repeat(257), '..', '%2F'),
  );

interface Target {
  method: 'POST' | 'PUT';
  path: fc.Arbitrary<string>;
  role: Role;
  valid: fc.Arbitrary<Obj>;
  keys: readonly string[];
}

function targets(runId: string): Target[] {
  const budget = fc.record({ capUsd: fc.option(usd, { nil: null }), period: opt(period) }).map(dropUndefined);
  const recordKeys = ['model', 'tokensIn', 'tokensOut', 'cachedTokensIn', 'cacheWriteTokensIn', 'costUsd', 'wasBlocked', 'endUserId', 'runId', 'reservationId', 'idempotencyKey', 'ts'];
  return [
    { method: 'POST', path: fc.constant('/v1/check'), role: 'app', valid: validCheck(runId), keys: ['model', 'estimatedTokensIn', 'estimatedTokensOut', 'endUserId', 'runId'] },
    {
      method: 'POST',
      path: fc.constant('/v1/records'),
      role: 'app',
      // The mutations below go to the first record; the batch wrapper is mutated through `whole`.
      valid: fc.array(validRecord(runId), { minLength: 1, maxLength: 4 }).map((records) => ({ records })),
      keys: recordKeys,
    },
    { method: 'POST', path: fc.constant('/v1/runs'), role: 'app', valid: fc.record({ budgetCapUsd: opt(usd), label: opt(id) }).map(dropUndefined), keys: ['budgetCapUsd', 'label'] },
    { method: 'POST', path: pathId(runId).map((s) => `/v1/runs/${s}/end`), role: 'app', valid: fc.constant({}), keys: [] },
    { method: 'PUT', path: fc.constant('/v1/budgets/project'), role: 'admin', valid: budget, keys: ['capUsd', 'period'] },
    { method: 'PUT', path: pathId('u1').map((s) => `/v1/budgets/users/${s}`), role: 'admin', valid: budget, keys: ['capUsd', 'period'] },
    { method: 'PUT', path: fc.constant('/v1/budgets/default-user'), role: 'admin', valid: budget, keys: ['capUsd', 'period'] },
    { method: 'POST', path: fc.constant('/v1/keys'), role: 'admin', valid: fc.record({ role: opt(fc.constantFrom('app', 'admin')), label: opt(id) }).map(dropUndefined), keys: ['role', 'label'] },
  ];
}

/** Random requests over every POST/PUT route: valid payloads, mutated ones and random JSON. */
export function fuzzRequests(runId: string): fc.Arbitrary<FuzzRequest> {
  const arbs = targets(runId).map((t) =>
    fc
      .record({
        path: t.path,
        valid: t.valid,
        ops: opsFor(t.keys.length > 0 ? t.keys : ['x']),
        whole,
        replacement: fc.jsonValue({ maxDepth: 3 }),
        cut: fc.nat(),
        ch: fc.constantFrom('"', '{', '}', ',', ':', '\\', '\u0000', 'x', ' ', ']'),
        wrongRole: fc.nat(9).map((n) => n === 0),
        contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      })
      .map(({ path, valid, ops, whole: w, replacement, cut, ch, wrongRole, contentType }): FuzzRequest => {
        let value: unknown;
        if (Array.isArray(valid['records'])) {
          const [first, ...rest] = valid['records'] as Obj[];
          value = { records: [apply(first ?? {}, ops), ...rest] };
        } else {
          value = apply(valid, ops);
        }
        const role: Role = wrongRole ? (t.role === 'app' ? 'admin' : 'app') : t.role;
        return { method: t.method, path, role, body: finish(value, w, replacement, cut, ch), contentType };
      }),
  );
  return fc.oneof(...arbs);
}
