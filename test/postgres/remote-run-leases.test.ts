/**
 * `noburn run --cap` in remote mode against a `serve` on PostgreSQL leases its run's room
 * (docs/run.md, "Budget leases"; docs/operations-postgres.md, "Limits"): the
 * proxy decides most calls in memory, the run cap stays exact, the spend is the sum of the
 * records, and a run ended through another client gets no raise or grant. Real processes:
 * the built CLI's `serve --store postgres://...`, `noburn run`, an official-SDK child, a fake upstream.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeUpstream } from '../fixtures/fake-upstream.js';
import { startSlowRelay } from '../fixtures/slow-relay.js';
import { runCli, serveCli, startCli, useDist, type RunOptions } from '../helpers/cli.js';
import { costNano, makeHome } from '../proxy/helpers.js';
import { until } from '../remote/helpers.js';
import { call } from '../server/helpers.js';
import { FIXTURES } from '../run/harness.js';
import { PG_URL, SKIP_TITLE, admin, dropSchemas, newSchemaName } from './pg-env.js';
import { storeUrl } from './replica-cluster.js';

const CALL_NANO = costNano('gpt-4o-mini', { tokensIn: 20, cachedTokensIn: 5, tokensOut: 12, cacheWriteTokensIn: 0 });

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('noburn run leases from a PostgreSQL serve', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('noburn run leases from a PostgreSQL serve', () => {
    const dist = useDist();
    const schemas: string[] = [];
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });
    afterAll(() => dropSchemas(schemas));

    /** Rows of the test's schema. */
    const rows = <T,>(schema: string, q: string, args: unknown[] = []) =>
      admin(async (c) => {
        await c.query(`SET search_path TO "${schema}"`);
        return (await c.query(q, args)).rows as T[];
      });

    async function setup(relayDelayMs = 0) {
      const upstream = await startFakeUpstream();
      cleanups.push(() => upstream.close());
      let openaiBase = upstream.openaiBase;
      if (relayDelayMs > 0) {
        const relay = await startSlowRelay(upstream.openaiBase, relayDelayMs);
        cleanups.push(() => relay.close());
        openaiBase = relay.url;
      }
      const server = makeHome();
      const client = makeHome();
      const work = makeHome();
      cleanups.push(() => server.cleanup(), () => client.cleanup(), () => work.cleanup());
      const schema = newSchemaName();
      schemas.push(schema);
      const store = storeUrl(schema);
      const created = await runCli(dist.cli, ['keys', 'create', '--role', 'app'], { home: server.home, env: { NOBURN_STORE: store } });
      expect(created.code, created.stderr).toBe(0);
      const key = created.stdout.trim();
      const s = await serveCli(dist.cli, server.home, ['--store', store]);
      cleanups.push(() => s.stop());
      const env = (extra: Record<string, string>): NonNullable<RunOptions['env']> => ({
        NOBURN_URL: s.url, NOBURN_API_KEY: key, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openaiBase, DIR: work.home, ...extra,
      });
      /** Requests the server answered on a route (its /metrics). */
      const served = async (route: string): Promise<number> => {
        const text = await (await fetch(`${s.url}/metrics`)).text();
        let n = 0;
        for (const l of text.split('\n')) if (l.startsWith('noburn_http_requests_total{') && l.includes(`route="${route}"`)) n += Number(l.split(' ').at(-1));
        return n;
      };
      return { upstream, client, work, env, served, url: s.url, key, schema, store, home: server.home };
    }

    // Rule (docs/api.md "Budget leases (remote runs)"): the lease API on a PostgreSQL serve: grants, raises
    // and ends of the caller's run; 404 for another project's run or lease, 409 once the run has ended.
    it("serve's /v1/leases on PostgreSQL: grant, raise and end of the caller's run; 404 elsewhere, 409 after the run's end", async () => {
      const t = await setup();
      const other = (await runCli(dist.cli, ['keys', 'create', '--role', 'app', '--project', 'other'], { home: t.home, env: { NOBURN_STORE: t.store } })).stdout.trim();
      const E = 1_000_000;
      const body = (runId: string) => ({ runId, model: 'gpt-4o-mini', holder: 'hld_test', wantNano: 8 * E, minNano: E, w0Nano: 2 * E });
      const held = async () => Number((await rows<{ h: string }>(t.schema, 'SELECT coalesce(sum(amount_nano), 0) AS h FROM holds'))[0]?.h);
      const run = (await call(t.url, 'POST', '/v1/runs', { key: t.key, body: { budgetCapUsd: 0.1 } })).body as { runId: string };
      expect((await call(t.url, 'POST', '/v1/leases', { key: t.key, body: body('run_nope') })).status).toBe(404);
      expect((await call(t.url, 'POST', '/v1/leases', { key: other, body: body(run.runId) })).status).toBe(404);
      const g = (await call(t.url, 'POST', '/v1/leases', { key: t.key, body: body(run.runId) })).body as { granted: boolean; leaseId: string };
      expect(g).toMatchObject({ granted: true, grantedNano: 8 * E, wNano: 2 * E, ttlMs: 30_000, limit: { scope: 'run', capNano: 100 * E } });
      expect(await held()).toBe(8 * E);
      expect((await call(t.url, 'POST', `/v1/leases/${g.leaseId}/raise`, { key: t.key, body: { wantNano: 2 * E } })).body).toEqual({ raisedNano: 2 * E });
      expect((await call(t.url, 'POST', `/v1/leases/${g.leaseId}/raise`, { key: other, body: { wantNano: 2 * E } })).status).toBe(404);
      expect((await call(t.url, 'POST', `/v1/leases/${g.leaseId}/end`, { key: other, body: { unusedNano: 4 * E } })).status).toBe(404);
      expect(await held()).toBe(8 * E);
      expect((await call(t.url, 'POST', `/v1/runs/${run.runId}/end`, { key: t.key })).status).toBe(200);
      expect((await call(t.url, 'POST', '/v1/leases', { key: t.key, body: body(run.runId) })).status).toBe(409);
      expect((await call(t.url, 'POST', `/v1/leases/${g.leaseId}/raise`, { key: t.key, body: { wantNano: 2 * E } })).status).toBe(409);
      expect(await held()).toBe(4 * E); // the end took back row U; row C (W = 4 E) stays until the lease ends
      expect((await call(t.url, 'POST', `/v1/leases/${g.leaseId}/end`, { key: t.key, body: { unusedNano: 4 * E } })).body).toEqual({ ended: true });
      expect(await held()).toBe(0);
    });

    // Rule: leased + held + spent <= cap with the run's lease on PostgreSQL: a burst all in flight at once approves exactly floor(cap / e).
    it('a burst through the proxy is decided from the run lease: few /v1/check, exactly floor(cap / e) approved, spend = the records', async () => {
      const t = await setup(2000);
      const burst = 200;
      const capUsd = 0.065;
      const r = await startCli(dist.cli, ['run', '--cap', String(capUsd), '--json', '--', process.execPath, join(FIXTURES, 'burst-client.mjs')], {
        home: t.client.home, env: t.env({ BURST: String(burst) }), timeoutMs: 120_000,
      }).done;
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as { runId: string };
      const calls = (JSON.parse(readFileSync(join(t.work.home, 'result.json'), 'utf8')) as { calls: { ok: boolean; status: number | null }[] }).calls;
      const approved = calls.filter((c) => c.ok).length;
      const leased = await rows<{ reservation_id: string }>(t.schema, "SELECT reservation_id FROM records WHERE run_id = $1 AND reservation_id LIKE 'L\\_%'", [summary.runId]);
      expect(leased.length).toBeGreaterThan(approved / 2);
      const e = Number((leased[0]?.reservation_id ?? '').split('.')[2]);
      expect(e).toBeGreaterThan(0);
      expect(approved).toBe(Math.floor((capUsd * 1e9) / e));
      expect(calls.filter((c) => !c.ok).every((c) => c.status === 402)).toBe(true);
      // Granted and decided in memory: the server saw far fewer checks than calls.
      expect(await t.served('/v1/leases')).toBeGreaterThan(0);
      expect(await t.served('/v1/check')).toBeLessThan(burst / 4);
      const [run] = await rows<{ status: string; spent_nano: string; calls: string }>(t.schema, 'SELECT status, spent_nano, calls FROM runs WHERE id = $1', [summary.runId]);
      expect(run).toMatchObject({ status: 'ended' });
      expect(Number(run?.calls)).toBe(approved);
      expect(Number(run?.spent_nano)).toBe(approved * CALL_NANO);
      const [sum] = await rows<{ s: string; n: string }>(t.schema, 'SELECT coalesce(sum(cost_nano), 0) AS s, count(*) AS n FROM records WHERE run_id = $1', [summary.runId]);
      expect([Number(sum?.s), Number(sum?.n)]).toEqual([approved * CALL_NANO, approved]);
      expect(t.upstream.served.length).toBe(approved);
      const [held] = await rows<{ h: string }>(t.schema, 'SELECT coalesce(sum(amount_nano), 0) AS h FROM holds WHERE run_id = $1', [summary.runId]);
      expect(Number(held?.h)).toBe(0);
    });

    // Rule: no grant or raise for an ended run: what passes after the end is at most the lease's W - approved.
    it('a run ended through another client: its leased approvals stop within W - approved, then the proxy refuses', async () => {
      const t = await setup();
      const run = startCli(dist.cli, ['run', '--cap', '1', '--json', '--', process.execPath, join(FIXTURES, 'phased-client.mjs')], {
        home: t.client.home, env: t.env({ PLAN: '5:p1,*', EXIT_CODE: '0' }), timeoutMs: 120_000,
      });
      cleanups.push(async () => {
        await run.done.catch(() => undefined);
      });
      await until(() => existsSync(join(t.work.home, 'p1')), 60_000, 'the child to reach p1');
      const [open] = await rows<{ id: string }>(t.schema, "SELECT id FROM runs WHERE status = 'open'");
      const runId = open?.id as string;
      const callsOf = async () => Number((await rows<{ calls: string }>(t.schema, 'SELECT calls FROM runs WHERE id = $1', [runId]))[0]?.calls);
      let recorded = 0;
      await until(async () => (recorded = await callsOf()) === 5, 30_000, 'the records');
      expect(recorded).toBe(5);
      expect(await t.served('/v1/leases')).toBeGreaterThan(0);
      const ended = await runCli(dist.cli, ['run', 'end', runId], { home: t.client.home, env: { NOBURN_URL: t.url, NOBURN_API_KEY: t.key } });
      expect(ended.code, ended.stderr).toBe(0);
      // After the end only rows C (W) and S (-settled) of the run's leases are held: the end took back row U.
      const lease = await rows<{ id: string; amount_nano: string }>(t.schema, "SELECT id, amount_nano FROM holds WHERE run_id = $1 AND lease_id IS NOT NULL", [runId]);
      expect(lease.length).toBeGreaterThan(0);
      expect(lease.every((x) => x.id.endsWith('.c') || x.id.endsWith('.s'))).toBe(true);
      const headroom = lease.reduce((n, x) => n + Number(x.amount_nano), 0);
      writeFileSync(join(t.work.home, 'p1.go'), '');
      const r = await run.done;
      const calls = (JSON.parse(readFileSync(join(t.work.home, 'result.json'), 'utf8')) as { calls: { ok: boolean; status: number | null }[] }).calls;
      const after = calls.slice(5);
      const [rid] = await rows<{ r: string }>(t.schema, "SELECT reservation_id AS r FROM records WHERE run_id = $1 AND reservation_id LIKE 'L\\_%'", [runId]);
      const e = Number((rid?.r ?? '').split('.')[2]);
      expect(e).toBeGreaterThan(0);
      expect(after.filter((c) => c.ok).length * e).toBeLessThanOrEqual(headroom);
      expect(after.at(-1)).toMatchObject({ ok: false, status: 402 });
      expect(after.length).toBeLessThan(100);
      expect(r.stdout).not.toBe('');
    });
  });
}
