import type { Database } from 'better-sqlite3';
import { sumSpend } from '../spend-report.js';
import type { SpendAgg } from '../spend-report.js';
import type { SpendTotals, StoreSpendQuery } from '../store.js';
import { tagGroupKey, tagValueSql } from '../../tags.js';

const GROUP_EXPR = {
  user: 'user_id',
  run: 'run_id',
  model: 'model',
  day: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')",
} as const;

/** Spend grouped from the records table (integer sums). */
export function spendTotals(db: Database, q: StoreSpendQuery): SpendTotals {
  const where = ['project_id = ?'];
  const args: (string | number)[] = [q.projectId];
  if (q.runId !== null) {
    where.push('run_id = ?');
    args.push(q.runId);
  }
  if (q.sinceMs !== null) {
    where.push('ts >= ?');
    args.push(q.sinceMs);
  }
  if (q.untilMs !== null) {
    where.push('ts < ?');
    args.push(q.untilMs);
  }
  const tagKey = q.by ? tagGroupKey(q.by) : null;
  const key = tagKey !== null ? tagValueSql(tagKey, 'instr') : q.by ? GROUP_EXPR[q.by as keyof typeof GROUP_EXPR] : 'NULL';
  const sql = `SELECT ${key} AS key, sum(cost_nano) AS spent, sum(1 - was_blocked) AS calls, sum(was_blocked) AS blocked,
    sum(unpriced * (1 - was_blocked)) AS unpriced, sum(tokens_in * (1 - was_blocked)) AS tin, sum(tokens_out * (1 - was_blocked)) AS tout
    FROM records WHERE ${where.join(' AND ')} ${q.by ? 'GROUP BY key ORDER BY spent DESC, key' : ''}`;
  const rows = db.prepare(sql).all(...args) as SpendAgg[];
  // Blocked checks never reach the records table; they are counted from the event log.
  const blockedChecks = db
    .prepare(`SELECT ${key} AS key, count(*) AS n FROM events WHERE kind = 'check' AND blocked = 1 AND ${where.join(' AND ')} ${q.by ? 'GROUP BY key' : ''}`)
    .all(...args) as { key: string | null; n: number }[];
  return sumSpend(q.by !== null, rows, blockedChecks);
}
