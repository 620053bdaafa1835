/**
 * Budget leases end to end: two `noburn serve` processes (the built CLI) on one PostgreSQL
 * schema with leases=on in the store URL. Caps stay exact across replicas (leased + held +
 * spent <= cap), most checks are decided from leases, and a replica killed with kill -9
 * withholds its leased room only until the lease TTL and hold TTL pass.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tempHome, useDist } from '../helpers/cli.js';
import { PG_URL, SKIP_TITLE, admin } from './pg-env.js';
import { post, replicaClusters } from './replica-cluster.js';
import type { Replica } from './replica-cluster.js';

const E_NANO = 1_000_000; // the check below: 1000 input tokens at $1/MTok = $0.001
const check = { model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 0 };
const CAP_USD = 0.4;
/** floor(cap / e): the checks the cap admits. */
const FITS = Math.floor((CAP_USD * 1e9) / E_NANO);

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

/** Polls until the database counts exactly `nano` for the project (spent + live holds); bounded at 30 s. */
async function untilCommitted(schema: string, nano: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await committed(schema)) !== nano) {
    if (Date.now() > deadline) throw new Error(`the project still counts ${await committed(schema)} nano, not ${nano}`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
    const clusters = replicaClusters(dist);
    afterAll(() => clusters.dispose());

    async function cluster(capUsd: number, params: Record<string, string>, config: object = {}): Promise<{ a: Replica; b: Replica; key: string; schema: string }> {
      const { schema, store, key } = await clusters.project(params);
      const home = tempHome();
      const [a, b] = await Promise.all([clusters.replica(store, { home, config }), clusters.replica(store, { home, config })]);
      expect((await post(a, key, '/v1/budgets/project', { capUsd, period: 'day' }, 'PUT')).status).toBe(200);
      return { a, b, key, schema };
    }

    // Rule (operations-postgres.md, "Near the cap"): never past the cap; what a burst leaves
    // unapproved is only headroom a replica still holds in a lease (W - approved), and it comes
    // back when that lease ends (here: 5 s idle), so all told exactly floor(cap / e) are approved.
    it('leases=on: 600 checks over 128 connections and two replicas never pass the cap, most from leases; once the leases end, exactly floor(cap / e)', async () => {
      const { a, b, key, schema } = await cluster(CAP_USD, { leases: 'on' });
      const allowed = await burst([a, b], key, 600);
      expect(allowed).toBeLessThanOrEqual(FITS);
      expect(await committed(schema)).toBeLessThanOrEqual(FITS * E_NANO);
      const leased = (await leasedApprovals(a)) + (await leasedApprovals(b));
      expect(leased).toBeGreaterThan(300);
      expect(leased).toBeLessThanOrEqual(allowed);
      // Idle past 5 s, each replica ends its leases: their headroom returns to the pool, and
      // the database then counts the approvals alone.
      await untilCommitted(schema, allowed * E_NANO);
      const later = await burst([a, b], key, 200);
      expect(allowed + later).toBe(FITS);
      expect(await committed(schema)).toBe(FITS * E_NANO);
    });

    it('kill -9 of a replica holding leases: no overshoot; after the lease and hold TTLs the other replica can use the whole room', async () => {
      // Hold TTL 10 s: nothing expires during the second burst, so its count shows what A still withholds.
      const { a, b, key, schema } = await cluster(CAP_USD, { leases: 'on', lease_ttl_ms: '1500' }, { holdTtlSeconds: 10 });
      const first = await burst([a], key, 50);
      expect(first).toBe(50);
      expect(await leasedApprovals(a)).toBeGreaterThan(0);
      a.child.kill('SIGKILL');
      await a.exit;
      // A's approvals (rows C and S) and its unused leased room (row U) still count: B cannot go past the cap.
      const second = await burst([b], key, 450);
      expect(first + second).toBeLessThanOrEqual(FITS);
      expect(await committed(schema)).toBeLessThanOrEqual(FITS * E_NANO);
      // Past A's lease end + hold TTL (and B's own holds' TTL) nothing is withheld: the whole cap is usable.
      await untilCommitted(schema, 0);
      expect(await burst([b], key, 600)).toBe(FITS);
    });
  });
}
