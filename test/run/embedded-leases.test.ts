/**
 * `noburn run` on the ledger file (no server) decides its proxy's calls from budget leases
 * of the run's room, as in remote mode (docs/run.md, "Budget leases"): no commit per call,
 * the run cap stays exact (a lease's whole slice is held in the ledger, where every other
 * process's check counts it), the spend is the sum of the records, and a run ended by
 * another process stops the leased approvals within W - approved. Real processes: the
 * built CLI, an official-SDK child, a fake upstream (behind a slow relay for the burst).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startFakeUpstream } from '../fixtures/fake-upstream.js';
import { startSlowRelay } from '../fixtures/slow-relay.js';
import { costNano, makeHome } from '../proxy/helpers.js';
import { sql, sqlAll, until } from '../remote/helpers.js';
import { runCli, startCli, useDist, type RunOptions } from '../helpers/cli.js';
import { FIXTURES } from './harness.js';

const CALL_NANO = costNano('gpt-4o-mini', { tokensIn: 20, cachedTokensIn: 5, tokensOut: 12, cacheWriteTokensIn: 0 });
const LEASED_C = "id LIKE 'L\\_%.c' ESCAPE '\\'";

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

const resultCalls = (dir: string) => (JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { calls: { ok: boolean; status: number | null }[] }).calls;

it('a burst through the embedded proxy is decided from the run lease: exactly floor(cap / e) approved, spend = the records, nothing left held', async () => {
  const t = await setup(2000);
  const burst = 200;
  const capUsd = 0.065; // room for most of the burst: near the cap decisions go back to the ledger
  const r = await startCli(dist.cli, ['run', '--cap', String(capUsd), '--json', '--', process.execPath, join(FIXTURES, 'burst-client.mjs')], {
    home: t.client.home, env: t.env({ BURST: String(burst) }), timeoutMs: 120_000,
  }).done;
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout) as { runId: string };
  const approved = resultCalls(t.work.home).filter((c) => c.ok).length;
  // Most calls were approved from the lease: their reservation ids name it (L_<lease>.<seq>.<estimate>...).
  const leased = sqlAll<{ reservation_id: string }>(t.db, "SELECT reservation_id FROM records WHERE run_id = ? AND reservation_id LIKE 'L\\_%' ESCAPE '\\'", summary.runId);
  expect(leased.length).toBeGreaterThan(approved / 2);
  const e = Number((leased[0]?.reservation_id ?? '').split('.')[2]);
  expect(e).toBeGreaterThan(0);
  // Rule: leased + held + spent <= cap; every call of the burst is in flight at once, so the cap admits exactly floor(cap / e).
  expect(approved).toBe(Math.floor((capUsd * 1e9) / e));
  expect(resultCalls(t.work.home).filter((c) => !c.ok).every((c) => c.status === 402)).toBe(true);
  const run = sql<{ status: string; spent_nano: number; calls: number }>(t.db, 'SELECT status, spent_nano, calls FROM runs WHERE id = ?', summary.runId);
  const sum = sql<{ s: number; n: number }>(t.db, 'SELECT coalesce(sum(cost_nano), 0) AS s, count(*) AS n FROM records WHERE run_id = ?', summary.runId);
  expect(run).toMatchObject({ status: 'ended', calls: approved, spent_nano: sum.s });
  expect(sum).toEqual({ s: approved * CALL_NANO, n: approved });
  expect(t.upstream.served.length).toBe(approved);
  // The run's end ended its leases: nothing of them is held any more.
  expect(sql<{ h: number }>(t.db, 'SELECT coalesce(sum(amount_nano), 0) AS h FROM holds WHERE run_id = ?', summary.runId).h).toBe(0);
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
  const rowC = sql<{ h: number }>(t.db, `SELECT coalesce(sum(amount_nano), 0) AS h FROM holds WHERE run_id = ? AND ${LEASED_C}`, runId).h;
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
  const headroom = sqlAll<{ a: number }>(t.db, `SELECT amount_nano AS a FROM holds WHERE run_id = ? AND ${LEASED_C}`, runId).reduce((n, x) => n + x.a, 0);
  writeFileSync(join(t.work.home, 'p1.go'), '');
  const r = await run.done;
  expect(r.code, r.stderr).toBe(0);
  const after = resultCalls(t.work.home).slice(5);
  const e = Number((sql<{ r: string }>(t.db, "SELECT reservation_id AS r FROM records WHERE run_id = ? AND reservation_id LIKE 'L\\_%' ESCAPE '\\'", runId)?.r ?? '').split('.')[2]);
  // Rule: no grant or raise for an ended run: what passes after the end is at most the lease's W - approved.
  expect(after.filter((c) => c.ok).length * e).toBeLessThanOrEqual(headroom);
  expect(after.at(-1)).toMatchObject({ ok: false, status: 402 });
  expect(after.length).toBeLessThan(100);
});
