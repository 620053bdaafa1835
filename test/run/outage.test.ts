/**
 * An outage never lifts a run cap: with `noburn serve` killed mid-run, `noburn run`'s
 * proxy enforces the run's cap itself (holding in-flight estimates), warns once, keeps the
 * child's exit code, prints the summary, and the run ends once the server is back.
 * Real processes throughout: the built CLI's `serve` (SIGKILLed and restarted on the same
 * port and store), `noburn run`, and an official-SDK child.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../fixtures/fake-upstream.js';
import { costNano, makeHome } from '../proxy/helpers.js';
import { sql, until } from '../remote/helpers.js';
import { runCli, serveCli, startCli, useDist, type RunOptions, type ServeChild } from '../helpers/cli.js';
import { FIXTURES } from './harness.js';

const CAP_USD = 0.002;
const CALL_NANO = costNano('gpt-4o-mini', { tokensIn: 20, cachedTokensIn: 5, tokensOut: 12, cacheWriteTokensIn: 0 });

const dist = useDist();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `noburn serve` on a fixed port (restarted on the same one), SIGKILLed by stop(). */
const serve = (home: string, port: number): Promise<ServeChild> => serveCli(dist.cli, home, ['--port', String(port)]);

async function setup() {
  const upstream: FakeUpstream = await startFakeUpstream();
  const server = makeHome();
  const client = makeHome();
  const work = makeHome();
  cleanups.push(() => upstream.close(), () => server.cleanup(), () => client.cleanup(), () => work.cleanup());
  const port = await freePort();
  let s = await serve(server.home, port);
  cleanups.push(() => s.stop());
  const key = (await runCli(dist.cli, ['keys', 'create', '--role', 'app'], { home: server.home })).stdout.trim();
  expect(key).toMatch(/^nb_key_/);
  const env = (plan: string, exitCode: number): NonNullable<RunOptions['env']> => ({
    NOBURN_URL: `http://127.0.0.1:${port}`,
    NOBURN_API_KEY: key,
    NOBURN_TIMEOUT_MS: '1000',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: upstream.openaiBase,
    DIR: work.home,
    PLAN: plan,
    EXIT_CODE: String(exitCode),
  });
  /** `noburn ...args` as the client, its child following `plan`. */
  const start = (args: string[], plan: string, exitCode: number) => startCli(dist.cli, args, { home: client.home, env: env(plan, exitCode), timeoutMs: 120_000 });
  const phase = async (name: string) => {
    await until(() => existsSync(join(work.home, name)), 30_000, `the child to reach ${name}`);
    return JSON.parse(readFileSync(join(work.home, name), 'utf8')) as { calls: { ok: boolean; status: number | null }[] };
  };
  const go = (name: string) => writeFileSync(join(work.home, `${name}.go`), '');
  const storeRun = (runId: string) =>
    sql<{ status: string; spent_nano: number; calls: number; exhausted: number }>(join(server.home, 'noburn.db'), 'SELECT status, spent_nano, calls, exhausted FROM runs WHERE id = ?', runId);
  return {
    upstream,
    client,
    env,
    start,
    phase,
    go,
    storeRun,
    stop: () => s.stop(),
    restart: async () => {
      s = await serve(server.home, port);
    },
  };
}

const runArgs = ['run', '--cap', String(CAP_USD), '--json', '--', process.execPath, join(FIXTURES, 'phased-client.mjs')];

it('serve killed mid-run: the run cap holds locally, the child is refused at the cap, and the server takes over again when it is back', async () => {
  const t = await setup();
  const run = t.start(runArgs, '3:p1,*:p2,2', 7);
  const p1 = await t.phase('p1');
  expect(p1.calls.every((c) => c.ok)).toBe(true);
  await t.stop();
  t.go('p1');

  // During the outage the child calls until refused: by the run cap, with a 402.
  const p2 = await t.phase('p2');
  const outage = p2.calls.slice(3);
  expect(outage.at(-1)).toMatchObject({ ok: false, status: 402 });
  const approved = p2.calls.filter((c) => c.ok).length;
  // Every approved call (held at its estimate while in flight) fits under the cap.
  expect(approved * CALL_NANO).toBeLessThanOrEqual(CAP_USD * 1e9);
  expect(approved).toBeGreaterThan(3);

  await t.restart();
  t.go('p2');
  const r = await run.done;
  // The child's own exit code, the summary, and one warning.
  expect(r.code, r.stderr).toBe(7);
  const summary = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(summary).toMatchObject({ status: 'exhausted', exitCode: 7, endQueued: false });
  expect(r.stderr.match(/enforced locally/g)).toHaveLength(1);

  // After the restart, the server (with the outage's records delivered) refuses too.
  const all = JSON.parse(readFileSync(join(t.env('', 0)['DIR'] as string, 'result.json'), 'utf8')) as { calls: { ok: boolean; status: number | null }[] };
  expect(all.calls.slice(-2)).toEqual([expect.objectContaining({ status: 402 }), expect.objectContaining({ status: 402 })]);
  expect(all.calls.filter((c) => c.ok).length).toBe(approved);

  // The ledger holds every call the upstream served, exactly once, and nothing past the cap.
  expect(t.upstream.served.length).toBe(approved);
  const stored = t.storeRun(summary['runId'] as string);
  expect(stored).toMatchObject({ status: 'ended', calls: approved, spent_nano: approved * CALL_NANO });
  expect(stored.spent_nano).toBeLessThanOrEqual(CAP_USD * 1e9);
});

it('the child ends during the outage: its exit code and the summary; the run is ended once the server is back', async () => {
  const t = await setup();
  const run = t.start(runArgs, '2:p1,3', 3);
  await t.phase('p1');
  await t.stop();
  t.go('p1');
  const r = await run.done;
  expect(r.code, r.stderr).toBe(3);
  const summary = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(summary).toMatchObject({ status: 'completed', exitCode: 3, endQueued: true, calls: 5 });
  expect(Math.round((summary['spendUsd'] as number) * 1e9)).toBe(5 * CALL_NANO);
  expect(r.stderr.match(/enforced locally/g)).toHaveLength(1);
  expect(r.stderr).toMatch(/ends when it answers again/);
  const runId = summary['runId'] as string;
  // The server has at most the calls before the outage (their delivery is in the background).
  const before = t.storeRun(runId);
  expect(before.status).toBe('open');
  expect(before.calls).toBeLessThanOrEqual(2);

  // The next noburn process that reaches the server delivers the records, then the end.
  await t.restart();
  const list = await t.start(['run', 'list', '--json'], '', 0).done;
  expect(list.code, list.stderr).toBe(0);
  expect(t.storeRun(runId)).toMatchObject({ status: 'ended', calls: 5, spent_nano: 5 * CALL_NANO });
  expect(t.upstream.served.length).toBe(5);
});
