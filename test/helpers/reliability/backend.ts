/**
 * The ledger a property runs against, SQLite or PostgreSQL: its store, and raw reads of its
 * tables (the observers compare them with the reference model, bypassing the store's code).
 * Queries are written once, with `?` placeholders; the usage table's window column is
 * `window` in SQLite and `win` in PostgreSQL (a reserved word there).
 */
import { rmSync } from 'node:fs';
import { PostgresStore } from '../../../src/lib/ledger/postgres/postgres-store.js';
import { SqliteStore } from '../../../src/lib/ledger/sqlite/sqlite-store.js';
import type { LedgerBackend } from '../../../src/lib/ledger/store.js';
import { dumpTables, sorted } from './observe.js';

export interface LedgerUnderTest {
  readonly store: LedgerBackend;
  readonly windowColumn: 'window' | 'win';
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Every row of every ledger table but the price cache (a cache, not ledger state), as arrays. */
  dump(): Promise<Record<string, unknown[]>>;
  /** Closes (SQLite: and removes) this ledger; a shared PostgreSQL one is emptied instead. */
  dispose(): Promise<void>;
}

export function sqliteUnderTest(path: string): LedgerUnderTest {
  const store = new SqliteStore(path);
  return {
    store,
    windowColumn: 'window',
    all: <T>(sql: string, params: readonly unknown[] = []) => Promise.resolve(store.db.prepare(sql).all(...params) as T[]),
    dump: () => Promise.resolve(dumpTables(store.db)),
    dispose: async () => {
      await store.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    },
  };
}

const toDollarParams = (sql: string): string => {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
};

/**
 * One PostgreSQL ledger (one schema) for every sequence of a property: creating a schema
 * costs far more than a sequence, so each sequence gets it emptied (TRUNCATE) instead.
 */
export async function postgresLedgers(url: string, schema: string): Promise<{ next(): Promise<LedgerUnderTest>; close(): Promise<void> }> {
  const store = await PostgresStore.connect(url, { schema, poolSize: 2 });
  const q = async <T>(sql: string, params: readonly unknown[] = []): Promise<T[]> => (await store.pool.query(toDollarParams(sql), [...params])).rows as T[];
  const tables = (await q<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT IN ('prices', 'noburn_schema') ORDER BY 1")).map((r) => r.t);
  const ledger: LedgerUnderTest = {
    store,
    windowColumn: 'win',
    all: q,
    dump: async () => {
      const out: Record<string, unknown[]> = {};
      for (const t of tables) out[t] = sorted((await store.pool.query({ text: `SELECT * FROM "${t}"`, rowMode: 'array' })).rows as unknown[]);
      return out;
    },
    dispose: async () => {
      await store.pool.query(`TRUNCATE ${tables.map((t) => `"${t}"`).join(', ')} RESTART IDENTITY`);
    },
  };
  return { next: () => Promise.resolve(ledger), close: () => store.close() };
}
