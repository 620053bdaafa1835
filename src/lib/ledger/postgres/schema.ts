import type { Pool, PoolClient } from 'pg';
import { NoburnLedgerVersionError, NoburnStoreError } from '../../errors.js';
import { FUNCTIONS_SQL } from './functions.js';
import { LEASE_TABLES_SQL, RUN_LEASES_SQL } from './lease-functions.js';

/**
 * The PostgreSQL schema: the same tables as the SQLite ledger (its schema.ts), with
 * BIGINT nano-dollars and epoch-millisecond times, plus `projects` (one row per project,
 * locked by every decision) and the PL/pgSQL functions of functions.ts.
 * `usage.win` is the SQLite `window` column (a reserved word in PostgreSQL).
 */
const TABLES_SQL = `
CREATE TABLE projects (project_id text PRIMARY KEY);

CREATE TABLE budgets (
  project_id text NOT NULL,
  scope text NOT NULL,
  subject text NOT NULL DEFAULT '',
  cap_nano bigint NOT NULL,
  period text NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (project_id, scope, subject)
);

CREATE TABLE runs (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  label text,
  cap_nano bigint,
  status text NOT NULL,
  exhausted smallint NOT NULL DEFAULT 0,
  started_at bigint NOT NULL,
  ended_at bigint,
  spent_nano bigint NOT NULL DEFAULT 0,
  calls bigint NOT NULL DEFAULT 0,
  blocked_calls bigint NOT NULL DEFAULT 0,
  unpriced_calls bigint NOT NULL DEFAULT 0,
  last_at bigint
);
CREATE INDEX runs_project_status ON runs (project_id, status, started_at);

CREATE TABLE holds (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  project_id text NOT NULL,
  user_id text,
  run_id text,
  model text NOT NULL,
  amount_nano bigint NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX holds_project ON holds (project_id, expires_at);
CREATE INDEX holds_user ON holds (project_id, user_id, expires_at) WHERE user_id IS NOT NULL;
CREATE INDEX holds_run ON holds (run_id, expires_at) WHERE run_id IS NOT NULL;

CREATE TABLE records (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id text NOT NULL,
  idem_key text NOT NULL,
  ts bigint NOT NULL,
  user_id text,
  run_id text,
  model text NOT NULL,
  tokens_in bigint NOT NULL,
  tokens_out bigint NOT NULL,
  cached_in bigint NOT NULL DEFAULT 0,
  cache_write_in bigint NOT NULL DEFAULT 0,
  cost_nano bigint NOT NULL,
  unpriced smallint NOT NULL DEFAULT 0,
  was_blocked smallint NOT NULL DEFAULT 0,
  reservation_id text,
  UNIQUE (project_id, idem_key)
);
CREATE INDEX records_ts ON records (project_id, ts);

CREATE TABLE usage (
  project_id text NOT NULL,
  scope text NOT NULL,
  subject text NOT NULL,
  win text NOT NULL,
  spent_nano bigint NOT NULL DEFAULT 0,
  calls bigint NOT NULL DEFAULT 0,
  blocked_calls bigint NOT NULL DEFAULT 0,
  unpriced_calls bigint NOT NULL DEFAULT 0,
  tokens_in bigint NOT NULL DEFAULT 0,
  tokens_out bigint NOT NULL DEFAULT 0,
  last_at bigint,
  PRIMARY KEY (project_id, scope, subject, win)
);

CREATE TABLE events (
  seq bigserial PRIMARY KEY,
  project_id text NOT NULL,
  ts bigint NOT NULL,
  kind text NOT NULL,
  user_id text,
  run_id text,
  model text,
  amount_nano bigint NOT NULL DEFAULT 0,
  blocked smallint NOT NULL DEFAULT 0,
  reason text,
  unpriced smallint NOT NULL DEFAULT 0,
  tokens_in bigint NOT NULL DEFAULT 0,
  tokens_out bigint NOT NULL DEFAULT 0,
  ref text
);
CREATE INDEX events_project ON events (project_id, seq);

CREATE TABLE prices (
  model text PRIMARY KEY,
  input_nano_per_mtok bigint NOT NULL,
  output_nano_per_mtok bigint NOT NULL,
  cache_read_nano_per_mtok bigint,
  cache_write_nano_per_mtok bigint,
  source text NOT NULL,
  matched text,
  data_version text NOT NULL
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  role text NOT NULL,
  hash text NOT NULL UNIQUE,
  label text,
  created_at bigint NOT NULL,
  revoked_at bigint
);
`;

