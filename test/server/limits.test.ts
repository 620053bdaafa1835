/**
 * Idle or slow connections never starve `noburn serve`: headers, request and keep-alive
 * timeouts close them, a request too slow to arrive gets 408 (not 400), and a connection
 * limit below the descriptor limit keeps room for clients that ask something (at the
 * limit the oldest idle socket is closed). Real `serve` children, real sockets.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { expect, it } from 'vitest';
import { runCli, serveCli, tempHome, useDist } from '../helpers/cli.js';
import { checkBody } from './helpers.js';

const dist = useDist();

function openIdle(url: string, n: number): Promise<Socket[]> {
  const u = new URL(url);
  return Promise.all(
    Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
      const s = connect(Number(u.port), u.hostname);
      s.on('error', () => {});
      // Resolved either way: past the limit the server may close it at once.
      s.once('connect', () => resolve(s));
      s.once('close', () => resolve(s));
    })),
  );
}

async function keyFor(home: string, store: string): Promise<string> {
  const r = await runCli(dist.cli, ['keys', 'create', '--project', 'p', '--store', store], { home });
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

it('300 idle sockets against a 256-descriptor limit: the server keeps answering real clients', async () => {
  const home = tempHome();
  const store = join(home, 'served.db');
  const key = await keyFor(home, store);
  const s = await serveCli(dist.cli, home, ['--store', store], { limits: 'ulimit -n 256;' });
  const idle: Socket[] = [];
  try {
    idle.push(...(await openIdle(s.url, 300)));
    for (let i = 0; i < 5; i++) {
      const health = await request(`${s.url}/healthz`, { headersTimeout: 5000, bodyTimeout: 5000 });
      expect(health.statusCode).toBe(200);
      await health.body.text();
      const r = await request(`${s.url}/v1/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(checkBody({ model: 'gpt-4o' })),
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      expect(r.statusCode).toBe(200);
      expect(((await r.body.json()) as { blocked: boolean }).blocked).toBe(false);
    }
    expect(s.child.exitCode).toBeNull();
  } finally {
    for (const sock of idle) sock.destroy();
    await s.stop();
  }
});

it('a request whose headers do not arrive in time gets 408 with the error body; an idle socket is closed', async () => {
  const home = tempHome();
  const s = await serveCli(dist.cli, home, ['--store', join(home, 'x.db'), '--headers-timeout-ms', '300']);
  try {
    const u = new URL(s.url);
    const slow = connect(Number(u.port), u.hostname);
    let answer = '';
    slow.setEncoding('utf8').on('data', (d: string) => (answer += d));
    const slowClosed = new Promise<void>((r) => slow.once('close', () => r()));
    slow.write('POST /v1/check HTTP/1.1\r\nHost: x\r\n');
    const silent = connect(Number(u.port), u.hostname);
    const silentClosed = new Promise<void>((r) => silent.once('close', () => r()));
    await Promise.all([slowClosed, silentClosed]);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'NOBURN_REQUEST_TIMEOUT', message: expect.any(String) } });
  } finally {
    await s.stop();
  }
});

it('bad limit flags are usage errors (exit 2)', async () => {
  const home = tempHome();
  for (const args of [['--max-connections', '0'], ['--headers-timeout-ms', 'soon'], ['--keep-alive-timeout-ms', '-1']]) {
    const r = await runCli(dist.cli, ['serve', '--port', '0', ...args], { home });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
});
