/**
 * Issue 7 end to end: two `noburn serve` processes (the built CLI) on one PostgreSQL
 * schema, as replicas behind a load balancer. Keys are made with `noburn keys create
 * --store postgres://...`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tempHome, useDist } from '../helpers/cli.js';
import { PG_URL, SKIP_TITLE } from './pg-env.js';
import { get, post, replicaClusters } from './replica-cluster.js';
import type { Replica } from './replica-cluster.js';

const check = { model: 'test-model', estimatedTokensIn: 30_000, estimatedTokensOut: 0 }; // $0.03
const record = (key: string) => ({ model: 'test-model', tokensIn: 1000, tokensOut: 0, costUsd: 0.000001, wasBlocked: false, idempotencyKey: key });

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('serve replicas on PostgreSQL', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('serve replicas on PostgreSQL', () => {
    const dist = useDist();
    const clusters = replicaClusters(dist);
    afterAll(() => clusters.dispose());

    /** A fresh schema, an admin key made by the CLI, a project cap, and two replicas (one NOBURN_HOME). */
    async function cluster(capUsd: number): Promise<{ a: Replica; b: Replica; key: string }> {
      const { store, key } = await clusters.project();
      const home = tempHome();
      const [a, b] = await Promise.all([clusters.replica(store, { home }), clusters.replica(store, { home })]);
      expect((await post(a, key, '/v1/budgets/project', { capUsd, period: 'day' }, 'PUT')).status).toBe(200);
      return { a, b, key };
    }

    it('128 concurrent connections over two replicas approve exactly floor(cap / estimate); records to either count once', async () => {
      const { a, b, key } = await cluster(1.0);
      const decisions = await Promise.all(Array.from({ length: 128 }, (_, i) => post(i % 2 ? b : a, key, '/v1/check', check)));
      expect(decisions.every((d) => d.status === 200)).toBe(true);
      expect(decisions.filter((d) => !(d.body as { blocked: boolean }).blocked)).toHaveLength(33);

      const sends = Array.from({ length: 60 }, (_, i) => [post(a, key, '/v1/records', { records: [record(`r-${i}`)] }), post(b, key, '/v1/records', { records: [record(`r-${i}`)] })]).flat();
      const res = await Promise.all(sends);
      expect(res.every((r) => r.status === 202)).toBe(true);
      const sum = (f: 'accepted' | 'duplicates') => res.reduce((s, r) => s + (r.body as Record<string, number>)[f]!, 0);
      expect([sum('accepted'), sum('duplicates')]).toEqual([60, 60]);
      expect(await get(b, key, '/v1/spend')).toMatchObject({ calls: 60, totalUsd: 0.00006 });
    });

    it('a replica killed with kill -9 mid-traffic loses nothing acknowledged; the other keeps serving', async () => {
      const { a, b, key } = await cluster(1000);
      const acked = new Set<string>();
      let sent = 0;
      let killed = false;
      // 8 clients send one record at a time, alternating replicas; a failure is retried on the other one.
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 40; i++) {
            const id = `k-${w}-${i}`;
            sent++;
            if (sent === 120 && !killed) {
              killed = true;
              a.child.kill('SIGKILL');
            }
            let target = (w + i) % 2 ? a : b;
            for (let attempt = 0; attempt < 3; attempt++) {
              try {
                const r = await post(target, key, '/v1/records', { records: [record(id)] });
                if (r.status === 202) {
                  acked.add(id);
                  break;
                }
              } catch {
                // connection refused or reset by the killed replica
              }
              target = target === a ? b : a;
            }
          }
        }),
      );
      expect(killed).toBe(true);
      expect(await a.exit).toBeDefined();
      expect(acked.size).toBe(320); // every record was acknowledged by one replica or the other
      const spend = (await get(b, key, '/v1/spend')) as { calls: number; totalUsd: number };
      expect(spend.calls).toBe(320); // all acknowledged, none twice
      expect(spend.totalUsd).toBe(0.00032);
      const feed = (await get(b, key, '/v1/events?after=0&limit=1000')) as { events: { kind: string; ref: string | null }[]; more: boolean };
      expect(feed.more).toBe(false);
      const refs = new Set(feed.events.filter((e) => e.kind === 'record').map((e) => e.ref));
      expect(refs.size).toBe(320);
      for (const id of acked) expect(refs.has(id)).toBe(true);
      expect((await post(b, key, '/v1/check', check)).status).toBe(200);
    });
  });
}
