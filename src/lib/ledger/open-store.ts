import type { LedgerBackend } from './store.js';

/**
 * Opens the store a spec names: a postgres:// (or postgresql://) URL, else a SQLite file path.
 * The PostgreSQL driver is loaded only when asked for. `longLived`: the caller is a server
 * that keeps the store open (serve), not a one-shot command.
 */
export async function openStore(spec: string, opts: { longLived?: boolean } = {}): Promise<LedgerBackend> {
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.connect(spec);
  }
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  // A long-lived server checkpoints between requests rather than inside one (see SqliteStore).
  return new SqliteStore(spec, opts.longLived ? { checkpointEveryMs: 500 } : {});
}
