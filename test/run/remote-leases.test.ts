/**
 * `noburn run` in remote mode leases its run's room from `serve` (docs/run.md, "Budget
 * leases in remote mode"; docs/api.md, "Budget leases"): the proxy decides most calls in
 * memory, the run cap stays exact, the spend is the sum of the records, and a run ended
 * through another client stops the leased approvals within W - approved. Real processes:
 * the built CLI's `serve` (SQLite), `noburn run`, an official-SDK child, a fake upstream.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeUpstream } from '../fixtures/fake-upstream.js';
import { startSlowRelay } from '../fixtures/slow-relay.js';
import { makeHome } from '../proxy/helpers.js';
import { sql, sqlAll, until } from '../remote/helpers.js';
import { runCli, serveCli, startCli, useDist, type RunOptions, type ServeChild } from '../helpers/cli.js';
import { FIXTURES } from './harness.js';
import { CALL_NANO, expectExactLeasedBurst, leasedEstimate, leasedHeadroom, resultCalls } from './leased-burst.js';

const dist = useDist();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Forwards to `target` after `delayMs`: every call of a burst is decided before any is answered (and recorded). */
async function slowRelay(target: string, delayMs: number): Promise<string> {
  const relay = await startSlowRelay(target, delayMs);
  cleanups.push(() => relay.close());
  return relay.url;
}

/** A free port on 127.0.0.1 (serve is restarted on the same one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function setup(relayDelayMs = 0, port = 0) {
  const upstream = await startFakeUpstream();
  const openaiBase = relayDelayMs > 0 ? await slowRelay(upstream.openaiBase, relayDelayMs) : upstream.openaiBase;
  const server = makeHome();
  const client = makeHome();
  const work = makeHome();
  cleanups.push(() => upstream.close(), () => server.cleanup(), () => client.cleanup(), () => work.cleanup());
  let s: ServeChild = await serveCli(dist.cli, server.home, ['--port', String(port)]);
  cleanups.push(() => s.stop());
  const key = (await runCli(dist.cli, ['keys', 'create', '--role', 'app'], { home: server.home })).stdout.trim();
  const env = (extra: Record<string, string>): NonNullable<RunOptions['env']> => ({
    NOBURN_URL: s.url,
    NOBURN_API_KEY: key,
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: openaiBase,
    DIR: work.home,
    ...extra,
  });
  const db = join(server.home, 'noburn.db');
  /** Requests the server answered on a route (its /metrics). */
  const served = async (route: string): Promise<number> => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    let n = 0;
    for (const l of text.split('\n')) if (l.startsWith('noburn_http_requests_total{') && l.includes(`route="${route}"`)) n += Number(l.split(' ').at(-1));
    return n;
  };
  const stop = () => s.stop();
  const restart = async () => {
    s = await serveCli(dist.cli, server.home, ['--port', String(port)]);
  };
  return { upstream, server, client, work, env, db, served, url: s.url, key, stop, restart };
}

it('a burst through the proxy is decided from the run lease: few /v1/check, exactly floor(cap / e) approved, spend = the records', async () => {
  const t = await setup(2000);
  const burst = 200;
  const capUsd = 0.065; // room for most of the burst: near the cap decisions go back to the server
  const r = await startCli(dist.cli, ['run', '--cap', String(capUsd), '--json', '--', process.execPath, join(FIXTURES, 'burst-client.mjs')], {
    home: t.client.home, env: t.env({ BURST: String(burst) }), timeoutMs: 120_000,
  }).done;
  expect(r.code, r.stderr).toBe(0);
  const { runId } = JSON.parse(r.stdout) as { runId: string };
  // Rule: leased + held + spent <= cap: every call of the burst is in flight at once, so the cap
  // admits exactly floor(cap / e), most from the lease; the run's end left nothing held.
  expectExactLeasedBurst({ db: t.db, workDir: t.work.home, served: t.upstream.served.length }, runId, capUsd);
  // Decided in memory: the server saw far fewer checks than calls.
  expect(await t.served('/v1/check')).toBeLessThan(burst / 4);
  expect(await t.served('/v1/leases')).toBeGreaterThan(0);
});

