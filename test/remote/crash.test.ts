/**
 * kill -9 of a client process mid-burst: every record it had handed to the outbox (it
 * prints "acked N" once they are in outbox.db) reaches the server exactly once, delivered
 * by the next process on the machine. Once with the server up (rows leased mid-delivery),
 * once during an outage (rows in backoff), the latter picked up by a plain `noburn check`.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanEnv, runCli, useDist, writeConfig } from '../helpers/cli.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, sql, sqlAll, until } from './helpers.js';

const dist = useDist();
let t: TestServer;
const homes: string[] = [];
const COST_NANO = 1_000;

// The burst: 20 records per turn; after the turn's setImmediate they are in outbox.db.
const BURST = `
import { NoburnGuard } from './index.js';
const g = new NoburnGuard({ onRecordError: () => {} });
const tag = process.argv[2];
g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: ${COST_NANO / 1e9}, idempotencyKey: tag + '-warm' });
await g.flush();
process.stdout.write('ready\\n');
let i = 0;
for (;;) {
  for (let j = 0; j < 20; j++) g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: ${COST_NANO / 1e9}, idempotencyKey: tag + '-' + i++ });
  await new Promise((r) => setTimeout(r, 2));
  process.stdout.write('acked ' + i + '\\n');
}
`;
const DRAIN = `
import { NoburnGuard } from './index.js';
const g = new NoburnGuard({ onRecordError: () => {} });
// A new process that records: its flush() covers what the dead one left (leases run out first).
g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: ${COST_NANO / 1e9}, idempotencyKey: 'next-process' });
await g.flush();
await g.close();
process.stdout.write('drained\\n');
`;

beforeAll(async () => {
  writeFileSync(join(dist.dir, 'burst.mjs'), BURST);
  writeFileSync(join(dist.dir, 'drain.mjs'), DRAIN);
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

// A client timeout well above a loaded machine's answer times: the rule checked here is
// exactly-once delivery after a kill, not how fast the server answers.
function env(home: string, key: string): NodeJS.ProcessEnv {
  return cleanEnv({ NOBURN_HOME: home, HOME: home, NOBURN_URL: t.url, NOBURN_API_KEY: key, NOBURN_TIMEOUT_MS: '3000' });
}

/** Starts the burst, lets `during` run once records flow, kills it with SIGKILL; returns the last acked count. */
async function burstAndKill(home: string, key: string, tag: string, during: (acked: () => number) => Promise<void>): Promise<number> {
  const child = spawn(process.execPath, [join(dist.dir, 'burst.mjs'), tag], { env: env(home, key), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_c, s) => r(s)));
  const acked = () => {
    const m = /acked (\d+)\n(?![\s\S]*acked)/.exec(out);
    return m ? Number(m[1]) : 0;
  };
  try {
    await until(() => out.includes('ready') || child.exitCode !== null, 20_000, 'the burst to start');
    expect(err).toBe('');
    await during(acked);
  } finally {
    child.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  return acked();
}

function serverKeys(project: string): Set<string> {
  return new Set(sqlAll<{ k: string }>(t.dbPath, 'SELECT idem_key AS k FROM records WHERE project_id = ?', project).map((r) => r.k));
}

function assertExactlyOnce(project: string, tag: string, acked: number): void {
  const keys = serverKeys(project);
  for (let i = 0; i < acked; i++) expect(keys.has(`${tag}-${i}`), `${tag}-${i} missing`).toBe(true);
  const n = keys.size;
  // Records past the last ack may or may not have made it; none twice.
  const usage = sql<{ spent_nano: number; calls: number }>(t.dbPath, "SELECT spent_nano, calls FROM usage WHERE project_id = ? AND scope = 'project' AND window = 'total'", project);
  expect(usage).toEqual({ spent_nano: n * COST_NANO, calls: n });
  expect(sql<{ n: number }>(t.dbPath, 'SELECT count(*) AS n FROM records WHERE project_id = ?', project).n).toBe(n);
}

it('kill -9 mid-delivery: the next process delivers the rest exactly once', async () => {
  const home = clientHome();
  homes.push(home);
  const key = await t.key('crash-up', 'app');
  const acked = await burstAndKill(home, key, 'up', async (acked) => {
    await until(() => acked() >= 400 && serverKeys('crash-up').size > 100, 20_000, 'records to flow');
  });
  expect(acked).toBeGreaterThanOrEqual(400);
  expect(sql<{ integrity_check: string }>(join(home, 'outbox.db'), 'PRAGMA integrity_check').integrity_check).toBe('ok');
  const drain = await runNode(join(dist.dir, 'drain.mjs'), env(home, key));
  expect(drain, drain).toContain('drained');
  assertExactlyOnce('crash-up', 'up', acked);
  expect(sql<{ n: number }>(join(home, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(0);
});

it('kill -9 during an outage: `noburn check` in a new process delivers the leftovers', async () => {
  const home = clientHome();
  homes.push(home);
  writeConfig(home, { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } });
  const key = await t.key('crash-down', 'app');
  let atStop = 0;
  const acked = await burstAndKill(home, key, 'down', async (acked) => {
    await until(() => acked() >= 100, 20_000, 'records to flow');
    await t.stop();
    atStop = acked();
    await until(() => acked() >= atStop + 300, 20_000, 'records during the outage');
  });
  expect(serverKeys('crash-down').size).toBeLessThan(acked);
  await t.restart();
  const res = await runCli(dist.cli, ['check', '--model', 'test-model', '--tokens-in', '10', '--tokens-out', '10'], {
    home,
    env: { NOBURN_URL: t.url, NOBURN_API_KEY: key, NOBURN_TIMEOUT_MS: '3000' },
  });
  expect(res.code).toBe(0);
  assertExactlyOnce('crash-down', 'down', acked);
  expect(sql<{ n: number }>(join(home, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(0);
});

function runNode(script: string, environment: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('error', reject);
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
