/**
 * The store failing (SQLite busy past its timeout, a full disk) is `503 NOBURN_STORE`, never
 * `500 NOBURN_INTERNAL`: clients treat it as the authority being unavailable, so remote
 * `run start` exits 4 and records wait in the outbox. One table maps error classes to
 * statuses (src/server/http.ts).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { runCli, serveCli, tempHome, useDist } from '../helpers/cli.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { errorResponse } from '../../src/server/http.js';
import { call, checkBody, recordBody, startTestServer } from './helpers.js';

const dist = useDist();

it('the error table: driver errors of a failing store are 503 NOBURN_STORE; unknown errors stay 500', () => {
  const sqlite = (code: string) => Object.assign(new Error('x'), { name: 'SqliteError', code });
  for (const code of ['SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_CORRUPT', 'SQLITE_READONLY']) {
    expect(errorResponse(sqlite(code))).toMatchObject({ status: 503, code: 'NOBURN_STORE' });
  }
  expect(errorResponse(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toMatchObject({ status: 503, code: 'NOBURN_STORE' });
  expect(errorResponse(sqlite('SQLITE_CONSTRAINT_UNIQUE'))).toEqual({ status: 500, code: 'NOBURN_INTERNAL', message: 'internal error', internal: true });
  expect(errorResponse(new TypeError('boom'))).toMatchObject({ status: 500, code: 'NOBURN_INTERNAL' });
});

it('a ledger locked past the busy timeout answers 503 NOBURN_STORE; remote run start exits 4, record waits in the outbox', async () => {
  const t = await startTestServer();
  // The server's own store, with a short busy timeout so the test does not wait 10 s.
  await t.server.close();
  await t.store.close();
  const { startServer } = await import('../../src/server/server.js');
  const { TEST_PRICES } = await import('./helpers.js');
  const store = new SqliteStore(t.dbPath, { busyTimeoutMs: 200 });
  const server = await startServer({ store, settings: TEST_PRICES, processMetrics: false, port: 0 });
  const { createApiKey } = await import('../../src/server/keys.js');
  const key = (await createApiKey(store, { projectId: 'busy', role: 'app' })).key;
  const locker = new Database(t.dbPath);
  locker.pragma('busy_timeout = 0');
  locker.exec('BEGIN EXCLUSIVE');
  try {
    const r = await call(server.url, 'POST', '/v1/check', { key, body: checkBody() });
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: { code: 'NOBURN_STORE', message: expect.stringMatching(/busy/) } });
    const rec = await call(server.url, 'POST', '/v1/records', { key, body: { records: [recordBody()] } });
    expect(rec.status).toBe(503);

    const home = tempHome();
    const env = { NOBURN_URL: server.url, NOBURN_API_KEY: key, NOBURN_TIMEOUT_MS: '3000' };
    const run = await runCli(dist.cli, ['run', 'start', '--cap', '1'], { home, env });
    expect(run.code).toBe(4);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/503/);
    const queued = await runCli(dist.cli, ['record', '--model', 'test-model', '--tokens-in', '1', '--tokens-out', '1', '--cost', '0.01', '--idempotency-key', 'busy-1', '--json'], { home, env });
    expect(queued.code).toBe(0);
    expect(JSON.parse(queued.stdout)).toMatchObject({ queued: 1 });
  } finally {
    locker.exec('ROLLBACK');
    locker.close();
    await server.close(1000);
    await store.close();
    await t.dispose();
  }
});

it('a full disk (file-size limit on a real serve) answers 503 NOBURN_STORE and the server keeps running', async () => {
  const home = tempHome();
  const store = join(home, 'full.db');
  const created = await runCli(dist.cli, ['keys', 'create', '--project', 'full', '--store', store], { home });
  expect(created.code).toBe(0);
  const key = created.stdout.trim();
  // RLIMIT_FSIZE a little above what the ledger holds now (SIGXFSZ ignored: writes fail with EFBIG).
  const kb = Math.ceil(statSync(store).size / 1024) + 48;
  const s = await serveCli(dist.cli, home, ['--store', store], { limits: `trap '' XFSZ; ulimit -f ${kb};` });
  try {
    let status = 0;
    let body: unknown = null;
    for (let i = 0; i < 200 && status !== 503; i++) {
      if (s.child.exitCode !== null) throw new Error(`serve died: ${s.stderr()}`);
      const r = await call(s.url, 'POST', '/v1/records', { key, body: { records: Array.from({ length: 200 }, () => recordBody({ model: 'gpt-4o', endUserId: `user-with-a-longish-name-${i}` })) } });
      status = r.status;
      body = r.body;
      expect([202, 503]).toContain(r.status);
    }
    expect(status).toBe(503);
    expect(body).toEqual({ error: { code: 'NOBURN_STORE', message: expect.any(String) } });
    // Still up (a failed checkpoint on a timer used to kill it), and still refusing cleanly.
    expect((await call(s.url, 'GET', '/healthz')).status).toBe(200);
    expect(s.child.exitCode).toBeNull();
  } finally {
    await s.stop();
  }
});
