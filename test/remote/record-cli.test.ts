/**
 * `noburn record` in remote mode: the answer says whether the record was a duplicate, and
 * when the server is down the record is queued (exit 0, "do not retry") and later counted
 * exactly once — a script that retried on a non-zero exit would have counted it twice.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { sql } from './helpers.js';

let t: TestServer;
const dist = useDist();
const homes: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const args = (key: string) => ['record', '--model', 'test-model', '--tokens-in', '100', '--tokens-out', '10', '--cost', '0.001', '--idempotency-key', key, '--json'];

it('reports a duplicate idempotency key as counted once', async () => {
  const home = tempHome();
  homes.push(home);
  writeConfig(home, { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } });
  const env = { NOBURN_URL: t.url, NOBURN_API_KEY: await t.key('rec', 'app') };
  const first = await runCli(dist.cli, args('dup-1'), { home, env });
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout)).toEqual({ accepted: 1, duplicates: 0, queued: 0 });
  const again = await runCli(dist.cli, args('dup-1'), { home, env });
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toEqual({ accepted: 0, duplicates: 1, queued: 0 });
  expect(sql<{ n: number }>(t.dbPath, "SELECT count(*) AS n FROM records WHERE idem_key = 'dup-1'").n).toBe(1);
});

it('queues the record when the server is down (exit 0), and it counts once after the server is back', async () => {
  const home = tempHome();
  homes.push(home);
  const env = { NOBURN_URL: t.url, NOBURN_API_KEY: await t.key('rec-down', 'app'), NOBURN_TIMEOUT_MS: '3000' };
  await t.stop();
  try {
    const r = await runCli(dist.cli, args('down-1'), { home, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ accepted: 0, duplicates: 0, queued: 1 });
    expect(r.stderr).toMatch(/outbox.*do not retry/);
    expect(sql<{ n: number }>(join(home, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(1);
  } finally {
    await t.restart();
  }
  // The next CLI process on this machine delivers what waits in the outbox.
  const next = await runCli(dist.cli, args('down-2'), { home, env });
  expect(next.code).toBe(0);
  const deadline = Date.now() + 10_000;
  while (sql<{ n: number }>(t.dbPath, "SELECT count(*) AS n FROM records WHERE idem_key = 'down-1'").n === 0 && Date.now() < deadline) {
    await runCli(dist.cli, ['budget', 'show', '--json'], { home, env });
  }
  expect(sql<{ n: number }>(t.dbPath, "SELECT count(*) AS n FROM records WHERE idem_key IN ('down-1', 'down-2')").n).toBe(2);
});
