/**
 * The outbox file ($NOBURN_HOME/outbox.db): records waiting to reach the server. A row is
 * written before delivery starts and deleted only after the server acknowledged it, so a
 * crash or an outage loses nothing; the idempotency key makes a second delivery harmless.
 *
 * `leased_until` keeps two processes from sending the same rows at once (a lease left by
 * a process that died simply runs out); `not_before` is the retry backoff.
 *
 * OutboxFile holds the SQL: the Outbox (outbox.ts) decides what to write, send and retry.
 */
import type { Database, Statement } from 'better-sqlite3';
import { openError, openSqliteFile } from '../sqlite-file.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,           -- normalized server + '#' + project (target.ts): rows are only ever sent where they were meant to go
    idem_key TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body TEXT NOT NULL,             -- the wire record (JSON)
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before INTEGER NOT NULL DEFAULT 0,
    leased_until INTEGER NOT NULL DEFAULT 0,
    UNIQUE (target, idem_key)
  );
  CREATE INDEX IF NOT EXISTS outbox_target ON outbox (target, id);
  -- The project each key names (learnt from GET /v1/whoami), by key fingerprint: rows are
  -- filed under the project, so a rotated key of the same project delivers them.
  CREATE TABLE IF NOT EXISTS key_projects (
    server TEXT NOT NULL,
    key_fp TEXT NOT NULL,
    project TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (server, key_fp)
  );
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
  retarget: Statement;
  dropTarget: Statement;
  strays: Statement;
  keyProject: Statement;
  learnKey: Statement;
  any: Statement;
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
      maxId: db.prepare('SELECT coalesce(max(id), 0) AS id FROM outbox'),
      nextWake: db.prepare('SELECT min(max(not_before, leased_until)) AS t FROM outbox WHERE target = ?'),
      kill: db.prepare('INSERT INTO outbox_dead (target, idem_key, ts, body, error, dead_at) SELECT target, idem_key, ts, body, ?, ? FROM outbox WHERE id = ?'),
      retarget: db.prepare('UPDATE OR IGNORE outbox SET target = ? WHERE target = ?'),
      // What UPDATE OR IGNORE left behind is already queued under the new target (same idempotency key).
      dropTarget: db.prepare('DELETE FROM outbox WHERE target = ?'),
      strays: db.prepare('SELECT target, count(*) AS n FROM outbox WHERE target <> ? GROUP BY target ORDER BY target'),
      any: db.prepare('SELECT 1 AS x FROM outbox LIMIT 1'),
      keyProject: db.prepare('SELECT project FROM key_projects WHERE server = ? AND key_fp = ?'),
      learnKey: db.prepare('INSERT INTO key_projects (server, key_fp, project, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (server, key_fp) DO UPDATE SET project = excluded.project, seen_at = excluded.seen_at'),
    };
    return { db, st };
  } catch (e) {
    throw openError('the outbox', path, e);
  }
}

/** A row claimed for delivery. */
export interface Claimed {
  id: number;
  idem_key: string;
  body: string;
}

/** A row to write: its idempotency key (one row per key and target) and its JSON body. */
export interface NewRow {
  key: string;
  ts: number;
  body: string;
}

const ALL = Number.MAX_SAFE_INTEGER;

/** The outbox file and the operations on it, each one statement or one transaction. */
export class OutboxFile {
  private constructor(
    private readonly db: Database,
    private readonly st: OutboxStatements,
  ) {}

  static open(path: string): OutboxFile {
    const { db, st } = openOutboxDb(path);
    return new OutboxFile(db, st);
  }

  /** The project a key was last seen to name on this server (null: never learnt). */
  keyProject(server: string, keyFp: string): string | null {
    return (this.st.keyProject.get(server, keyFp) as { project: string } | undefined)?.project ?? null;
  }

  /** Files the rows of `from` under `to` (a row already queued there by key is dropped, not doubled). */
  refile(from: string, to: string): void {
    this.db.transaction(() => {
      this.st.retarget.run(to, from);
      this.st.dropTarget.run(from);
    })();
  }

  /** Remembers the key's project and files what the key queued before it was known under it. */
  learnKey(server: string, keyFp: string, project: string, now: number, from: string, to: string): void {
    this.db.transaction(() => {
      this.st.learnKey.run(server, keyFp, project, now);
      this.refile(from, to);
    })();
  }

  /** Writes rows in one transaction, taking the write lock at once (a row is either kept or the batch failed). */
  insert(target: string, rows: readonly NewRow[]): void {
    this.db
      .transaction(() => {
        for (const r of rows) this.st.insert.run(target, r.key, r.ts, r.body);
      })
      .immediate();
  }

  /** Whether any row waits, for any target. */
  any(): boolean {
    return this.st.any.get() !== undefined;
  }

  /** Leases up to `limit` claimable rows of a target (not leased, not in backoff unless forced, id <= maxId). */
  claim(q: { target: string; now: number; until: number; force: boolean; maxId: number; limit: number }): Claimed[] {
    const rows = this.st.claim.all({ ...q, force: q.force ? 1 : 0 }) as Claimed[];
    return rows.sort((a, b) => a.id - b.id);
  }

  remove(ids: readonly number[]): void {
    this.db.transaction(() => ids.forEach((id) => this.st.remove.run(id)))();
  }

  /** Releases the lease and retries no sooner than `retryAt`. */
  backoff(ids: readonly number[], retryAt: number): void {
    this.db.transaction(() => ids.forEach((id) => this.st.backoff.run(retryAt, id)))();
  }

  /** Moves a row the server will never take to outbox_dead, with the reason. */
  kill(id: number, error: string, now: number): void {
    this.db.transaction(() => {
      this.st.kill.run(error, now, id);
      this.st.remove.run(id);
    })();
  }

  pending(target: string, maxId = ALL): number {
    return (this.st.pending.get(target, maxId) as { n: number }).n;
  }

  maxId(): number {
    return (this.st.maxId.get() as { id: number }).id;
  }

  /** When the next row of a target leaves its lease or backoff (null: none waits). */
  nextWake(target: string): number | null {
    return (this.st.nextWake.get(target) as { t: number | null }).t;
  }

  /** Rows waiting for other targets than this one, counted per target. */
  strays(target: string): { target: string; n: number }[] {
    return this.st.strays.all(target) as { target: string; n: number }[];
  }

  close(): void {
    this.db.close();
  }
}
