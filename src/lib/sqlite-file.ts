// The SQLite files of noburn (the ledger, the outbox): how they are created and opened.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { NoburnStoreError } from './errors.js';
import { loadSqliteDriver } from './sqlite-driver.js';

let binding: string | undefined;
const require = createRequire(import.meta.url);
let DatabaseCtor: typeof BetterSqlite3 | undefined;

/**
 * The addon's path, given to better-sqlite3 directly: its default lookup goes through the
 * `bindings` package, which probes several folders on every start-up.
 */
function nativeBinding(): string | undefined {
  if (binding === undefined) {
    try {
      binding = require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      binding = '';
    }
  }
  return binding === '' ? undefined : binding;
}

/** Where better-sqlite3 and its addon are, for a worker thread that opens the same file (the checkpointer). */
export function sqliteModulePaths(): { module: string; binding: string | undefined } {
  return { module: require.resolve('better-sqlite3'), binding: nativeBinding() };
}

function connect(path: string, fileMustExist: boolean): Db {
  DatabaseCtor ??= loadSqliteDriver();
  return new DatabaseCtor(path, { nativeBinding: nativeBinding(), fileMustExist });
}

/** Creates the folder (0700) and an empty file (0600) before SQLite opens it. */
function createFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  try {
    chmodSync(path, 0o600);
  } catch {
    // not our file to change (shared ledger owned by another user): leave it
  }
}

/** The error of a failed open, without a stack trace's worth of detail. */
export function openError(what: string, path: string, e: unknown): NoburnStoreError {
  if (e instanceof NoburnStoreError) return e;
  const err = e as NodeJS.ErrnoException;
  const why = err.code && !err.code.startsWith('SQLITE') ? err.code : sqliteFault(err);
  return new NoburnStoreError(`cannot open ${what} ${path}: ${why}`, { cause: e });
}

/**
 * A SQLite driver error of an open ledger (a check or record failed), as a store error
 * that names the file and the cause in plain words: SQLite's own messages ("database is
 * locked", "disk I/O error") say neither which file nor why. Other errors are returned as they are.
 */
export function ledgerFault(path: string, e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof NoburnStoreError || typeof code !== 'string' || !code.startsWith('SQLITE')) return e;
  return new NoburnStoreError(`the ledger ${path}: ${sqliteFault(e as Error & { code: string })}`, { cause: e });
}

/** SQLite's message, with the cause in plain words for the faults an operator can fix. */
function sqliteFault(e: { code?: string | undefined; message: string }): string {
  const code = e.code ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return `${e.message} (${code}: another process held it locked past the busy timeout)`;
  if (code === 'SQLITE_FULL') return `${e.message} (${code}: the disk is full)`;
  if (code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_TRUNCATE' || code === 'SQLITE_IOERR_SHMSIZE' || code === 'SQLITE_IOERR_FSYNC')
    return `${e.message} (${code}: the file could not be written: disk full, file size limit or I/O fault)`;
  return e.message;
}

export interface OpenSqliteOptions {
  busyTimeoutMs?: number;
  /** SQLite's page cache of this connection, in KiB (default: the driver's, 16 MiB). */
  cacheKiB?: number;
}

/**
 * Opens a SQLite file of noburn's (the ledger, the outbox), creating it if needed: folder
 * 0700, file 0600, WAL, a busy timeout so that concurrent writers queue instead of
 * failing. An existing file costs one open (the `noburn check` path): the folder and
 * file are created, and the mode set, only when opening it as it is fails.
 */
export function openSqliteFile(path: string, opts: OpenSqliteOptions = {}): Db {
  let db: Db | null = null;
  if (path === ':memory:') db = connect(path, false);
  else {
    try {
      db = connect(path, true);
    } catch {
      // Missing (or not openable as it is): create what is missing; a real problem is
      // reported by the open below.
      createFile(path);
      db = connect(path, false);
    }
  }
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss
  // can drop the last transactions. See docs/operations.md.
  db.pragma('synchronous = NORMAL');
  if (opts.cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(1, Math.floor(opts.cacheKiB))}`);
  return db;
}
