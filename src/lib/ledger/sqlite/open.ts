import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { NoburnStoreError } from '../../errors.js';
import { migrate } from './schema.js';

let binding: string | undefined;
const require = createRequire(import.meta.url);
// Loaded with require(): an ESM import of this CommonJS package makes Node lex its source
// for named exports on every start-up.
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

/**
 * Opens (creating if needed) a ledger file: folder 0700, file 0600, WAL, a busy timeout
 * so that concurrent writers queue instead of failing, and the schema migrated.
 */
export function openLedgerFile(path: string, opts: { busyTimeoutMs?: number } = {}): Db {
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create the file with owner-only permissions before SQLite opens it.
      closeSync(openSync(path, 'a', 0o600));
      try {
        chmodSync(path, 0o600);
      } catch {
        // not our file to change (shared ledger owned by another user): leave it
      }
    }
    DatabaseCtor ??= require('better-sqlite3') as typeof BetterSqlite3;
    const db = new DatabaseCtor(path, { nativeBinding: nativeBinding() });
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power loss
    // can drop the last transactions. See docs/operations.md.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    migrate(db);
    return db;
  } catch (e) {
    if (e instanceof NoburnStoreError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code && !err.code.startsWith('SQLITE') ? err.code : err.message;
    throw new NoburnStoreError(`cannot open ledger ${path}: ${why}`, { cause: e });
  }
}
