/**
 * The PostgreSQL test database: NOBURN_TEST_PG (CI sets it; unset = these tests are skipped
 * with a visible line). Each test works in its own schema, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { PostgresStoreOptions } from '../../src/lib/ledger/postgres/postgres-store.js';

export const PG_URL = process.env['NOBURN_TEST_PG'] ?? '';
export const SKIP_TITLE = 'PostgreSQL tests skipped: NOBURN_TEST_PG not set';

export function newSchemaName(): string {
  return `nb_test_${randomBytes(6).toString('hex')}`;
}

export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return Promise.resolve();
  return admin(async (c) => {
    // In groups: one DROP of a hundred schemas takes a lock per object in one transaction,
    // past the server's lock table (max_locks_per_transaction: "out of shared memory").
    for (let i = 0; i < schemas.length; i += 20) {
      await c.query(`DROP SCHEMA IF EXISTS ${schemas.slice(i, i + 20).map((s) => `"${s}"`).join(', ')} CASCADE`);
    }
  });
}

const pending: string[] = [];

/** Drops the schemas of the stores disposed so far (one statement: cheaper than one per test). Call in afterAll. */
export function dropDisposedSchemas(): Promise<void> {
  return dropSchemas(pending.splice(0));
}

/** A store in a fresh schema; dispose closes it and queues the schema for dropDisposedSchemas(). */
export async function freshStore(opts: PostgresStoreOptions = {}): Promise<{ store: PostgresStore; schema: string; dispose(): Promise<void> }> {
  const schema = opts.schema ?? newSchemaName();
  const store = await PostgresStore.connect(PG_URL, { poolSize: 4, ...opts, schema });
  return {
    store,
    schema,
    dispose: async () => {
      await store.close();
      pending.push(schema);
    },
  };
}
