/**
 * Queued records belong to a server and a project, not to a URL string and a key: another
 * spelling of the same server (trailing slash, localhost, ::1) or a rotated key of the same
 * project delivers them; rows that wait for a server or project this client no longer
 * sends to are announced (typed warning from the library, a stderr line from the CLI).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serverKey } from '../../src/lib/remote/target.js';
import type { OutboxWarning } from '../../src/lib/record-queue.js';
import { runCli, tempHome, useDist } from '../helpers/cli.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { remoteGuard, sql } from './helpers.js';

let t: TestServer;
const dist = useDist();
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
});

const rec = (idem: string) => ({ model: 'test-model', tokensIn: 10, tokensOut: 1, costUsd: 0.001, idempotencyKey: idem });
const delivered = (idem: string) => sql<{ n: number }>(t.dbPath, 'SELECT count(*) AS n FROM records WHERE idem_key = ?', idem).n;

it('normalizes the server: scheme, loopback names, default port, trailing slash; keeps a path prefix and credentials out', () => {
  const port = new URL(t.url).port;
  const want = `http://127.0.0.1:${port}`;
  for (const u of [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`, `http://localhost:${port}`, `HTTP://LOCALHOST:${port}//`, `http://[::1]:${port}/`, `http://user:pw@127.0.0.1:${port}`]) {
    expect(serverKey(u)).toBe(want);
  }
  expect(serverKey('https://noburn.example.com:443/')).toBe('https://noburn.example.com');
  expect(serverKey('https://proxy.example.com/noburn/')).toBe('https://proxy.example.com/noburn');
});

it('a key rotation and another spelling of the URL still deliver what was queued, exactly once', async () => {
  const home = tempHome();
  const port = new URL(t.url).port;
  const oldKey = await t.key('rot', 'app');
  // The client learns the key's project while the server is up.
  const g1 = remoteGuard(`http://127.0.0.1:${port}`, oldKey, home);
  g1.record(rec('rot-0'));
  await g1.flush();
  await t.stop();
  try {
    g1.record(rec('rot-1'));
    await expect(g1.flush()).rejects.toThrow(/kept in the outbox/);
    await g1.close();
  } finally {
    await t.restart();
  }
  // Rotation: a new key for the same project, the old one revoked; the URL written another way.
  const newKey = await t.key('rot', 'app');
  const oldId = sql<{ id: string }>(t.dbPath, "SELECT id FROM api_keys WHERE project_id = 'rot' ORDER BY created_at LIMIT 1").id;
  await t.store.revokeKey(oldId, Date.now());
  const g2 = remoteGuard(`http://localhost:${port}/`, newKey, home);
  try {
    expect(await g2.flush()).toMatchObject({ delivered: 1, pending: 0 });
  } finally {
    await g2.close();
  }
  expect(delivered('rot-1')).toBe(1);
});

it('rows queued before the project was ever learnt are delivered by the same key under any spelling', async () => {
  const home = tempHome();
  const port = new URL(t.url).port;
  const key = await t.key('early', 'app');
  await t.stop();
  try {
    const g = remoteGuard(`http://[::1]:${port}`, key, home, { timeoutMs: 300 });
    g.record(rec('early-1'));
    await g.close();
  } finally {
    await t.restart();
  }
  const g2 = remoteGuard(`http://127.0.0.1:${port}/`, key, home);
  try {
    expect(await g2.flush()).toMatchObject({ delivered: 1 });
  } finally {
    await g2.close();
  }
  expect(delivered('early-1')).toBe(1);
});

it('rows waiting for another project are announced: typed warning in the library, one stderr line from the CLI', async () => {
  const home = tempHome();
  const keyA = await t.key('proj-a', 'app');
  const keyB = await t.key('proj-b', 'app');
  const g1 = remoteGuard(t.url, keyA, home);
  g1.record(rec('warm-a'));
  await g1.flush();
  await t.stop();
  try {
    g1.record(rec('stray-a'));
    await g1.close();
  } finally {
    await t.restart();
  }
  const warnings: OutboxWarning[] = [];
  const g2 = remoteGuard(t.url, keyB, home, { onWarning: (w) => warnings.push(w as OutboxWarning) });
  try {
    g2.record(rec('b-1'));
    expect(await g2.flush()).toMatchObject({ delivered: 1, pending: 0 });
  } finally {
    await g2.close();
  }
  expect(warnings).toEqual([{ code: 'NOBURN_OUTBOX_WAITING', server: serverKey(t.url), projectId: 'proj-a', count: 1, message: expect.stringMatching(/1 record .*proj-a/) }]);
  expect(delivered('stray-a')).toBe(0);

  const cli = await runCli(dist.cli, ['record', '--model', 'test-model', '--tokens-in', '1', '--tokens-out', '1', '--cost', '0.001'], { home, env: { NOBURN_URL: t.url, NOBURN_API_KEY: keyB } });
  expect(cli.code).toBe(0);
  expect(cli.stderr).toMatch(/^noburn: warning: 1 record in .*outbox\.db wait for .*project "proj-a"/m);
  // Not lost: a client with project A's key delivers it.
  const g3 = remoteGuard(t.url, keyA, home);
  try {
    expect(await g3.flush()).toMatchObject({ delivered: 1 });
  } finally {
    await g3.close();
  }
  expect(delivered('stray-a')).toBe(1);
  expect(sql<{ n: number }>(join(home, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(0);
});
