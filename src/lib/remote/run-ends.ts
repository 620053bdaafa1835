import type { Database } from 'better-sqlite3';
import { NoburnConflictError, NoburnNotFoundError } from '../errors.js';
import { openError, openSqliteFile } from '../sqlite-file.js';

/**
 * Runs to end once the server answers again (`noburn run` whose child finished during an
 * outage). Kept in the outbox file, next to the records they follow, so that they survive
 * the process: the next remote client for the same server delivers them, after the
 * records waiting for that server (docs/contract.md, "Outages").
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS run_ends (
    target TEXT NOT NULL,
    run_id TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    PRIMARY KEY (target, run_id)
  );
`;

function open(path: string): Database {
  try {
    const db = openSqliteFile(path);
    db.exec(SCHEMA);
    return db;
  } catch (e) {
    throw openError('the outbox', path, e);
  }
}

/** Writes the end durably (throws NoburnStoreError when it cannot: then nothing is queued). */
export function queueRunEnd(path: string, target: string, runId: string, now: number): void {
  const db = open(path);
  try {
    db.prepare('INSERT OR IGNORE INTO run_ends (target, run_id, queued_at) VALUES (?, ?, ?)').run(target, runId, now);
  } finally {
    db.close();
  }
}

/**
 * Ends every queued run of this target with `end`; a run already ended (409) or gone (404)
 * leaves the queue too. Stops at the first other failure (the server is still away).
 * Returns how many were delivered.
 */
export async function deliverRunEnds(path: string, target: string, end: (runId: string) => Promise<unknown>): Promise<number> {
  const db = open(path);
  let n = 0;
  try {
    const rows = db.prepare('SELECT run_id FROM run_ends WHERE target = ? ORDER BY queued_at').all(target) as { run_id: string }[];
    const remove = db.prepare('DELETE FROM run_ends WHERE target = ? AND run_id = ?');
    for (const { run_id } of rows) {
      try {
        await end(run_id);
      } catch (e) {
        if (!(e instanceof NoburnConflictError || e instanceof NoburnNotFoundError)) throw e;
      }
      remove.run(target, run_id);
      n++;
    }
    return n;
  } finally {
    db.close();
  }
}

/** Whether any end waits for this target (without creating the table). */
export function hasRunEnds(path: string, target: string): boolean {
  let db: Database | null = null;
  try {
    db = openSqliteFile(path);
    const t = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_ends'").get();
    return t !== undefined && db.prepare('SELECT 1 FROM run_ends WHERE target = ? LIMIT 1').get(target) !== undefined;
  } catch {
    return false;
  } finally {
    db?.close();
  }
}
