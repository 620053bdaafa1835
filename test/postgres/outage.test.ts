/**
 * PostgreSQL going away under a running `serve`: a TCP relay between the store and the
 * database is cut, then restored. serve must answer 503 (not hang, not crash) meanwhile,
 * and serve again once the database is back, without a restart.
 */
import { Socket, createServer } from 'node:net';
import type { Server } from 'node:net';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import { createApiKey } from '../../src/server/keys.js';
import { startServer } from '../../src/server/server.js';
import { PRICES } from '../ledger/harness.js';
import { PG_URL, SKIP_TITLE, dropSchemas, newSchemaName } from './pg-env.js';

class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}

if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('PostgreSQL outage under serve', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  describe('PostgreSQL outage under serve', () => {
    const schema = newSchemaName();
    afterAll(() => dropSchemas([schema]));

    it('serve answers 503 NOBURN_STORE while the database is unreachable, and serves again when it is back', async () => {
      const pg = new URL(PG_URL);
      const relay = new Relay({ host: pg.hostname, port: Number(pg.port || 5432) });
      await relay.open();
      const via = new URL(PG_URL);
      via.port = String(relay.port);
      const store = await PostgresStore.connect(via.toString(), { schema, poolSize: 2, connectTimeoutMs: 1000 });
      const server = await startServer({ store, settings: { prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 }, port: 0, processMetrics: false, closeStore: true });
      const { key } = await createApiKey(store, { projectId: 'p', role: 'app' });
      const check = async () => {
        const r = await request(`${server.url}/v1/check`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'test-model', estimatedTokensIn: 10, estimatedTokensOut: 0 }),
        });
        return { status: r.statusCode, body: (await r.body.json()) as { blocked?: boolean; error?: { code: string } } };
      };
      try {
        expect(await check()).toMatchObject({ status: 200, body: { blocked: false } });
        await relay.cut();
        // Answered while the database is still unreachable (the relay reopens only after this
        // answer): a serve that hung on the store would end this test at its timeout instead.
        const down = await check();
        expect(down.status).toBe(503);
        expect(down.body.error?.code).toBe('NOBURN_STORE');
        const health = await request(`${server.url}/healthz`);
        expect(health.statusCode).toBe(200);
        await health.body.dump();
        await relay.open(); // same port: the pool reconnects on its own
        expect(await check()).toMatchObject({ status: 200, body: { blocked: false } });
      } finally {
        await server.close();
        await relay.cut();
      }
    });
  });
}
