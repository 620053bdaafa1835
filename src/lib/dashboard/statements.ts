/**
 * The dashboard's read-only SQL over a ledger file: its row shapes and prepared statements
 * (the reader in reader.ts turns their rows into a snapshot).
 */
import type { Database, Statement } from 'better-sqlite3';
import type { EventRow, RunRow as LedgerRunRow } from '../ledger/rows.js';
import type { Period } from '../periods.js';
import type { UsageRow } from './users.js';

export interface BudgetRow {
  scope: string;
  subject: string;
  cap_nano: number;
  period: Period;
  /** Alert thresholds ("50,80"); null without, or in a ledger older than alerts. */
  alert_at: string | null;
}
/** A row of RUN_COLS: the ledger's run row without its project. */
export type RunRow = Omit<LedgerRunRow, 'project_id'> & { alert_at: string | null };
export type BlockedRow = Pick<EventRow, 'seq' | 'ts' | 'kind' | 'user_id' | 'run_id' | 'model' | 'amount_nano' | 'reason'>;
export interface HeldRow {
  k: string;
  n: number;
}

export interface Statements {
  budgets: Statement<[string], BudgetRow>;
  projectUsage: Statement<[string, string], UsageRow>;
  projectHeld: Statement<[string, number], { n: number | null }>;
  userHeld: Statement<[string, number], HeldRow>;
  runs: Statement<[string, string, number], RunRow>;
  runsFiltered: Statement<[string, string, string, number], RunRow>;
  runCounts: Statement<[string], { status: string; n: number }>;
  runHeld: Statement<[string, number], HeldRow>;
  blocked: Statement<[string, number], BlockedRow>;
}

const RUN_COLS = 'id, label, cap_nano, status, exhausted, started_at, ended_at, spent_nano, calls, blocked_calls, unpriced_calls, last_at';
/** Ledger schema 2 counts clamped calls and over-holds; an older file (opened read-only, not migrated) reads 0. */
function runCols(db: Database, alerts: boolean): string {
  const v = db.pragma('user_version', { simple: true }) as number;
  return `${RUN_COLS}, ${v >= 2 ? 'clamped_calls, over_holds' : '0 AS clamped_calls, 0 AS over_holds'}, ${alerts ? 'alert_at' : 'NULL AS alert_at'}`;
}
const USAGE_COLS = 'window, spent_nano, calls, blocked_calls, unpriced_calls, last_at';

/** `alerts`: the ledger keeps alert thresholds (budgets.alert_at, runs.alert_at). */
export function prepare(db: Database, alerts: boolean): Statements {
  const cols = runCols(db, alerts);
  return {
    budgets: db.prepare(`SELECT scope, subject, cap_nano, period, ${alerts ? 'alert_at' : 'NULL AS alert_at'} FROM budgets WHERE project_id = ?`),
    projectUsage: db.prepare(`SELECT ${USAGE_COLS} FROM usage WHERE project_id = ? AND scope = 'project' AND subject = '' AND window = ?`),
    projectHeld: db.prepare('SELECT SUM(amount_nano) AS n FROM holds WHERE project_id = ? AND expires_at > ?'),
    userHeld: db.prepare(
      'SELECT user_id AS k, SUM(amount_nano) AS n FROM holds WHERE project_id = ? AND user_id IS NOT NULL AND expires_at > ? GROUP BY user_id',
    ),
    // One status at a time, newest first, straight off the index runs_project_status
    // (project_id, status, started_at): no sort of every run however many there are.
    runs: db.prepare(`SELECT ${cols} FROM runs WHERE project_id = ? AND status = ? ORDER BY started_at DESC LIMIT ?`),
    runsFiltered: db.prepare(
      `SELECT ${cols} FROM runs WHERE project_id = ? AND status = ? AND instr(lower(id || ' ' || coalesce(label, '')), ?) > 0 ORDER BY started_at DESC LIMIT ?`,
    ),
    runCounts: db.prepare('SELECT status, COUNT(*) AS n FROM runs WHERE project_id = ? GROUP BY status'),
    runHeld: db.prepare(
      'SELECT run_id AS k, SUM(amount_nano) AS n FROM holds WHERE project_id = ? AND run_id IS NOT NULL AND expires_at > ? GROUP BY run_id',
    ),
    // Newest first through the partial index events_blocked (blocked, seq). A run_end event
    // carries blocked = exhausted: it is not a decision.
    blocked: db.prepare(
      "SELECT seq, ts, kind, user_id, run_id, model, amount_nano, reason FROM events WHERE blocked = 1 AND project_id = ? AND kind IN ('check', 'record') ORDER BY seq DESC LIMIT ?",
    ),
  };
}
