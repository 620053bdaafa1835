/**
 * A server that accepts the connection and never answers: check falls back within the
 * configured timeout; startRun/endRun throw NoburnTimeoutError. A closed port: unreachable.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoburnTimeoutError, NoburnUnreachableError } from '../../src/lib/errors.js';
import { clientHome, remoteGuard } from './helpers.js';

let hang: Server;
let hangUrl = '';
let deadUrl = '';
const sockets: Socket[] = [];
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
    s.resume(); // read the request, never answer
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

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

describe('a server that never answers', () => {
  it('check falls back within the timeout: onError allow allows, source fallback', async () => {
    const g = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT, onError: 'allow' });
    try {
      const { value: d, ms } = await timed(g.check(check));
      expect(d).toMatchObject({ blocked: false, source: 'fallback', reservationId: null, estimatedCostUsd: 0.002 });
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT - 20);
      expect(ms).toBeLessThan(TIMEOUT + 1500);
    } finally {
      await g.close();
    }
  });

  it('onError block blocks with noburn_unreachable; budgetCapUsd blocks first with local_budget_exceeded', async () => {
    const g = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT, onError: 'block' });
    const capped = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT, onError: 'allow', budgetCapUsd: 0.003 });
    try {
      expect(await g.check(check)).toMatchObject({ blocked: true, blockReason: 'noburn_unreachable', source: 'fallback' });
      // 0.002 fits under 0.003; after recording 0.002 the next 0.002 does not.
      expect(await capped.check(check)).toMatchObject({ blocked: false, source: 'fallback', remaining: { projectUsd: 0.001 } });
      capped.record({ model: 'test-model', tokensIn: 1000, tokensOut: 500, costUsd: 0.002 });
      expect(await capped.check(check)).toMatchObject({ blocked: true, blockReason: 'local_budget_exceeded', source: 'fallback' });
    } finally {
      await g.close();
      const { ms } = await timed(capped.close());
      // close() tries to deliver once, bounded, and leaves the record in the outbox.
      expect(ms).toBeLessThan(TIMEOUT * 2 + 2000);
    }
  });

  it('startRun and endRun throw NoburnTimeoutError within the timeout', async () => {
    const g = remoteGuard(hangUrl, KEY, home(), { timeoutMs: TIMEOUT });
    try {
      const start = g.startRun({ budgetCapUsd: 1 }).catch((e: unknown) => e);
      const { value: err, ms } = await timed(start);
      expect(err).toBeInstanceOf(NoburnTimeoutError);
      expect((err as Error).message).toMatch(/did not answer within 300 ms/);
      expect(ms).toBeLessThan(TIMEOUT + 1500);
      await expect(g.endRun('run_x')).rejects.toBeInstanceOf(NoburnTimeoutError);
    } finally {
      await g.close();
    }
  });
});

describe('nothing listening', () => {
  it('check falls back at once; startRun throws NoburnUnreachableError', async () => {
    const g = remoteGuard(deadUrl, KEY, home(), { timeoutMs: 2000, onError: 'allow' });
    try {
      const { value: d, ms } = await timed(g.check(check));
      expect(d).toMatchObject({ blocked: false, source: 'fallback' });
      expect(ms).toBeLessThan(1500);
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
