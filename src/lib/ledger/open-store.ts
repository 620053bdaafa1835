import type { LedgerBackend } from './store.js';

/**
 * SQLite's page cache of a long-lived server's ledger connection, in KiB. A check and a
 * record touch a few dozen hot pages (caps, held and usage rows, the ends of the holds',
 * records' and events' indexes), far fewer than this; a larger read (a spend report, an
 * events page) that misses it reads the file from the OS page cache, not the disk. The
 * driver's default (16 MiB) filled as the ledger grew and was a fixed share of a
 * long-lived server's memory (docs/performance.md, serve RSS).
 */
export const SERVE_CACHE_KIB = 4096;

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
  // A long-lived server checkpoints between requests rather than inside one (see SqliteStore),
  // and keeps a smaller page cache than the driver's 16 MiB (see SERVE_CACHE_KIB).
  return new SqliteStore(spec, opts.longLived ? { checkpointEveryMs: 500, cacheKiB: SERVE_CACHE_KIB } : {});
}
