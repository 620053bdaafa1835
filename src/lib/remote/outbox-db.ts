import type { Database, Statement } from 'better-sqlite3';
import { openError, openSqliteFile } from '../sqlite-file.js';

/**
 * The outbox file ($NOBURN_HOME/outbox.db): records waiting to reach the server. A row is
 * written before delivery starts and deleted only after the server acknowledged it, so a
 * crash or an outage loses nothing; the idempotency key makes a second delivery harmless.
 *
 * `leased_until` keeps two processes from sending the same rows at once (a lease left by
 * a process that died simply runs out); `not_before` is the retry backoff.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,           -- sha256(url + key): rows are only ever sent where they were meant to go
    idem_key TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body TEXT NOT NULL,             -- the wire record (JSON)
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0,
    leased_until INTEGER NOT NULL DEFAULT 0,
    UNIQUE (target, idem_key)
  );
  CREATE INDEX IF NOT EXISTS outbox_target ON outbox (target, id);
  CREATE TABLE IF NOT EXISTS outbox_dead (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body TEXT NOT NULL,
    error TEXT NOT NULL,
    dead_at INTEGER NOT NULL
  );
`;

export interface OutboxStatements {
  insert: Statement;
  claim: Statement;
  remove: Statement;
  backoff: Statement;
  pending: Statement;
  maxId: Statement;
  nextWake: Statement;
  kill: Statement;
}

export function openOutboxDb(path: string): { db: Database; st: OutboxStatements } {
  try {
    // Folder 0700, file 0600, WAL with synchronous NORMAL: a committed row survives the
    // process being killed.
    const db = openSqliteFile(path);
    db.exec(SCHEMA);
    const st: OutboxStatements = {
      insert: db.prepare('INSERT OR IGNORE INTO outbox (target, idem_key, ts, body) VALUES (?, ?, ?, ?)'),
      claim: db.prepare(`UPDATE outbox SET leased_until = @until, attempts = attempts + 1
        WHERE id IN (SELECT id FROM outbox WHERE target = @target AND leased_until <= @now AND (@force = 1 OR not_before <= @now) AND id <= @maxId
                     ORDER BY id LIMIT @limit)
        RETURNING id, idem_key, body`),
      remove: db.prepare('DELETE FROM outbox WHERE id = ?'),
      backoff: db.prepare('UPDATE outbox SET leased_until = 0, not_before = ? WHERE id = ?'),
      pending: db.prepare('SELECT count(*) AS n FROM outbox WHERE target = ? AND id <= ?'),
      maxId: db.prepare('SELECT coalesce(max(id), 0) AS id FROM outbox WHERE target = ?'),
      nextWake: db.prepare('SELECT min(max(not_before, leased_until)) AS t FROM outbox WHERE target = ?'),
      kill: db.prepare('INSERT INTO outbox_dead (target, idem_key, ts, body, error, dead_at) SELECT target, idem_key, ts, body, ?, ? FROM outbox WHERE id = ?'),
    };
    return { db, st };
  } catch (e) {
    throw openError('the outbox', path, e);
  }
}
