/**
 * Every row of every table of a ledger file, read through a read-only connection, so a
 * test can assert that a command changed nothing (toEqual shows what did change).
 */
import Database from 'better-sqlite3';

export type LedgerSnapshot = Record<string, unknown[][]>;

export function ledgerSnapshot(dbPath: string): LedgerSnapshot {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const snap: LedgerSnapshot = { user_version: [[db.pragma('user_version', { simple: true })]] };
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    for (const t of tables) {
      const cols = (db.prepare(`SELECT * FROM "${t}" LIMIT 0`).columns() as { name: string }[]).map((c) => `"${c.name}"`);
      snap[t] = db.prepare(`SELECT * FROM "${t}" ORDER BY ${cols.join(', ')}`).raw().all() as unknown[][];
    }
    return snap;
  } finally {
    db.close();
  }
}
