/**
 * PostgreSQL going away under a running `serve` replica (a TCP relay between the store and
 * the database is cut, then restored). An outage never lifts a cap: meanwhile checks are
 * blocked noburn_unreachable (no lease decides them), records are queued durably and
 * acknowledged, admin calls answer 503, /healthz says degraded; once the database is back
 * the queue replays, each record counted once. SQLite serve is unchanged (its store is local).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { NormalizedRecord } from '../../src/lib/validate.js';
import { createApiKey } from '../../src/server/keys.js';
import { ReplicaQueue } from '../../src/server/replica-queue.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { PRICES } from '../ledger/harness.js';
import { PG_URL, SKIP_TITLE, dropSchemas, newSchemaName } from './pg-env.js';
import { Relay } from './relay.js';

const SETTINGS = { prices: PRICES, fallbackPrice: null, unknownModel: 'block' as const, holdTtlMs: 600_000 };

async function call(server: RunningServer, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(`${server.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
}

const wireRecord = (id: string, costUsd: number) => ({ model: 'test-model', tokensIn: 10, tokensOut: 0, costUsd, wasBlocked: false, idempotencyKey: id });
const normRecord = (id: string, costUsd: number): NormalizedRecord => ({
  model: 'test-model', tokensIn: 10, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costUsd, wasBlocked: false,
  userId: null, runId: null, reservationId: null, provider: null, idempotencyKey: id, tags: [],
});

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('PostgreSQL outage under serve', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('PostgreSQL outage under serve', () => {
    const schemas: string[] = [];
    const dirs: string[] = [];
    afterAll(async () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await dropSchemas(schemas);
    });
    const fresh = () => {
      const schema = newSchemaName();
      schemas.push(schema);
      const dir = mkdtempSync(join(tmpdir(), 'noburn-outage-'));
      dirs.push(dir);
      return { schema, queuePath: join(dir, 'replica-queue.db') };
    };
    /** The database's own view (not through the relay): calls and spend of project p. */
    async function dbSpend(schema: string): Promise<{ calls: number; totalUsd: number }> {
      const direct = await PostgresStore.connect(PG_URL, { schema, poolSize: 1 });
      try {
        return await new Ledger(direct, SETTINGS).spend('p', {});
      } finally {
        await direct.close();
      }
    }

    it('blocks checks noburn_unreachable, queues records, answers admin calls 503 and says degraded while the database is away; replays each record once when it is back', async () => {
      const { schema, queuePath } = fresh();
      const relay = await Relay.toTestDb();
      const store = await PostgresStore.connect(relay.url(), { schema, poolSize: 2, connectTimeoutMs: 1000 });
      // authCacheMs 1: every request past the cut re-asks the store for the key. Rule: a key
      // this replica verified before stays valid while the database is away.
      const server = await startServer({ store, settings: SETTINGS, port: 0, processMetrics: false, closeStore: true, queuePath, probeMs: 50, authCacheMs: 1 });
      const { key } = await createApiKey(store, { projectId: 'p', role: 'admin' });
      const check = () => call(server, key, 'POST', '/v1/check', { model: 'test-model', estimatedTokensIn: 10, estimatedTokensOut: 0 });
      try {
        expect((await call(server, key, 'PUT', '/v1/budgets/project', { capUsd: 100 })).status).toBe(200);
        expect(await check()).toMatchObject({ status: 200, body: { blocked: false } });
        expect(await call(server, key, 'POST', '/v1/records', { records: [wireRecord('before', 0.5)] })).toMatchObject({ status: 202, body: { accepted: 1 } });
        await relay.cut();

        // Rule: an outage never lifts a cap. Answered while the database is still away (the
        // relay reopens only after this): blocked, and the answer says the replica decided it.
        const down = await check();
        expect(down).toMatchObject({ status: 200, body: { blocked: true, blockReason: 'noburn_unreachable', reservationId: null, source: 'replica_offline' } });
        // Rule: queued means stored; 'before' is a key the database already has.
        const queued = await call(server, key, 'POST', '/v1/records', { records: [wireRecord('q-1', 1), wireRecord('q-2', 2), wireRecord('before', 0.5)] });
        expect(queued).toMatchObject({ status: 202, body: { accepted: 3, duplicates: 0, queued: 3 } });
        expect((queued.body['items'] as { costUsd: number }[]).map((i) => i.costUsd)).toEqual([1, 2, 0.5]);
        // Rule: runs, budgets and keys keep answering 503 while the database is unreachable.
        for (const [m, p, b] of [['PUT', '/v1/budgets/project', { capUsd: 1 }], ['POST', '/v1/runs', {}], ['GET', '/v1/keys', undefined]] as const) {
          const r = await call(server, key, m, p, b);
          expect([r.status, (r.body['error'] as { code: string } | undefined)?.code]).toEqual([503, 'NOBURN_STORE']);
        }
        // Rule: clients never see a lifted cap: a fail-open guard (onError "allow") takes the
        // replica's block as it is, with no fallback of its own.
        const home = mkdtempSync(join(tmpdir(), 'noburn-outage-client-'));
        dirs.push(home);
        const guard = new NoburnGuard({ home, url: server.url, apiKey: key, timeoutMs: 2000, prices: PRICES, env: {}, onError: 'allow' });
        try {
          expect(await guard.check({ model: 'test-model', estimatedTokensIn: 10, estimatedTokensOut: 0 })).toMatchObject({ blocked: true, blockReason: 'noburn_unreachable', source: 'replica_offline' });
        } finally {
          await guard.close();
        }
        const health = await request(`${server.url}/healthz`);
        expect(await health.body.json()).toEqual({ ok: true, store: 'postgres', degraded: true, queued: 3 });

        await relay.open(); // same port: the probe finds the database, the queue replays
        await server.offline?.queue.drained();
        // Rule: every acknowledged record counts exactly once ('before' was already counted).
        expect(await dbSpend(schema)).toMatchObject({ calls: 3, totalUsd: 3.5 });
        expect(await (await request(`${server.url}/healthz`)).body.json()).toEqual({ ok: true, store: 'postgres', degraded: false, queued: 0 });
        expect(await check()).toMatchObject({ status: 200, body: { blocked: false } });
        expect((await check()).body['source']).toBeUndefined();
      } finally {
        await server.close();
        await relay.cut();
      }
    });

    it('with budget leases, a cut-off replica approves only within the leases it holds, then blocks noburn_unreachable: never past the cap', async () => {
      const { schema, queuePath } = fresh();
      const relay = await Relay.toTestDb();
      const via = new URL(relay.url());
      via.searchParams.set('leases', 'on');
      const store = await PostgresStore.connect(via.toString(), { schema, poolSize: 2, connectTimeoutMs: 1000 });
      const server = await startServer({ store, settings: SETTINGS, port: 0, processMetrics: false, closeStore: true, queuePath, probeMs: 50 });
      const { key } = await createApiKey(store, { projectId: 'p', role: 'admin' });
      // $0.01 each against $1: exactly 100 fit, whoever decides them.
      const check = () => call(server, key, 'POST', '/v1/check', { model: 'test-model', estimatedTokensIn: 10_000, estimatedTokensOut: 0 });
      try {
        expect((await call(server, key, 'PUT', '/v1/budgets/project', { capUsd: 1, period: 'day' })).status).toBe(200);
        let allowed = 0;
        for (let i = 0; i < 5; i++) if ((await check()).body['blocked'] === false) allowed++;
        expect(allowed).toBe(5);
        // The raise ahead of need sent with the last approval lands before the cut: the lease
        // then holds headroom the replica may approve from while the database is away.
        await new Promise((r) => setTimeout(r, 200));
        await relay.cut();
        // A record finds the database away first, so the lease still has room when checks come.
        expect((await call(server, key, 'POST', '/v1/records', { records: [wireRecord('first', 0)] })).body).toMatchObject({ queued: 1 });
        const offline = [];
        for (let i = 0; i < 150; i++) offline.push((await check()).body);
        const byLease = offline.filter((d) => d['blocked'] === false);
        // Rule: offline, only a lease approves (its reservation says so), and only within its room.
        expect(byLease.length).toBeGreaterThan(0);
        expect(byLease.every((d) => d['source'] === 'replica_offline' && String(d['reservationId']).startsWith('L_'))).toBe(true);
        expect(offline.filter((d) => d['blocked'] === true).every((d) => d['blockReason'] === 'noburn_unreachable' && d['source'] === 'replica_offline')).toBe(true);
        expect(offline.at(-1)).toMatchObject({ blocked: true, blockReason: 'noburn_unreachable' });
        allowed += byLease.length;
        await relay.open();
        while (server.offline?.link.down === true) await new Promise((r) => setTimeout(r, 20));
        for (let i = 0; i < 200; i++) if ((await check()).body['blocked'] === false) allowed++;
        // Rule: an outage never lifts a cap: all told, exactly floor(cap / e) were approved.
        expect(allowed).toBe(100);
      } finally {
        await server.close();
        await relay.cut();
      }
    });

    it('a database that answers with an error (a statement timeout behind a held lock) is not an outage: 503 NOBURN_STORE, not an offline decision', async () => {
      const { schema, queuePath } = fresh();
      const store = await PostgresStore.connect(PG_URL, { schema, poolSize: 2, statementTimeoutMs: 300 });
      const server = await startServer({ store, settings: SETTINGS, port: 0, processMetrics: false, closeStore: true, queuePath, probeMs: 50 });
      const { key } = await createApiKey(store, { projectId: 'p', role: 'app' });
      const check = () => call(server, key, 'POST', '/v1/check', { model: 'test-model', estimatedTokensIn: 10, estimatedTokensOut: 0 });
      const locker = new pg.Client({ connectionString: PG_URL });
      await locker.connect();
      try {
        expect(await check()).toMatchObject({ status: 200, body: { blocked: false } }); // the project row exists
        // Every check locks its project's row first: held here, the check's statement times out.
        await locker.query('BEGIN');
        await locker.query(`SELECT 1 FROM "${schema}".projects WHERE project_id = 'p' FOR UPDATE`);
        const r = await check();
        // Rule: only an unreachable database makes a replica decide offline; other errors stay what they are.
        expect([r.status, (r.body['error'] as { code: string } | undefined)?.code]).toEqual([503, 'NOBURN_STORE']);
        expect(server.offline?.link.down).toBe(false);
        await locker.query('ROLLBACK');
        expect(await check()).toMatchObject({ status: 200, body: { blocked: false } });
      } finally {
        await locker.end();
        await server.close();
      }
    });

    it('a record replayed after a crash between its replay and its delete counts once (the database dedups by idempotency key)', async () => {
      const { schema, queuePath } = fresh();
      const store = await PostgresStore.connect(PG_URL, { schema, poolSize: 2 });
      // The state a crash leaves: the record is queued and the database already settled it.
      const q = ReplicaQueue.open({ path: queuePath, replay: () => Promise.resolve(), unreachable: () => false });
      q.enqueue('p', [normRecord('crashed', 0.25), normRecord('fresh', 0.5)], [null, null]);
      await q.close();
      await new Ledger(store, SETTINGS).record('p', [normRecord('crashed', 0.25)]);
      // The next start replays the file.
      const server = await startServer({ store, settings: SETTINGS, port: 0, processMetrics: false, closeStore: true, queuePath, probeMs: 50 });
      try {
        await server.offline?.queue.drained();
        expect(server.offline?.queue.replayed).toBe(2);
        expect(await dbSpend(schema)).toMatchObject({ calls: 2, totalUsd: 0.75 });
      } finally {
        await server.close();
      }
    });
  });
}
