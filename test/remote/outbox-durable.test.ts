/**
 * "Queued" means durably stored: when the server is down and the outbox cannot be written
 * (a file where NOBURN_HOME's folder should be, a corrupt outbox.db, a full disk), remote
 * `noburn record` exits 4 with one line saying the record was NOT recorded, and
 * `recordNow()` throws NoburnStoreError; `record()` reports through onRecordError and the
 * counts of close(). Once the server is back, retrying the record counts it once.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NoburnStoreError } from '../../src/lib/errors.js';
import { cleanEnv, runCli, tempHome, useDist } from '../helpers/cli.js';
import type { RunResult } from '../helpers/cli.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { remoteGuard, sql } from './helpers.js';

let t: TestServer;
const dist = useDist();
let key: string;
beforeAll(async () => {
  t = await startTestServer();
  key = await t.key('durable', 'app');
});
afterAll(async () => {
  await t.dispose();
});

const recordArgs = (idem: string) => ['record', '--model', 'test-model', '--tokens-in', '10', '--tokens-out', '1', '--cost', '0.002', '--idempotency-key', idem, '--json'];
const count = (idem: string) => sql<{ n: number }>(t.dbPath, 'SELECT count(*) AS n FROM records WHERE idem_key = ?', idem).n;

/** `noburn record` run through bash, so a shell limit can be set before exec. */
function recordUnder(limits: string, home: string, idem: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const q = (s: string) => `'${s}'`;
    const child = spawn('bash', ['-c', `${limits} exec ${q(process.execPath)} ${q(dist.cli)} ${recordArgs(idem).map(q).join(' ')}`], {
      env: cleanEnv({ NOBURN_HOME: home, HOME: home, NOBURN_URL: t.url, NOBURN_API_KEY: key, NOBURN_TIMEOUT_MS: '3000' }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function expectNotQueued(r: RunResult): void {
  expect(r.code).toBe(4);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^noburn: .*could not be queued.*NOT recorded/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

it('unwritable NOBURN_HOME (a file where the folder should be), corrupt outbox.db, full disk: exit 4, then counted once after a retry', async () => {
  const base = tempHome();
  writeFileSync(join(base, 'file'), 'not a folder');
  const notAFolder = join(base, 'file', 'home');
  const corrupt = tempHome();
  writeFileSync(join(corrupt, 'outbox.db'), Buffer.alloc(8192, 0x5a));
  const full = tempHome();
  await t.stop();
  try {
    expectNotQueued(await recordUnder('', notAFolder, 'dur-home'));
    expectNotQueued(await recordUnder('', corrupt, 'dur-corrupt'));
    // RLIMIT_FSIZE of 1 KiB with SIGXFSZ ignored: every SQLite write past it fails (EFBIG).
    expectNotQueued(await recordUnder("trap '' XFSZ; ulimit -f 1;", full, 'dur-full'));
  } finally {
    await t.restart();
  }
  for (const idem of ['dur-home', 'dur-corrupt', 'dur-full']) expect(count(idem)).toBe(0);
  // The caller was told to retry: it does, and each record counts exactly once.
  const home = tempHome();
  for (const idem of ['dur-home', 'dur-corrupt', 'dur-full']) {
    const r = await runCli(dist.cli, recordArgs(idem), { home, env: { NOBURN_URL: t.url, NOBURN_API_KEY: key } });
    expect(r.code).toBe(0);
    expect(count(idem)).toBe(1);
  }
});

it('library: recordNow throws NoburnStoreError; record() reports it and close() counts it rejected', async () => {
  const base = tempHome();
  writeFileSync(join(base, 'file'), 'x');
  const home = join(base, 'file', 'home');
  await t.stop();
  const errors: { e: unknown; rejected: number }[] = [];
  const g = remoteGuard(t.url, key, home, { timeoutMs: 300, onRecordError: (e, info) => errors.push({ e, rejected: info?.rejected ?? 0 }) });
  try {
    await expect(g.recordNow({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: 0.001 })).rejects.toBeInstanceOf(NoburnStoreError);
    g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: 0.001, idempotencyKey: 'lost-1' });
    await expect(g.flush()).rejects.toBeInstanceOf(NoburnStoreError);
  } finally {
    const counts = await g.close();
    await t.restart();
    expect(counts).toMatchObject({ delivered: 0, rejected: 1 });
  }
  expect(errors.some((x) => x.rejected === 1 && x.e instanceof NoburnStoreError)).toBe(true);
});

it('a writable home still queues (exit 0) and the record is in outbox.db before the process exits', async () => {
  const home = tempHome();
  mkdirSync(home, { recursive: true });
  await t.stop();
  try {
    const r = await recordUnder('', home, 'dur-ok');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ queued: 1 });
    expect(sql<{ n: number }>(join(home, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(1);
  } finally {
    await t.restart();
  }
  rmSync(home, { recursive: true, force: true });
});
