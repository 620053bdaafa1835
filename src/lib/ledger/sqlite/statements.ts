import type { Database, Statement } from 'better-sqlite3';
import { eventColumns } from '../rows.js';
import type { EventEntry } from '../rows.js';

/** Every statement the SQLite store runs, prepared once per connection. */
const SQL = {
  getBudget: 'SELECT cap_nano, period FROM budgets WHERE project_id = ? AND scope = ? AND subject = ?',
  // @keep: the cap keeps its alert thresholds (none were given).
  upsertBudget: `INSERT INTO budgets (project_id, scope, subject, cap_nano, period, updated_at, alert_at) VALUES (@project, @scope, @subject, @cap, @period, @now, @alerts)
      ON CONFLICT (project_id, scope, subject) DO UPDATE SET cap_nano = excluded.cap_nano, period = excluded.period, updated_at = excluded.updated_at,
        alert_at = CASE WHEN @keep = 1 THEN alert_at ELSE excluded.alert_at END`,
  deleteBudget: 'DELETE FROM budgets WHERE project_id = ? AND scope = ? AND subject = ?',
  listBudgets: 'SELECT scope, subject, cap_nano, period, alert_at FROM budgets WHERE project_id = ? ORDER BY scope, subject',
  // The project's model caps, and one user's (subject range user U+001F ... < user U+0020; '' = none).
  modelBudgets: `SELECT scope, subject, cap_nano, period FROM budgets WHERE project_id = @project
      AND (scope = 'model' OR (scope = 'user_model' AND subject >= @lo AND subject < @hi)) ORDER BY scope, subject`,
  // Spend of the models a glob matches in one window (usage_window index: this window's rows of the scope).
  modelSpent: `SELECT coalesce(sum(spent_nano), 0) AS spent, coalesce(sum(unpriced_calls), 0) AS unpriced FROM usage
      WHERE project_id = ? AND scope = ? AND window = ? AND subject GLOB ?`,
  modelHeld: `SELECT coalesce(sum(amount_nano), 0) AS held FROM holds WHERE project_id = @project AND expires_at > @now AND model GLOB @glob
      AND (@user IS NULL OR user_id = @user)`,

  // A tag cap's open holds: the project's tagged holds (holds_tagged) whose tags include it (@tag is ',key=value,').
  tagHeld: `SELECT coalesce(sum(amount_nano), 0) AS held FROM holds WHERE project_id = @project AND tags IS NOT NULL
      AND expires_at > @now AND instr(',' || tags || ',', @tag) > 0`,
  // Alerts (alerts.ts): the project's caps with thresholds, a user's own or default cap, a run chain's caps with thresholds.
  alertBudgets: 'SELECT scope, subject, cap_nano, period, alert_at FROM budgets WHERE project_id = ? AND alert_at IS NOT NULL',
  budgetWithAlerts: 'SELECT cap_nano, period, alert_at FROM budgets WHERE project_id = ? AND scope = ? AND subject = ?',
  runAlertChain: `SELECT r.id, r.cap_nano, r.spent_nano, r.alert_at FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id
      WHERE a.run_id = ? AND r.alert_at IS NOT NULL AND r.cap_nano IS NOT NULL`,
  insertAlert: `INSERT INTO alerts (id, project_id, scope, subject, window, threshold, spent_nano, cap_nano, period, fired_at, next_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  listAlerts: `SELECT * FROM alerts WHERE (@project IS NULL OR project_id = @project) AND (@run IS NULL OR (scope = 'run' AND subject = @run))
      AND seq > @after ORDER BY seq LIMIT @limit`,
  alertDue: `SELECT 1 FROM alerts WHERE delivered_at IS NULL AND next_at <= @now AND (claimed_until IS NULL OR claimed_until <= @now)
      AND (@project IS NULL OR project_id = @project) LIMIT 1`,
  claimAlerts: `UPDATE alerts SET claimed_until = @until, attempts = attempts + 1 WHERE seq IN (SELECT seq FROM alerts
      WHERE delivered_at IS NULL AND next_at <= @now AND (claimed_until IS NULL OR claimed_until <= @now)
        AND (@project IS NULL OR project_id = @project) ORDER BY seq LIMIT @limit) RETURNING *`,
  alertDelivered: 'UPDATE alerts SET delivered_at = ?, claimed_until = NULL, last_error = NULL WHERE id = ?',
  alertFailed: 'UPDATE alerts SET next_at = ?, claimed_until = NULL, last_error = ? WHERE id = ? AND delivered_at IS NULL',

  getSpent: 'SELECT spent_nano, unpriced_calls FROM usage WHERE project_id = ? AND scope = ? AND subject = ? AND window = ?',
  addUsage: `INSERT INTO usage (project_id, scope, subject, window, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out, last_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (project_id, scope, subject, window) DO UPDATE SET
        spent_nano = spent_nano + excluded.spent_nano, calls = calls + excluded.calls,
        blocked_calls = blocked_calls + excluded.blocked_calls, unpriced_calls = unpriced_calls + excluded.unpriced_calls,
        tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
        last_at = max(coalesce(last_at, 0), excluded.last_at)`,
  userTotals: `SELECT u.subject AS user_id, u.calls, u.blocked_calls, u.unpriced_calls, u.last_at
      FROM usage u WHERE u.project_id = ? AND u.scope = 'user' AND u.window = 'total' ORDER BY u.last_at DESC LIMIT ?`,

  sweepHolds: 'DELETE FROM holds WHERE expires_at <= ?',
  // For decisions, after the sweep: the trigger-maintained sums.
  heldSum: 'SELECT held_nano AS held FROM held WHERE project_id = ? AND scope = ? AND subject = ?',
  openHolds: 'SELECT count(*) AS n FROM holds WHERE expires_at > ?',
  heldProject: 'SELECT coalesce(sum(amount_nano), 0) AS held FROM holds WHERE project_id = ? AND expires_at > ?',
  heldUser: 'SELECT coalesce(sum(amount_nano), 0) AS held FROM holds WHERE project_id = ? AND user_id = ? AND expires_at > ?',
  // A run's holds include its descendants' (they count against its cap too).
  heldRun: `SELECT coalesce(sum(h.amount_nano), 0) AS held FROM run_ancestors a JOIN holds h ON h.run_id = a.run_id
      WHERE a.ancestor_id = ? AND h.expires_at > ?`,
  insertHold: 'INSERT INTO holds (id, project_id, user_id, run_id, model, amount_nano, created_at, expires_at, provider, est_in_raw, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  getHold: 'SELECT id, amount_nano, provider, est_in_raw FROM holds WHERE id = ? AND project_id = ?',
  deleteHold: 'DELETE FROM holds WHERE id = ? AND project_id = ?',
  // Never a lease's rows (L_...): they are settled by their approvals' ids only (leases.ts).
  oldestHold: `SELECT id, amount_nano, provider, est_in_raw FROM holds WHERE project_id = ? AND user_id IS ? AND run_id IS ? AND model = ? AND expires_at > ?
      AND id NOT LIKE 'L\\_%' ESCAPE '\\' ORDER BY created_at, rowid LIMIT 1`,
  // Near a cap: other leases' row U (granted, not yet approvable) goes back to the pool.
  leaseSteal: `DELETE FROM holds WHERE id IN (SELECT id || '.u' FROM leases WHERE project_id = ? AND ends_at > ?) AND amount_nano > 0`,

  getRun: 'SELECT * FROM runs WHERE id = ? AND project_id = ?',
  insertRun: `INSERT INTO runs (id, project_id, label, cap_nano, status, started_at, parent_id, alert_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)`,
  endRun: `UPDATE runs SET status = 'ended', ended_at = ? WHERE id = ? AND status = 'open'`,
  // Ending a run ends its open descendants (their checks are refused from then on anyway).
  endDescendants: `UPDATE runs SET status = 'ended', ended_at = ? WHERE status = 'open'
      AND id IN (SELECT run_id FROM run_ancestors WHERE ancestor_id = ? AND depth > 0) RETURNING id, spent_nano, exhausted`,
  // The run and its ancestors, nearest first (depth 0 = the run).
  runChain: `SELECT r.*, a.depth FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id WHERE a.run_id = ? ORDER BY a.depth`,
  // A blocked call counts on the run and every ancestor; `exhausted` marks the runs up to the one whose cap blocked it.
  runBlocked: `UPDATE runs SET blocked_calls = blocked_calls + 1,
      exhausted = max(exhausted, CASE WHEN id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = @run AND depth <= @depth) THEN 1 ELSE 0 END),
      last_at = max(coalesce(last_at, 0), @ts) WHERE id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = @run)`,
  runRecord: `UPDATE runs SET spent_nano = spent_nano + ?, calls = calls + ?, blocked_calls = blocked_calls + ?,
      unpriced_calls = unpriced_calls + ?, last_at = max(coalesce(last_at, 0), ?)
      WHERE id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = ?) AND project_id = ?`,
  // An allowed check is activity on the run and its ancestors (the idle TTL counts from the last one).
  touchRuns: `UPDATE runs SET last_at = max(coalesce(last_at, 0), ?) WHERE id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = ?)`,
  // status: null = all, 'ended' = every run that is not open, else that status. Open runs first, newest first.
  listRuns: `SELECT * FROM runs WHERE project_id = @project
      AND (@status IS NULL OR (CASE WHEN @status = 'ended' THEN status <> 'open' ELSE status = @status END))
      AND (@parent IS NULL OR parent_id = @parent)
      ORDER BY (status = 'open') DESC, started_at DESC LIMIT @limit`,
  // Open runs idle since before @before with nothing in flight (no open hold of theirs or a descendant's).
  idleRuns: `SELECT r.id, coalesce(r.last_at, r.started_at) AS last FROM runs r
      WHERE r.project_id = @project AND r.status = 'open' AND coalesce(r.last_at, r.started_at) <= @before
        AND (@run IS NULL OR r.id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = @run))
        AND NOT EXISTS (SELECT 1 FROM run_ancestors a JOIN holds h ON h.run_id = a.run_id WHERE a.ancestor_id = r.id AND h.expires_at > @now)`,
  abandonRun: `UPDATE runs SET status = 'abandoned', ended_at = ? WHERE id = ? AND status = 'open' RETURNING spent_nano, exhausted`,
  // Clamped calls and over-holds count on the run and its ancestors, as calls do.
  runClamped: 'UPDATE runs SET clamped_calls = clamped_calls + 1, last_at = max(coalesce(last_at, 0), ?) WHERE id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = ?)',
  runOverHold: 'UPDATE runs SET over_holds = over_holds + 1 WHERE id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = ?) AND project_id = ?',

  insertRecord: `INSERT OR IGNORE INTO records (project_id, idem_key, ts, user_id, run_id, model, tokens_in, tokens_out,
      cached_in, cache_write_in, cost_nano, unpriced, was_blocked, reservation_id, called_at, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,

  insertEvent: `INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, blocked, reason, unpriced, tokens_in, tokens_out, ref, tags)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  eventsAll: 'SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
  eventsProject: 'SELECT * FROM events WHERE project_id = ? AND seq > ? ORDER BY seq LIMIT ?',

  getCalibration: 'SELECT provider, model, samples, ratio, max_ratio FROM calibration WHERE provider = ? AND model = ?',
  // A moving average that weighs the first samples equally (1/n) and then 1/20 each.
  learnCalibration: `INSERT INTO calibration (provider, model, samples, ratio, max_ratio, updated_at) VALUES (?, ?, 1, ?, ?, ?)
      ON CONFLICT (provider, model) DO UPDATE SET samples = samples + 1,
        ratio = ratio + (excluded.ratio - ratio) / min(samples + 1, 20), max_ratio = max(max_ratio, excluded.ratio), updated_at = excluded.updated_at`,

  getPrice: 'SELECT * FROM prices WHERE model = ?',
  putPrice: `INSERT OR REPLACE INTO prices (model, input_nano_per_mtok, output_nano_per_mtok, cache_read_nano_per_mtok,
      cache_write_nano_per_mtok, source, matched, data_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,

  insertKey: 'INSERT INTO api_keys (id, project_id, role, hash, label, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  listKeysAll: 'SELECT * FROM api_keys ORDER BY created_at',
  listKeysProject: 'SELECT * FROM api_keys WHERE project_id = ? ORDER BY created_at',
  revokeKey: 'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  getKey: 'SELECT * FROM api_keys WHERE id = ?',
  keyByHash: 'SELECT * FROM api_keys WHERE hash = ?',
} as const;

export type Statements = { readonly [K in keyof typeof SQL]: Statement };

/**
 * Statements are prepared on first use: a one-shot `noburn check` needs a handful of the
 * forty, and preparing the rest would be start-up time spent for nothing. Once prepared,
 * a statement replaces its getter (a plain property read on the hot path).
 */
export function prepareStatements(db: Database): Statements {
  const out = {} as Record<keyof typeof SQL, Statement>;
  for (const [name, sql] of Object.entries(SQL)) {
    Object.defineProperty(out, name, {
      enumerable: true,
      configurable: true,
      get(): Statement {
        const st = db.prepare(sql);
        Object.defineProperty(out, name, { enumerable: true, value: st });
        return st;
      },
    });
  }
  return out;
}

/** Prepares every statement now (long-lived processes: their first request must not pay for it). */
export function prepareAll(st: Statements): void {
  for (const name of Object.keys(SQL) as (keyof typeof SQL)[]) void st[name];
}

export interface HoldRow {
  id: string;
  amount_nano: number;
  provider: string | null;
  est_in_raw: number | null;
}

/** Appends an entry to the event feed (inside the caller's transaction). */
export function logEvent(st: Statements, e: EventEntry): void {
  st.insertEvent.run(...eventColumns(e));
}