it('a run ended through another client: its leased approvals stop within W - approved, then the proxy refuses', async () => {
  const t = await setup();
  const run = startCli(dist.cli, ['run', '--cap', '1', '--json', '--', process.execPath, join(FIXTURES, 'phased-client.mjs')], {
    home: t.client.home, env: t.env({ PLAN: '5:p1,*', EXIT_CODE: '0' }), timeoutMs: 120_000,
  });
  await until(() => existsSync(join(t.work.home, 'p1')), 60_000, 'the child to reach p1');
  const runId = (sql<{ id: string }>(t.db, "SELECT id FROM runs WHERE status = 'open'")).id;
  // The five calls' records are in, so row C is W - approved.
  await until(() => sql<{ calls: number }>(t.db, 'SELECT calls FROM runs WHERE id = ?', runId).calls === 5, 30_000, 'the records');
  const ended = await runCli(dist.cli, ['run', 'end', runId], { home: t.client.home, env: { NOBURN_URL: t.url, NOBURN_API_KEY: t.key } });
  expect(ended.code, ended.stderr).toBe(0);
  const headroom = leasedHeadroom(t.db, runId);
  writeFileSync(join(t.work.home, 'p1.go'), '');
  const r = await run.done;
  const summary = JSON.parse(r.stdout) as { status: string };
  const calls = resultCalls(t.work.home);
  const after = calls.slice(5);
  const afterOk = after.filter((c) => c.ok).length;
  const e = leasedEstimate(t.db, runId);
  // Rule: no grant or raise for an ended run: what passes after the end is at most the lease's W - approved.
  expect(afterOk * e).toBeLessThanOrEqual(headroom);
  expect(after.at(-1)).toMatchObject({ ok: false, status: 402 });
  expect(summary.status).toBeDefined();
  expect(after.length).toBeLessThan(100);
});

it('serve goes away mid-run: the proxy approves within its lease (W - approved), then enforces the run cap itself; every record counts once', async () => {
  const port = await freePort();
  const t = await setup(0, port);
  const run = startCli(dist.cli, ['run', '--cap', '1', '--json', '--', process.execPath, join(FIXTURES, 'phased-client.mjs')], {
    home: t.client.home, env: t.env({ PLAN: '5:p1,12:p2,2', EXIT_CODE: '0', NOBURN_TIMEOUT_MS: '1000' }), timeoutMs: 120_000,
  });
  await until(() => existsSync(join(t.work.home, 'p1')), 60_000, 'the child to reach p1');
  const runId = sql<{ id: string }>(t.db, "SELECT id FROM runs WHERE status = 'open'").id;
  await until(() => sql<{ calls: number }>(t.db, 'SELECT calls FROM runs WHERE id = ?', runId).calls === 5, 30_000, 'the records');
  // Row C is W - approved: what the proxy may still approve with no server.
  const headroom = leasedHeadroom(t.db, runId);
  await t.stop();
  writeFileSync(join(t.work.home, 'p1.go'), '');
  await until(() => existsSync(join(t.work.home, 'p2')), 60_000, 'the child to reach p2');
  await t.restart();
  writeFileSync(join(t.work.home, 'p2.go'), '');
  const r = await run.done;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr.match(/enforced locally/g)).toHaveLength(1);
  const calls = resultCalls(t.work.home);
  expect(calls.every((c) => c.ok)).toBe(true);
  // Once the server is back every record is in, once: leased ones (L_), fallback ones (fbk_), and the last two.
  await until(() => sql<{ n: number }>(t.db, 'SELECT count(*) AS n FROM records WHERE run_id = ?', runId).n === 19, 30_000, 'the outbox');
  const ids = sqlAll<{ r: string }>(t.db, 'SELECT reservation_id AS r FROM records WHERE run_id = ? ORDER BY ts, rowid', runId).map((x) => x.r);
  const outage = ids.slice(5, 17);
  const leasedInOutage = outage.filter((id) => id.startsWith('L_'));
  const e = Number((ids.find((id) => id.startsWith('L_')) ?? '').split('.')[2]);
  // Rule: with the server away, a lease approves only within W - approved; the rest is the local fallback.
  expect(leasedInOutage.length * e).toBeLessThanOrEqual(headroom);
  expect(leasedInOutage.length).toBeGreaterThan(0);
  expect(outage.filter((id) => id.startsWith('fbk_')).length).toBe(12 - leasedInOutage.length);
  const stored = sql<{ status: string; spent_nano: number; calls: number }>(t.db, 'SELECT status, spent_nano, calls FROM runs WHERE id = ?', runId);
  expect(stored).toMatchObject({ status: 'ended', calls: 19, spent_nano: 19 * CALL_NANO });
});
