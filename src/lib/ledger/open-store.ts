import type { LedgerStore } from './store.js';

/**
 * Opens the store a spec names: a postgres:// (or postgresql://) URL, else a SQLite file path.
 * The PostgreSQL driver is loaded only when asked for.
 */
export async function openStore(spec: string): Promise<LedgerStore> {
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.connect(spec);
  }
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  return new SqliteStore(spec);
}
