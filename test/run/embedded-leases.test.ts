/**
 * `noburn run` on the ledger file (no server) decides its proxy's calls from budget leases
 * of the run's room, as in remote mode (docs/run.md, "Budget leases"): no commit per call,
 * the run cap stays exact (a lease's whole slice is held in the ledger, where every other
 * process's check counts it), the spend is the sum of the records, and a run ended by
 * another process stops the leased approvals within W - approved. Real processes: the
 * built CLI, an official-SDK child, a fake upstream (behind a slow relay for the burst).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeUpstream } from '../fixtures/fake-upstream.js';
import { startSlowRelay } from '../fixtures/slow-relay.js';
import { makeHome } from '../proxy/helpers.js';
import { sql, until } from '../remote/helpers.js';
import { runCli, startCli, useDist, type RunOptions } from '../helpers/cli.js';
import { FIXTURES } from './harness.js';
import { expectExactLeasedBurst, leasedEstimate, leasedHeadroom, resultCalls } from './leased-burst.js';

const dist = useDist();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(relayDelayMs = 0) {
  const upstream = await startFakeUpstream();
  let openaiBase = upstream.openaiBase;
  if (relayDelayMs > 0) {
    const relay = await startSlowRelay(upstream.openaiBase, relayDelayMs);
    cleanups.push(() => relay.close());
    openaiBase = relay.url;
  }
  const client = makeHome();
  const work = makeHome();
  cleanups.push(() => upstream.close(), () => client.cleanup(), () => work.cleanup());
  const env = (extra: Record<string, string>): NonNullable<RunOptions['env']> => ({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openaiBase, DIR: work.home, ...extra });
  return { upstream, client, work, env, db: join(client.home, 'noburn.db') };
}

it('a burst through the embedded proxy is decided from the run lease: exactly floor(cap / e) approved, spend = the records, nothing left held', async () => {
  const t = await setup(2000);
  const burst = 200;
  const capUsd = 0.065; // room for most of the burst: near the cap decisions go back to the ledger
  const r = await startCli(dist.cli, ['run', '--cap', String(capUsd), '--json', '--', process.execPath, join(FIXTURES, 'burst-client.mjs')], {
    home: t.client.home, env: t.env({ BURST: String(burst) }), timeoutMs: 120_000,
  }).done;
  expect(r.code, r.stderr).toBe(0);
  const { runId } = JSON.parse(r.stdout) as { runId: string };
  // Rule: leased + held + spent <= cap; every call of the burst is in flight at once, so the cap
  // admits exactly floor(cap / e), most from the lease; the run's end ended its leases.
  expectExactLeasedBurst({ db: t.db, workDir: t.work.home, served: t.upstream.served.length }, runId, capUsd);
});

it('a live lease counts in another process\'s check; a run ended by another process stops the leased approvals within W - approved', async () => {
  const t = await setup();
  const run = startCli(dist.cli, ['run', '--cap', '1', '--json', '--', process.execPath, join(FIXTURES, 'phased-client.mjs')], {
    home: t.client.home, env: t.env({ PLAN: '5:p1,*', EXIT_CODE: '0' }), timeoutMs: 120_000,
  });
  await until(() => existsSync(join(t.work.home, 'p1')), 60_000, 'the child to reach p1');
  const runId = sql<{ id: string }>(t.db, "SELECT id FROM runs WHERE status = 'open'").id;
  await until(() => sql<{ calls: number }>(t.db, 'SELECT calls FROM runs WHERE id = ?', runId).calls === 5, 30_000, 'the records');
  // Row C of the lease is W - approved: room only this process may approve from, so every
  // other process's check counts it as held. (Row U, the rest of the grant, a decision near
  // the cap takes back.)
  const rowC = leasedHeadroom(t.db, runId);
  expect(rowC).toBeGreaterThan(0);
  const spent = sql<{ s: number }>(t.db, 'SELECT spent_nano AS s FROM runs WHERE id = ?', runId).s;
  // A check of the same run in another process for exactly the room row C leaves is allowed;
  // one token more is not (exact-m: $1 per million tokens, so a token is 1,000 nano).
  await runCli(dist.cli, ['prices', 'set', 'exact-m', '--in', '1', '--out', '1'], { home: t.client.home });
  const tokens = Math.floor((1e9 - spent - rowC) / 1000);
  const check = async (n: number) => JSON.parse((await runCli(dist.cli, ['check', '--run', runId, '--model', 'exact-m', '--tokens-in', String(n), '--tokens-out', '0', '--json'], { home: t.client.home })).stdout) as { blocked: boolean; blockReason: string | null };
  expect(await check(tokens + 1)).toMatchObject({ blocked: true, blockReason: 'run_budget_exceeded' });
  expect(await check(tokens)).toMatchObject({ blocked: false });

  const ended = await runCli(dist.cli, ['run', 'end', runId], { home: t.client.home });
  expect(ended.code, ended.stderr).toBe(0);
  const headroom = leasedHeadroom(t.db, runId);
  writeFileSync(join(t.work.home, 'p1.go'), '');
  const r = await run.done;
  expect(r.code, r.stderr).toBe(0);
  const after = resultCalls(t.work.home).slice(5);
  const e = leasedEstimate(t.db, runId);
  // Rule: no grant or raise for an ended run: what passes after the end is at most the lease's W - approved.
  expect(after.filter((c) => c.ok).length * e).toBeLessThanOrEqual(headroom);
  expect(after.at(-1)).toMatchObject({ ok: false, status: 402 });
  expect(after.length).toBeLessThan(100);
});
