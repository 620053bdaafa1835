/**
 * Budget leases end to end: two `noburn serve` processes (the built CLI) on one PostgreSQL
 * schema with leases=on in the store URL. Caps stay exact across replicas (leased + held +
 * spent <= cap), most checks are decided from leases, and a replica killed with kill -9
 * withholds its leased room only until the lease TTL and hold TTL pass.
 */
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, serveCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import type { ServeChild } from '../helpers/cli.js';
import { PG_URL, SKIP_TITLE, admin, dropSchemas, newSchemaName } from './pg-env.js';

const PRICES = { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } };
const E_NANO = 1_000_000; // the check below: 1000 input tokens at $1/MTok = $0.001
const check = { model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 0 };

interface Replica extends ServeChild {
  pool: Pool;
}

async function startReplica(cli: string, home: string, store: string): Promise<Replica> {
  const s = await serveCli(cli, home, ['--store', store]);
  return { ...s, pool: new Pool(s.url, { connections: 64 }) };
}

async function post(r: Replica, key: string, path: string, body: unknown, method: 'POST' | 'PUT' = 'POST'): Promise<{ status: number; body: unknown }> {
  const res = await r.pool.request({ path, method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, body: await res.body.json() };
}

/** The checks approved from leases, from the replica's /metrics. */
async function leasedApprovals(r: Replica): Promise<number> {
  const res = await r.pool.request({ path: '/metrics', method: 'GET' });
  const text = await res.body.text();
  const m = /^noburn_lease_events_total\{event="approved"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Spent + open holds of the project, as the database counts them (lease rows included). */
async function committed(schema: string, now = Date.now()): Promise<number> {
  return admin(async (c) => {
    const held = await c.query<{ n: string }>(`SELECT coalesce(sum(amount_nano), 0) AS n FROM "${schema}".holds WHERE project_id = 'acme' AND expires_at > $1`, [now]);
    const spent = await c.query<{ n: string }>(`SELECT coalesce(sum(cost_nano), 0) AS n FROM "${schema}".records WHERE project_id = 'acme'`);
    return Number(held.rows[0]?.n ?? 0) + Number(spent.rows[0]?.n ?? 0);
  });
}

/** Sends `n` checks over 128 concurrent connections spread over the replicas; returns how many were allowed. */
async function burst(rs: Replica[], key: string, n: number): Promise<number> {
  let next = 0;
  let allowed = 0;
  await Promise.all(
    Array.from({ length: 128 }, async (_, w) => {
      while (next < n) {
        const i = next++;
        const d = await post(rs[(i + w) % rs.length] as Replica, key, '/v1/check', check);
        expect(d.status).toBe(200);
        if (!(d.body as { blocked: boolean }).blocked) allowed++;
      }
    }),
  );
  return allowed;
}

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('serve replicas with budget leases', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('serve replicas with budget leases', () => {
    const dist = useDist();
    const schemas: string[] = [];
    const running: Replica[] = [];
    afterAll(async () => {
      for (const r of running) {
        r.child.kill('SIGKILL');
        await r.exit;
        await r.pool.close();
      }
      await dropSchemas(schemas);
    });

    async function cluster(capUsd: number, params: Record<string, string>, config: object = {}): Promise<{ a: Replica; b: Replica; key: string; schema: string }> {
      const schema = newSchemaName();
      schemas.push(schema);
      const u = new URL(PG_URL);
      u.searchParams.set('options', `-c search_path=${schema}`);
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      const store = u.toString();
      const home = tempHome();
      writeConfig(home, { ...PRICES, ...config });
      const created = await runCli(dist.cli, ['keys', 'create', '--role', 'admin', '--project', 'acme'], { home, env: { NOBURN_STORE: store } });
      expect(created.code, created.stderr).toBe(0);
      const key = created.stdout.trim();
      const [a, b] = await Promise.all([startReplica(dist.cli, home, store), startReplica(dist.cli, home, store)]);
      running.push(a, b);
      expect((await post(a, key, '/v1/budgets/project', { capUsd, period: 'day' }, 'PUT')).status).toBe(200);
      return { a, b, key, schema };
    }

    it('leases=on: 600 checks over 128 connections and two replicas approve exactly floor(cap / e), never past the cap, most from leases', async () => {
      const { a, b, key, schema } = await cluster(0.4, { leases: 'on' });
      const allowed = await burst([a, b], key, 600);
      expect(allowed).toBe(400);
      expect(await committed(schema)).toBeLessThanOrEqual(400 * E_NANO);
      const leased = (await leasedApprovals(a)) + (await leasedApprovals(b));
      expect(leased).toBeGreaterThan(300);
      expect(leased).toBeLessThanOrEqual(400);
    });

    it('kill -9 of a replica holding leases: no overshoot; after the lease and hold TTLs the other replica can use the whole room', async () => {
      // Hold TTL 10 s: nothing expires during the second burst, so its count shows what A still withholds.
      const { a, b, key, schema } = await cluster(0.4, { leases: 'on', lease_ttl_ms: '1500' }, { holdTtlSeconds: 10 });
      const first = await burst([a], key, 50);
      expect(first).toBe(50);
      expect(await leasedApprovals(a)).toBeGreaterThan(0);
      a.child.kill('SIGKILL');
      await a.exit;
      // A's approvals (row C) and its unused leased room (row U) still count: B cannot go past the cap.
      const second = await burst([b], key, 450);
      expect(first + second).toBeLessThanOrEqual(400);
      expect(await committed(schema)).toBeLessThanOrEqual(400 * E_NANO);
      // Past A's lease end + hold TTL (and B's own holds' TTL) nothing is withheld: the whole cap is usable.
      await new Promise((r) => setTimeout(r, 11_500));
      expect(await burst([b], key, 600)).toBe(400);
    });
  });
}
