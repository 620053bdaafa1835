/**
 * Shared set-up of the tests that run `noburn serve` replicas (the built CLI) on one
 * PostgreSQL schema: a schema of its own per cluster, an admin key made by `noburn keys
 * create`, replicas with an undici pool each, and the clean-up of all of it in afterAll.
 */
import { Pool } from 'undici';
import { expect } from 'vitest';
import { runCli, serveCli, tempHome, writeConfig } from '../helpers/cli.js';
import type { ServeChild } from '../helpers/cli.js';
import { PG_URL, dropSchemas, newSchemaName } from './pg-env.js';

export const PRICES = { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } };

export interface Replica extends ServeChild {
  pool: Pool;
}

type Json = Record<string, unknown>;

export async function post(r: Replica, key: string, path: string, body: unknown, method: 'POST' | 'PUT' = 'POST'): Promise<{ status: number; body: Json }> {
  const res = await r.pool.request({ path, method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, body: (await res.body.json()) as Json };
}

export async function get(r: Replica, key: string, path: string): Promise<Json> {
  const res = await r.pool.request({ path, method: 'GET', headers: { authorization: `Bearer ${key}` } });
  return (await res.body.json()) as Json;
}

/** The test database's URL with search_path set to `schema`, plus noburn's own URL parameters. */
export function storeUrl(schema: string, params: Record<string, string> = {}): string {
  const u = new URL(PG_URL);
  u.searchParams.set('options', `-c search_path=${schema}`);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/**
 * One per test file (call it in the describe block, with useDist()'s object: its CLI path is read when used): makes schemas and replicas and tracks
 * them, so that `dispose` (in afterAll) stops every replica and drops every schema.
 */
export function replicaClusters(dist: { readonly cli: string }) {
  const schemas: string[] = [];
  const running: { stop(): Promise<void> }[] = [];
  return {
    /** Registers something to stop in dispose (a relay, a replica made by hand). */
    track(s: { stop(): Promise<void> }): void {
      running.push(s);
    },
    /** A fresh schema, its store URL and an admin key of project acme made by the CLI. */
    async project(params: Record<string, string> = {}): Promise<{ schema: string; store: string; key: string }> {
      const schema = newSchemaName();
      schemas.push(schema);
      const store = storeUrl(schema, params);
      const created = await runCli(dist.cli, ['keys', 'create', '--role', 'admin', '--project', 'acme'], { home: tempHome(), env: { NOBURN_STORE: store } });
      expect(created.code, created.stderr).toBe(0);
      return { schema, store, key: created.stdout.trim() };
    },
    /** A replica on `store` with the test prices (and `config`) in its own NOBURN_HOME unless one is given. */
    async replica(store: string, opts: { home?: string; config?: object; connections?: number } = {}): Promise<Replica & { home: string }> {
      const home = opts.home ?? tempHome();
      writeConfig(home, { ...PRICES, ...opts.config });
      const s = await serveCli(dist.cli, home, ['--store', store]);
      const r = { ...s, pool: new Pool(s.url, { connections: opts.connections ?? 64 }), home };
      running.push({ stop: async () => { await r.stop(); await r.pool.close(); } });
      return r;
    },
    async dispose(): Promise<void> {
      for (const r of running.splice(0)) await r.stop();
      await dropSchemas(schemas.splice(0));
    },
  };
}
