import type { Database as Db } from 'better-sqlite3';
import { openError, openSqliteFile } from '../../sqlite-file.js';
import type { OpenSqliteOptions } from '../../sqlite-file.js';
import { migrate } from './schema.js';

/** Opens (creating if needed) a ledger file, as openSqliteFile, with the schema migrated. */
export function openLedgerFile(path: string, opts: OpenSqliteOptions = {}): Db {
  try {
    const db = openSqliteFile(path, opts);
    try {
      db.pragma('foreign_keys = OFF');
      migrate(db, path);
    } catch (e) {
      db.close();
      throw e;
    }
    return db;
  } catch (e) {
    throw openError('ledger', path, e);
  }
}
