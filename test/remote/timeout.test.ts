/**
 * A server that accepts the connection and never answers: check falls back at the
 * configured timeout, not before; startRun/endRun throw NoburnTimeoutError. A closed port:
 * unreachable, at once. The deadline is checked on a fake clock (setTimeout only; the
 * server and the sockets stay real): one millisecond before it nothing has happened, at it
 * the call ends. No wall-clock figure is asserted.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NoburnTimeoutError, NoburnUnreachableError } from '../../src/lib/errors.js';
import { clientHome, remoteGuard, sql } from './helpers.js';

let hang: Server;
let hangUrl = '';
let deadUrl = '';
const sockets: Socket[] = [];
/** Called when a request's bytes reach the hanging server. */
let arrived: (() => void) | null = null;
const homes: string[] = [];
const KEY = `nb_key_abcdefghijkl.${'A'.repeat(43)}`;
const TIMEOUT = 300;
const check = { model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500 };

function home(): string {
  const h = clientHome();
  homes.push(h);
  return h;
}

beforeAll(async () => {
  hang = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.on('data', () => arrived?.()); // read the request, never answer
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
  hangUrl = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  deadUrl = `http://127.0.0.1:${(dead.address() as { port: number }).port}`;
  await new Promise<void>((r) => dead.close(() => r()));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => hang.close(() => r()));
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/**
 * Starts call() on a fake setTimeout clock, waits for its request to reach the server, and
 * moves the clock to one millisecond before the timeout (the call must not have given up:
 * gaveUp() false, by default "the call settled"), then to the timeout (now it has); returns
 * what the call settles with.
 */
async function atDeadline<T>(call: () => Promise<T>, gaveUp?: () => boolean): Promise<T> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    const reached = new Promise<void>((r) => (arrived = r));
    let settled = false;
    const p = call().finally(() => (settled = true));
    await reached;
    arrived = null;
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1);
    const ended = gaveUp ?? (() => settled);
    expect(ended(), 'gave up before the timeout').toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(ended(), 'gave up at the timeout').toBe(true);
    return await p;
  } finally {
    vi.useRealTimers();
  }
}

describe('a server that never answers', () => {
  it('check falls back at the timeout, not before: onError allow allows, source fallback', async () => {
    // onFallback: called as the guard turns to the fallback, with the cause (the fallback's
    // own work, pricing from the local cache, comes after it).
    const causes: unknown[] = [];
    const g = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT, onError: 'allow', onFallback: (e) => causes.push(e) });
    try {
      const d = await atDeadline(() => g.check(check), () => causes.length > 0);
      expect(d).toMatchObject({ blocked: false, source: 'fallback', reservationId: null, estimatedCostUsd: 0.002 });
      expect(causes).toHaveLength(1);
      expect(causes[0]).toBeInstanceOf(NoburnTimeoutError);
      expect((causes[0] as Error).message).toMatch(/did not answer within 300 ms/);
    } finally {
      await g.close();
    }
  });

  it('onError block blocks with noburn_unreachable; budgetCapUsd blocks first with local_budget_exceeded', async () => {
    const g = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT, onError: 'block' });
    const cappedHome = home();
    const capped = remoteGuard(hangUrl, KEY, cappedHome, { timeoutMs: TIMEOUT, onError: 'allow', budgetCapUsd: 0.003 });
    try {
      expect(await g.check(check)).toMatchObject({ blocked: true, blockReason: 'noburn_unreachable', source: 'fallback' });
      // 0.002 fits under 0.003; after recording 0.002 the next 0.002 does not.
      expect(await capped.check(check)).toMatchObject({ blocked: false, source: 'fallback', remaining: { projectUsd: 0.001 } });
      capped.record({ model: 'test-model', tokensIn: 1000, tokensOut: 500, costUsd: 0.002 });
      expect(await capped.check(check)).toMatchObject({ blocked: true, blockReason: 'local_budget_exceeded', source: 'fallback' });
    } finally {
      await g.close();
      // close() tries to deliver once, bounded (it returns although the server never answers),
      // and leaves the record in the outbox for the next process.
      await capped.close();
      expect(sql<{ n: number }>(join(cappedHome, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(1);
    }
  });

  it('startRun and endRun throw NoburnTimeoutError at the timeout', async () => {
    const g = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT });
    try {
      const err = await atDeadline(() => g.startRun({ budgetCapUsd: 1 }).catch((e: unknown) => e));
      expect(err).toBeInstanceOf(NoburnTimeoutError);
      expect((err as Error).message).toMatch(/did not answer within 300 ms/);
      await expect(g.endRun('run_x')).rejects.toBeInstanceOf(NoburnTimeoutError);
    } finally {
      await g.close();
    }
  });
});

describe('nothing listening', () => {
  it('check falls back at once; startRun throws NoburnUnreachableError', async () => {
    // A timeout longer than the test's own: falling back at all shows it did not wait for it.
    const g = remoteGuard(deadUrl, KEY, home(), { timeoutMs: 600_000, onError: 'allow' });
    try {
      const d = await g.check(check);
      expect(d).toMatchObject({ blocked: false, source: 'fallback' });
      await expect(g.startRun({})).rejects.toBeInstanceOf(NoburnUnreachableError);
    } finally {
      await g.close();
    }
  });

  it('an unpriced model is blocked by the fallback unless unknownModel is allow', async () => {
    const g = remoteGuard(deadUrl, KEY, home(), { timeoutMs: 500 });
    const lax = remoteGuard(deadUrl, KEY, home(), { timeoutMs: 500, unknownModel: 'allow' });
    try {
      expect(await g.check({ ...check, model: 'no-such-model-zzz' })).toMatchObject({ blocked: true, blockReason: 'unknown_model_price', unpriced: true });
      expect(await lax.check({ ...check, model: 'no-such-model-zzz' })).toMatchObject({ blocked: false, unpriced: true, source: 'fallback' });
    } finally {
      await g.close();
      await lax.close();
    }
  });
});