// Clamped holds and input calibration (the same as SQLite migration 2). Every migration
// that changes what the functions read ends with FUNCTIONS_SQL (CREATE OR REPLACE), so an
// existing ledger gets the current functions.
const CLAMP_SQL = `
ALTER TABLE holds ADD COLUMN provider text;
ALTER TABLE holds ADD COLUMN est_in_raw bigint;
ALTER TABLE runs ADD COLUMN clamped_calls bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN over_holds bigint NOT NULL DEFAULT 0;
CREATE TABLE calibration (
  provider text NOT NULL,
  model text NOT NULL,
  samples bigint NOT NULL,
  ratio double precision NOT NULL,
  max_ratio double precision NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (provider, model)
);
`;


// 3: nested runs (runs.parent_id; run_ancestors: each run's ancestors, itself at depth 0) and
// records.called_at (the client's time of the call, kept as data: spend is dated by the
// ledger's clock). A migration that changes what the functions read ends with FUNCTIONS_SQL
// (CREATE OR REPLACE), so an existing ledger gets the current functions.
const NESTED_RUNS_SQL = `
ALTER TABLE runs ADD COLUMN parent_id text;
CREATE INDEX runs_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE TABLE run_ancestors (
  run_id text NOT NULL,
  ancestor_id text NOT NULL,
  depth int NOT NULL,
  PRIMARY KEY (run_id, ancestor_id)
);
CREATE INDEX run_ancestors_desc ON run_ancestors (ancestor_id, depth);
INSERT INTO run_ancestors SELECT id, id, 0 FROM runs;
ALTER TABLE records ADD COLUMN called_at bigint;
`;

// 4: group commit over checks and records (nb_apply); no table changes.
const GROUP_COMMIT_SQL = `
SELECT 1;
`;

// 5: per-model caps (budgets of scope 'model' / 'user_model', usage rows per model, as SQLite
// migration 4): a model cap sums this window's usage rows of its scope, found by this index.
const MODEL_CAPS_SQL = `
CREATE INDEX usage_window ON usage (project_id, scope, win, subject);
`;

// 6: tags (as SQLite migration 5): a call's sorted key=value tags on its hold, record and
// check event (NULL when none); usage rows and budgets of scope 'tag' need no new table. A tag
// cap sums the open holds carrying its tag: the partial index walks only tagged holds.
const TAGS_SQL = `
ALTER TABLE holds ADD COLUMN tags text;
ALTER TABLE records ADD COLUMN tags text;
ALTER TABLE events ADD COLUMN tags text;
CREATE INDEX holds_tagged ON holds (project_id) WHERE tags IS NOT NULL;
`;

// 7: alert thresholds and fired alerts (as SQLite migration 6): budgets.alert_at, runs.alert_at
// ("50,80,100"), and the alerts table: one row per (project, scope, subject, window, threshold)
// under a UNIQUE key, inserted by nb_record in the record's transaction; the durable delivery
// queue as well (attempts, next_at, claimed_until, delivered_at).
const ALERTS_SQL = `
ALTER TABLE budgets ADD COLUMN alert_at text;
ALTER TABLE runs ADD COLUMN alert_at text;
CREATE TABLE alerts (
  seq bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  project_id text NOT NULL,
  scope text NOT NULL,
  subject text NOT NULL,
  win text NOT NULL,
  threshold int NOT NULL,
  spent_nano bigint NOT NULL,
  cap_nano bigint NOT NULL,
  period text NOT NULL,
  fired_at bigint NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  next_at bigint NOT NULL,
  claimed_until bigint,
  delivered_at bigint,
  last_error text,
  UNIQUE (project_id, scope, subject, win, threshold)
);
CREATE INDEX alerts_pending ON alerts (next_at) WHERE delivered_at IS NULL;
`;

