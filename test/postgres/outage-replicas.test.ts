/**
 * Two `noburn serve` processes (the built CLI) on one PostgreSQL schema, each reaching the
 * database through its own TCP relay, under concurrent traffic of checks and records; the
 * relays are cut for 10 s and restored. An outage never lifts a cap: no check is approved
 * while the database is away (no leases: every one is blocked noburn_unreachable); queued
 * means stored: every acknowledged record is counted exactly once once it is back. And a
 * replica killed with kill -9 while it holds queued records replays them at its next start.
 */
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { tempHome, useDist } from '../helpers/cli.js';
import { PG_URL, SKIP_TITLE, admin } from './pg-env.js';
import { Relay } from './relay.js';
import { post, replicaClusters } from './replica-cluster.js';
import type { Replica as ServeReplica } from './replica-cluster.js';

const CHECK = { model: 'test-model', estimatedTokensIn: 30_000, estimatedTokensOut: 0 }; // $0.03
const RECORD_NANO = 1_000_000; // $0.001 each

interface Replica extends ServeReplica {
  relay: Relay;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function health(r: Replica): Promise<{ degraded?: boolean; queued?: number }> {
  const res = await request(`${r.url}/healthz`);
  return (await res.body.json()) as { degraded?: boolean; queued?: number };
}

/** Waits until the replica reaches its database and its queue is empty. */
async function settled(r: Replica): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const h = await health(r);
    if (h.degraded === false && h.queued === 0) return;
    if (Date.now() > until) throw new Error(`replica did not replay its queue: ${JSON.stringify(h)}`);
    await sleep(50);
  }
}

const record = (id: string, reservationId: string | null) => ({
  model: 'test-model', tokensIn: 1000, tokensOut: 0, costUsd: RECORD_NANO / 1e9, wasBlocked: false, idempotencyKey: id, ...(reservationId ? { reservationId } : {}),
});

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('serve replicas through a PostgreSQL outage', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('serve replicas through a PostgreSQL outage', () => {
    const dist = useDist();
    const clusters = replicaClusters(dist);
    afterAll(() => clusters.dispose());
    const project = () => clusters.project();

    /** A replica with its own NOBURN_HOME (its own queue file), reaching the store through `relay`. */
    async function replica(store: string, relay: Relay, home = tempHome()): Promise<Replica & { home: string }> {
      clusters.track({ stop: () => relay.cut() });
      return { ...(await clusters.replica(relay.url(store), { home, connections: 16 })), relay };
    }

    const dbRecords = (schema: string) =>
      admin(async (c) => (await c.query<{ idem_key: string; cost_nano: string }>(`SELECT idem_key, cost_nano FROM "${schema}".records WHERE project_id = 'acme'`)).rows);

    it('a 10 s cut mid-traffic: no check approved while the database is away, every acknowledged record counted exactly once after', async () => {
      const { store, key, schema } = await project();
      const [ra, rb] = await Promise.all([Relay.toTestDb(), Relay.toTestDb()]);
      const a = await replica(store, ra);
      const b = await replica(store, rb);
      expect((await post(a, key, '/v1/budgets/project', { capUsd: 1000, period: 'day' }, 'PUT')).status).toBe(200);

      const acked = new Set<string>();
      const refused: string[] = [];
      const checks: { sentAt: number; doneAt: number; status: number; blocked: boolean; reason: unknown; source: unknown }[] = [];
      let cutAt = Infinity;
      let restoredAt = Infinity;
      let stop = false;
      // 8 clients, alternating replicas: a check, then a record (with the hold when allowed).
      const clients = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const r = (w + i) % 2 ? a : b;
          const sentAt = Date.now();
          const c = await post(r, key, '/v1/check', CHECK);
          checks.push({ sentAt, doneAt: Date.now(), status: c.status, blocked: c.body['blocked'] === true, reason: c.body['blockReason'], source: c.body['source'] });
          const id = `k-${w}-${i}`;
          const rec = await post(r, key, '/v1/records', { records: [record(id, (c.body['reservationId'] as string | null | undefined) ?? null)] });
          if (rec.status === 202) acked.add(id);
          else refused.push(`${rec.status} ${JSON.stringify(rec.body)}`);
          await sleep(20);
        }
      });
      await sleep(2000);
      cutAt = Date.now();
      await Promise.all([ra.cut(), rb.cut()]);
      await sleep(10_000);
      await Promise.all([ra.open(), rb.open()]);
      restoredAt = Date.now();
      await sleep(2000);
      stop = true;
      await Promise.all(clients);
      await Promise.all([settled(a), settled(b)]);

      expect(refused).toEqual([]);
      expect(checks.every((c) => c.status === 200)).toBe(true);
      const during = checks.filter((c) => c.sentAt > cutAt && c.doneAt < restoredAt);
      const before = checks.filter((c) => c.doneAt < cutAt);
      expect(before.length).toBeGreaterThan(10);
      expect(before.every((c) => !c.blocked)).toBe(true);
      expect(during.length).toBeGreaterThan(10);
      // Rule: an outage never lifts a cap (no lease here: nothing is approved offline).
      expect(during.filter((c) => !c.blocked)).toEqual([]);
      expect(new Set(during.map((c) => `${String(c.reason)} ${String(c.source)}`))).toEqual(new Set(['noburn_unreachable replica_offline']));
      expect(checks.filter((c) => c.sentAt > restoredAt + 1000).some((c) => !c.blocked)).toBe(true);
      // Rule: queued means stored, replayed once: the database holds exactly the acknowledged records.
      const rows = await dbRecords(schema);
      expect(rows.length).toBe(acked.size);
      expect(new Set(rows.map((r) => r.idem_key))).toEqual(acked);
      expect(rows.reduce((s, r) => s + Number(r.cost_nano), 0)).toBe(acked.size * RECORD_NANO);
    }, 60_000);

    it('a replica killed with kill -9 while it holds queued records replays them once at its next start', async () => {
      const { store, key, schema } = await project();
      const relay = await Relay.toTestDb();
      const first = await replica(store, relay);
      expect((await post(first, key, '/v1/check', CHECK)).status).toBe(200); // the key is verified before the cut
      await relay.cut();
      const ids = Array.from({ length: 20 }, (_, i) => `q-${i}`);
      for (const id of ids) expect((await post(first, key, '/v1/records', { records: [record(id, null)] })).body).toMatchObject({ queued: 1 });
      expect(await health(first)).toMatchObject({ degraded: true, queued: 20 });
      first.child.kill('SIGKILL');
      await first.exit;
      await relay.open();
      // The next start on the same NOBURN_HOME replays what the killed one left.
      const next = await replica(store, relay, first.home);
      await settled(next);
      const rows = await dbRecords(schema);
      expect(rows.map((r) => r.idem_key).sort()).toEqual([...ids].sort());
      // Nothing is left to replay a second time: a third start adds nothing.
      await next.stop('SIGTERM');
      const third = await replica(store, relay, first.home);
      await settled(third);
      expect((await dbRecords(schema)).length).toBe(20);
    }, 60_000);
  });
}
