import type { Database } from 'better-sqlite3';
import { NoburnLedgerVersionError } from '../../errors.js';

/**
 * Schema migrations, applied in order by PRAGMA user_version inside BEGIN IMMEDIATE so
 * that two processes opening a new ledger at once migrate it exactly once.
 *
 * Money columns are integer nano-dollars. Times are integer epoch milliseconds (UTC).
 * `usage` holds summary rows per scope and window, updated in the same transaction as
 * each record or blocked check, so totals read from one row instead of a scan.
 */
/** A new hold counted in its project's, user's and run's `held` rows (the body of the holds_add trigger of migrations 1 and 3). */
const HELD_ADD_OWN = `INSERT INTO held VALUES (NEW.project_id, 'project', '', NEW.amount_nano)
      ON CONFLICT DO UPDATE SET held_nano = held_nano + excluded.held_nano;
    INSERT INTO held SELECT NEW.project_id, 'user', NEW.user_id, NEW.amount_nano WHERE NEW.user_id IS NOT NULL
      ON CONFLICT DO UPDATE SET held_nano = held_nano + excluded.held_nano;
    INSERT INTO held SELECT NEW.project_id, 'run', NEW.run_id, NEW.amount_nano WHERE NEW.run_id IS NOT NULL
      ON CONFLICT DO UPDATE SET held_nano = held_nano + excluded.held_nano;`;

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE budgets (
    project_id TEXT NOT NULL,
    scope TEXT NOT NULL,              -- project | user | default_user
    subject TEXT NOT NULL DEFAULT '', -- the user id for scope=user, '' otherwise
    cap_nano INTEGER NOT NULL,
    period TEXT NOT NULL,             -- minute | hour | day | week | month | total
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, scope, subject)
  ) WITHOUT ROWID;

  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    label TEXT,
    cap_nano INTEGER,
    status TEXT NOT NULL,             -- open | ended
    exhausted INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    spent_nano INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    blocked_calls INTEGER NOT NULL DEFAULT 0,
    unpriced_calls INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER
  );
  CREATE INDEX runs_project_status ON runs (project_id, status, started_at);

  CREATE TABLE holds (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT,
    run_id TEXT,
    model TEXT NOT NULL,
    amount_nano INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX holds_expiry ON holds (expires_at);

  -- Open holds summed per scope, kept by triggers so that a decision reads one row per cap
  -- instead of summing the holds, and a hold costs fewer index pages to write. Decisions
  -- sweep expired holds first, so these sums are exact when a check reads them.
  CREATE TABLE held (
    project_id TEXT NOT NULL,
    scope TEXT NOT NULL,              -- project | user | run
    subject TEXT NOT NULL,            -- '' for project, the user id, the run id
    held_nano INTEGER NOT NULL,
    PRIMARY KEY (project_id, scope, subject)
  ) WITHOUT ROWID;
  CREATE TRIGGER holds_add AFTER INSERT ON holds BEGIN
    ${HELD_ADD_OWN}
  END;
  CREATE TRIGGER holds_remove AFTER DELETE ON holds BEGIN
    UPDATE held SET held_nano = held_nano - OLD.amount_nano
      WHERE project_id = OLD.project_id AND ((scope = 'project' AND subject = '')
        OR (scope = 'user' AND subject = OLD.user_id) OR (scope = 'run' AND subject = OLD.run_id));
  END;

  CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    project_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    ts INTEGER NOT NULL,
    user_id TEXT,
    run_id TEXT,
    model TEXT NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cached_in INTEGER NOT NULL DEFAULT 0,
    cache_write_in INTEGER NOT NULL DEFAULT 0,
    cost_nano INTEGER NOT NULL,
    unpriced INTEGER NOT NULL DEFAULT 0,
    was_blocked INTEGER NOT NULL DEFAULT 0,
    reservation_id TEXT,
    UNIQUE (project_id, idem_key)
  );
  CREATE INDEX records_ts ON records (project_id, ts);

  CREATE TABLE usage (
    project_id TEXT NOT NULL,
    scope TEXT NOT NULL,              -- project | user
    subject TEXT NOT NULL,            -- '' for project, the user id for user
    window TEXT NOT NULL,             -- see periods.ts windowKey: n2026-11-28T13:05, h2026-11-28T13, d2026-11-28, w2026-11-23, m2026-11, total
    spent_nano INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    blocked_calls INTEGER NOT NULL DEFAULT 0,
    unpriced_calls INTEGER NOT NULL DEFAULT 0,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER,
    PRIMARY KEY (project_id, scope, subject, window)
  ) WITHOUT ROWID;

  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,               -- check | record | run_start | run_end | budget
    user_id TEXT,
    run_id TEXT,
    model TEXT,
    amount_nano INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    unpriced INTEGER NOT NULL DEFAULT 0,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    ref TEXT
  );
  CREATE INDEX events_project ON events (project_id, seq);
  CREATE INDEX events_blocked ON events (blocked, seq) WHERE blocked = 1;

  CREATE TABLE prices (
    model TEXT PRIMARY KEY,
    input_nano_per_mtok INTEGER NOT NULL,
    output_nano_per_mtok INTEGER NOT NULL,
    cache_read_nano_per_mtok INTEGER,
    cache_write_nano_per_mtok INTEGER,
    source TEXT NOT NULL,
    matched TEXT,
    data_version TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  `,
  // Clamped holds and input calibration: a hold keeps the local input estimate it was
  // scaled from (learnt from when its record settles); runs count clamped calls and
  // over-holds (a record that cost more than its hold).
  `
  ALTER TABLE holds ADD COLUMN provider TEXT;
  ALTER TABLE holds ADD COLUMN est_in_raw INTEGER;
  ALTER TABLE runs ADD COLUMN clamped_calls INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN over_holds INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE calibration (
    provider TEXT NOT NULL,           -- '' when the check named none
    model TEXT NOT NULL,
    samples INTEGER NOT NULL,
    ratio REAL NOT NULL,              -- moving average of provider input / local estimate
    max_ratio REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (provider, model)
  ) WITHOUT ROWID;
  `,
  // 3: nested runs (parent_id, and run_ancestors: every run's ancestors, itself included at
  // depth 0, kept by a trigger so that a hold on a child counts in each ancestor's `held`
  // row and a record on a child adds to each ancestor's spend); records.called_at (the
  // client's time of the call, kept as data: spend is dated by the ledger's clock).
  `
  ALTER TABLE runs ADD COLUMN parent_id TEXT;
  CREATE INDEX runs_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
  CREATE TABLE run_ancestors (
    run_id TEXT NOT NULL,
    ancestor_id TEXT NOT NULL,
    depth INTEGER NOT NULL,           -- 0 = the run itself, 1 = its parent...
    PRIMARY KEY (run_id, ancestor_id)
  ) WITHOUT ROWID;
  CREATE INDEX run_ancestors_desc ON run_ancestors (ancestor_id, depth);
  INSERT INTO run_ancestors SELECT id, id, 0 FROM runs;
  CREATE TRIGGER runs_ancestors AFTER INSERT ON runs BEGIN
    INSERT INTO run_ancestors VALUES (NEW.id, NEW.id, 0);
    INSERT INTO run_ancestors SELECT NEW.id, ancestor_id, depth + 1 FROM run_ancestors WHERE run_id = NEW.parent_id;
  END;
  DROP TRIGGER holds_add;
  DROP TRIGGER holds_remove;
  CREATE TRIGGER holds_add AFTER INSERT ON holds BEGIN
    ${HELD_ADD_OWN}
    INSERT INTO held SELECT NEW.project_id, 'run', ancestor_id, NEW.amount_nano FROM run_ancestors
      WHERE NEW.run_id IS NOT NULL AND run_id = NEW.run_id AND depth > 0
      ON CONFLICT DO UPDATE SET held_nano = held_nano + excluded.held_nano;
  END;
  CREATE TRIGGER holds_remove AFTER DELETE ON holds BEGIN
    UPDATE held SET held_nano = held_nano - OLD.amount_nano
      WHERE project_id = OLD.project_id AND ((scope = 'project' AND subject = '')
        OR (scope = 'user' AND subject = OLD.user_id) OR (scope = 'run' AND subject = OLD.run_id)
        OR (scope = 'run' AND subject IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = OLD.run_id AND depth > 0)));
  END;
  ALTER TABLE records ADD COLUMN called_at INTEGER;
  `,
  // 4: per-model caps (budgets of scope 'model' / 'user_model', usage rows per model): a
  // model cap sums this window's rows of its scope, which this index finds without walking
  // every window of every model. Index entries are written once per new window row (updates
  // of the sums do not touch them).
  `
  CREATE INDEX usage_window ON usage (project_id, scope, window, subject);
  `,
  // 5: tags (src/lib/tags.ts): a call's sorted key=value tags on its hold, record and check
  // event (NULL when it has none); usage rows of scope 'tag' (subject key=value) and budgets
  // of scope 'tag' need no new table. A tag cap sums the open holds carrying its tag: this
  // partial index walks only the tagged holds of the project.
  `
  ALTER TABLE holds ADD COLUMN tags TEXT;
  ALTER TABLE records ADD COLUMN tags TEXT;
  ALTER TABLE events ADD COLUMN tags TEXT;
  CREATE INDEX holds_tagged ON holds (project_id) WHERE tags IS NOT NULL;
  `,
  // 6: alert thresholds on caps (budgets.alert_at, runs.alert_at: "50,80,100") and the
  // alerts fired: one row per (project, scope, subject, window, threshold), inserted in the
  // transaction of the record that reached it (the UNIQUE key is what makes it fire once
  // across processes). The same rows are the durable delivery queue: attempts, next_at,
  // claimed_until (a deliverer's lease), delivered_at.
  `
  ALTER TABLE budgets ADD COLUMN alert_at TEXT;
  ALTER TABLE runs ADD COLUMN alert_at TEXT;
  CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    scope TEXT NOT NULL,              -- project | user | model | user_model | run (as the budgets and usage rows)
    subject TEXT NOT NULL,            -- '' | user id | glob | user U+001F glob | run id
    window TEXT NOT NULL,             -- periods.ts windowKey of the cap's period ('total' for runs)
    threshold INTEGER NOT NULL,       -- percent of the cap
    spent_nano INTEGER NOT NULL,
    cap_nano INTEGER NOT NULL,
    period TEXT NOT NULL,
    fired_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    claimed_until INTEGER,
    delivered_at INTEGER,
    last_error TEXT,
    UNIQUE (project_id, scope, subject, window, threshold)
  );
  CREATE INDEX alerts_pending ON alerts (next_at) WHERE delivered_at IS NULL;
  `,
  // 7: budget leases for remote runs (leases.ts; docs/operations-postgres.md "Budget leases"):
  // a lease is two holds rows, <lease>.u (G - W) and <lease>.c (W - S), so every cap query
  // counts them; raises and settlements change their amount, which the new trigger keeps
  // in the `held` sums. lease_settled makes each leased approval settle once.
  `
  CREATE TABLE leases (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    secret TEXT NOT NULL,
    run_id TEXT,
    provider TEXT,
    created_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    settle_until INTEGER NOT NULL
  );
  CREATE INDEX leases_project ON leases (project_id, ends_at);
  CREATE TABLE lease_settled (
    lease_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (lease_id, seq)
  ) WITHOUT ROWID;
  CREATE TRIGGER holds_amount AFTER UPDATE OF amount_nano ON holds BEGIN
    UPDATE held SET held_nano = held_nano + NEW.amount_nano - OLD.amount_nano
      WHERE project_id = OLD.project_id AND ((scope = 'project' AND subject = '')
        OR (scope = 'user' AND subject = OLD.user_id) OR (scope = 'run' AND subject = OLD.run_id)
        OR (scope = 'run' AND subject IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = OLD.run_id AND depth > 0)));
  END;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Refuses a ledger written by a newer noburn: its schema may mean what this build cannot enforce. */
function refuseNewer(v: number, path: string): void {
  if (v > SCHEMA_VERSION) throw new NoburnLedgerVersionError(path, v, SCHEMA_VERSION);
}

export function migrate(db: Database, path = db.name): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  refuseNewer(current, path);
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const v = db.pragma('user_version', { simple: true }) as number;
    refuseNewer(v, path);
    for (let i = v; i < MIGRATIONS.length; i++) {
      db.exec(MIGRATIONS[i] as string);
    }
    if (v < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
