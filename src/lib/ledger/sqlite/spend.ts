import type { Database } from 'better-sqlite3';
import { nanoToUsd } from '../../money.js';
import type { SpendReport, SpendRow } from '../../types.js';
import type { StoreSpendQuery } from '../store.js';

const GROUP_EXPR = {
  user: 'user_id',
  run: 'run_id',
  model: 'model',
  day: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')",
} as const;

/** Spend grouped from the records table (integer sums, converted once at the end). */
export function spendReport(db: Database, q: StoreSpendQuery): SpendReport {
  const where = ['project_id = ?'];
  const args: (string | number)[] = [q.projectId];
  if (q.sinceMs !== null) {
    where.push('ts >= ?');
    args.push(q.sinceMs);
  }
  if (q.untilMs !== null) {
    where.push('ts < ?');
    args.push(q.untilMs);
  }
  const key = q.by ? GROUP_EXPR[q.by] : 'NULL';
  const sql = `SELECT ${key} AS key, sum(cost_nano) AS spent, sum(1 - was_blocked) AS calls, sum(was_blocked) AS blocked,
    sum(unpriced * (1 - was_blocked)) AS unpriced, sum(tokens_in * (1 - was_blocked)) AS tin, sum(tokens_out * (1 - was_blocked)) AS tout
    FROM records WHERE ${where.join(' AND ')} ${q.by ? 'GROUP BY key ORDER BY spent DESC, key' : ''}`;
  const rows = db.prepare(sql).all(...args) as { key: string | null; spent: number | null; calls: number | null; blocked: number | null; unpriced: number | null; tin: number | null; tout: number | null }[];
  const out: SpendRow[] = rows
    .filter((r) => r.spent !== null)
    .map((r) => ({
      key: r.key,
      spendUsd: nanoToUsd(r.spent ?? 0),
      calls: r.calls ?? 0,
      blockedCalls: r.blocked ?? 0,
      unpricedCalls: r.unpriced ?? 0,
      tokensIn: r.tin ?? 0,
      tokensOut: r.tout ?? 0,
    }));
  // Blocked checks never reach the records table; they are counted from the event log.
  const blockedChecks = db
    .prepare(`SELECT ${key} AS key, count(*) AS n FROM events WHERE kind = 'check' AND blocked = 1 AND ${where.join(' AND ')} ${q.by ? 'GROUP BY key' : ''}`)
    .all(...args) as { key: string | null; n: number }[];
  const byKey = new Map(out.map((r) => [r.key, r]));
  for (const b of blockedChecks) {
    if (b.n === 0) continue;
    let row = byKey.get(b.key);
    if (!row) {
      row = { key: b.key, spendUsd: 0, calls: 0, blockedCalls: 0, unpricedCalls: 0, tokensIn: 0, tokensOut: 0 };
      out.push(row);
    }
    row.blockedCalls += b.n;
  }
  let total = 0;
  let calls = 0;
  let blocked = 0;
  let unpriced = 0;
  for (const r of rows) {
    total += r.spent ?? 0;
    calls += r.calls ?? 0;
    blocked += r.blocked ?? 0;
    unpriced += r.unpriced ?? 0;
  }
  for (const b of blockedChecks) blocked += b.n;
  return {
    by: q.by,
    since: q.sinceMs === null ? null : new Date(q.sinceMs).toISOString(),
    until: q.untilMs === null ? null : new Date(q.untilMs).toISOString(),
    totalUsd: nanoToUsd(total),
    calls,
    blockedCalls: blocked,
    unpricedCalls: unpriced,
    rows: q.by ? out : [],
  };
}