const MIGRATIONS: readonly string[] = [
  TABLES_SQL + FUNCTIONS_SQL,
  CLAMP_SQL + FUNCTIONS_SQL,
  NESTED_RUNS_SQL + FUNCTIONS_SQL,
  GROUP_COMMIT_SQL + FUNCTIONS_SQL,
  MODEL_CAPS_SQL + FUNCTIONS_SQL,
  TAGS_SQL + FUNCTIONS_SQL,
  ALERTS_SQL + FUNCTIONS_SQL,
  // 8: budget leases (holds.lease_id, leases, lease_settled; lease-functions.ts).
  LEASE_TABLES_SQL + FUNCTIONS_SQL,
  // 9: nb_record frees the named holds and settles leased approvals set-wise; no table changes.
  'SELECT 1;' + FUNCTIONS_SQL,
  // 10: run leases for remote runs (leases.run_id; nb_lease's run scope, nb_run_leases_end).
  RUN_LEASES_SQL + FUNCTIONS_SQL,
  // 11: each new lease gets row S (settled estimates, negative), which records and release lower
  // instead of row C, so a W raise never waits for a record batch (lease-functions.ts); no table changes.
  'SELECT 1;' + FUNCTIONS_SQL,
  // 12: near a cap a decision waits for a raise in progress before taking back row U (it skipped
  // that lease, and could refuse a check its room would have fitted); no table changes.
  'SELECT 1;' + FUNCTIONS_SQL,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The schema the ledger lives in: the `schema` option, else the session's current schema,
 * else the first schema its search_path names (which does not exist yet: we create it,
 * so that `?options=-c search_path=noburn` in the URL is enough).
 */
async function targetSchema(client: PoolClient, schema: string | null): Promise<{ name: string; create: boolean }> {
  if (schema !== null) return { name: schema, create: true };
  const cur = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s ?? null;
  if (cur !== null) return { name: cur, create: false };
  const path = (await client.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]?.p ?? '';
  const first = path
    .split(',')
    .map((e) => e.trim())
    .find((e) => e !== '' && e !== '$user' && e !== '"$user"');
  if (first === undefined) throw new NoburnStoreError('no schema to keep the ledger in: set search_path (e.g. ?options=-c%20search_path%3Dnoburn in the URL)');
  return { name: first.startsWith('"') ? first.slice(1, -1).replace(/""/g, '"') : first, create: true };
}

/**
 * Applies the missing migrations in one transaction under a transaction-level advisory
 * lock keyed on the schema: when several replicas start at once, one migrates and the
 * others wait, then find the work done. The schema is created if missing.
 */
export async function migrate(pool: Pool, schema: string | null): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const target = await targetSchema(client, schema);
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`noburn:migrate:${target.name}`]);
    if (target.create) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.name)}`);
    await client.query('CREATE TABLE IF NOT EXISTS noburn_schema (version integer NOT NULL)');
    const row = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM noburn_schema')).rows[0];
    const current = row?.v ?? 0;
    if (current > PG_SCHEMA_VERSION) throw new NoburnLedgerVersionError(`PostgreSQL schema ${target.name}`, current, PG_SCHEMA_VERSION);
    for (let i = current; i < MIGRATIONS.length; i++) await client.query(MIGRATIONS[i] as string);
    if (current < PG_SCHEMA_VERSION) {
      await client.query('DELETE FROM noburn_schema');
      await client.query('INSERT INTO noburn_schema (version) VALUES ($1)', [PG_SCHEMA_VERSION]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
