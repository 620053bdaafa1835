/**
 * The report reads of the PostgreSQL store, each one query, with the same results (and the
 * same orderings: binary collation, NULL keys first) as the SQLite store.
 */
import { thresholdsOf } from '../../alerts/thresholds.js';
import type { Pool, PoolClient } from 'pg';
import { windowKeys, windowStart } from '../../periods.js';
import type { Period } from '../../periods.js';
import type { BudgetScope } from '../../types.js';
import { USER_MODEL_SEP } from '../../model-glob.js';
import { tagGroupKey, tagValueSql } from '../../tags.js';
import { sumSpend } from '../spend-report.js';
import type { SpendAgg } from '../spend-report.js';
import type { BudgetRecord, SpendTotals, StoreSpendQuery, UserRecord } from '../store.js';

/** A run's holds, its descendants' included (they count against its cap too). */
export async function readHeldRun(q: Pool | PoolClient, runId: string, now: number): Promise<number> {
  const { rows } = await q.query<{ held: number }>(
    `SELECT coalesce(sum(h.amount_nano), 0)::bigint AS held FROM run_ancestors a JOIN holds h ON h.run_id = a.run_id
     WHERE a.ancestor_id = $1 AND h.expires_at > $2`,
    [runId, now],
  );
  return rows[0]?.held ?? 0;
}

/** The UTC window keys of a moment, by period: what usage rows are keyed by. */
export function windowsAt(ms: number): Record<Period, string> {
  return windowKeys(ms);
}

export async function readBudgets(pool: Pool, projectId: string, now: number): Promise<BudgetRecord[]> {
  const { rows } = await pool.query<{ scope: BudgetScope | 'user_model'; subject: string; cap_nano: number; period: Period; spent: number; unpriced: number; held: number; alert_at: string | null }>(
    `WITH b AS (SELECT b.*, CASE WHEN b.scope = 'user_model' THEN split_part(b.subject, chr(31), 1) END AS mu,
                  CASE b.scope WHEN 'model' THEN b.subject WHEN 'user_model' THEN split_part(b.subject, chr(31), 2) END AS glob
                FROM budgets b WHERE b.project_id = $1)
     SELECT b.scope, b.subject, b.cap_nano, b.period, b.alert_at,
       CASE WHEN b.glob IS NULL THEN coalesce(u.spent_nano, 0) ELSE m.spent END AS spent,
       CASE WHEN b.glob IS NULL THEN coalesce(u.unpriced_calls, 0) ELSE m.unpriced END AS unpriced,
       CASE b.scope
         WHEN 'project' THEN (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM holds h WHERE h.project_id = b.project_id AND h.expires_at > $3)
         WHEN 'user' THEN (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM holds h
                           WHERE h.project_id = b.project_id AND h.user_id = b.subject AND h.expires_at > $3)
         WHEN 'default_user' THEN 0
         WHEN 'tag' THEN (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM holds h WHERE h.project_id = b.project_id AND h.tags IS NOT NULL
                          AND h.expires_at > $3 AND strpos(',' || h.tags || ',', ',' || b.subject || ',') > 0)
         ELSE (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM holds h WHERE h.project_id = b.project_id AND h.expires_at > $3
               AND h.model LIKE nb_glob_like(b.glob) AND (b.mu IS NULL OR h.user_id = b.mu)) END AS held
     FROM b LEFT JOIN usage u ON b.glob IS NULL AND b.scope <> 'default_user' AND u.project_id = b.project_id
       AND u.scope = CASE WHEN b.scope IN ('user', 'tag') THEN b.scope ELSE 'project' END AND u.subject = b.subject AND u.win = $2::jsonb->>b.period
     LEFT JOIN LATERAL (SELECT coalesce(sum(x.spent_nano), 0)::bigint AS spent, coalesce(sum(x.unpriced_calls), 0)::bigint AS unpriced FROM usage x
       WHERE b.glob IS NOT NULL AND x.project_id = b.project_id AND x.scope = b.scope AND x.win = $2::jsonb->>b.period
         AND x.subject LIKE CASE WHEN b.mu IS NULL THEN nb_glob_like(b.glob) ELSE nb_like_escape(b.mu) || chr(31) || nb_glob_like(b.glob) END) m ON true
     ORDER BY b.scope COLLATE "C", b.subject COLLATE "C"`,
    [projectId, JSON.stringify(windowsAt(now)), now],
  );
  return rows.map((r) => ({
    ...modelFields(r),
    capNano: r.cap_nano,
    period: r.period,
    spentNano: Number(r.spent),
    heldNano: Number(r.held),
    unpricedCalls: Number(r.unpriced),
    windowStart: windowStart(r.period, now),
    ...(r.alert_at ? { alertAt: thresholdsOf(r.alert_at) } : {}),
  }));
}

/** The public scope, user and model glob of a budgets row (see model-glob.ts budgetKey). */
function modelFields(r: { scope: BudgetScope | 'user_model'; subject: string }): Pick<BudgetRecord, 'scope' | 'userId' | 'model' | 'tag'> {
  if (r.scope === 'model') return { scope: 'model', userId: null, model: r.subject };
  if (r.scope === 'user_model') {
    const i = r.subject.indexOf(USER_MODEL_SEP);
    return { scope: 'model', userId: r.subject.slice(0, i), model: r.subject.slice(i + 1) };
  }
  if (r.scope === 'tag') return { scope: 'tag', userId: null, tag: r.subject };
  return { scope: r.scope, userId: r.scope === 'user' ? r.subject : null };
}

export async function readUsers(pool: Pool, projectId: string, now: number, limit: number): Promise<UserRecord[]> {
  const { rows } = await pool.query<{
    user_id: string; calls: number; blocked_calls: number; unpriced_calls: number; last_at: number | null;
    cap_nano: number | null; period: Period | null; spent: number; held: number;
  }>(
    `WITH d AS (SELECT cap_nano, period FROM budgets WHERE project_id = $1 AND scope = 'default_user' AND subject = ''),
     t AS (SELECT u.subject AS user_id, u.calls, u.blocked_calls, u.unpriced_calls, u.last_at FROM usage u
           WHERE u.project_id = $1 AND u.scope = 'user' AND u.win = 'total' ORDER BY u.last_at DESC NULLS LAST LIMIT $4),
     c AS (SELECT t.*, coalesce(ub.cap_nano, d.cap_nano) AS cap_nano, coalesce(ub.period, d.period) AS period
           FROM t LEFT JOIN budgets ub ON ub.project_id = $1 AND ub.scope = 'user' AND ub.subject = t.user_id LEFT JOIN d ON true)
     SELECT c.*,
       coalesce((SELECT s.spent_nano FROM usage s WHERE s.project_id = $1 AND s.scope = 'user' AND s.subject = c.user_id
                 AND s.win = $2::jsonb->>coalesce(c.period, 'total')), 0) AS spent,
       (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM holds h WHERE h.project_id = $1 AND h.user_id = c.user_id AND h.expires_at > $3) AS held
     FROM c ORDER BY c.last_at DESC NULLS LAST`,
    [projectId, JSON.stringify(windowsAt(now)), now, limit],
  );
  return rows.map((u) => ({
    userId: u.user_id,
    spentNano: Number(u.spent),
    heldNano: Number(u.held),
    capNano: u.cap_nano,
    period: u.cap_nano === null ? null : u.period,
    calls: u.calls,
    blockedCalls: u.blocked_calls,
    unpricedCalls: u.unpriced_calls,
    lastAt: u.last_at,
  }));
}

const GROUP_EXPR = {
  user: 'user_id',
  run: 'run_id',
  model: 'model',
  // ts is epoch ms: the UTC calendar day, independent of the session's TimeZone.
  day: `to_char(timestamp '1970-01-01' + ts * interval '1 millisecond', 'YYYY-MM-DD')`,
} as const;

type Agg = SpendAgg;

/** Spend grouped from the records table, plus blocked checks from the event log (as spend.ts). */
export async function readSpend(pool: Pool, q: StoreSpendQuery): Promise<SpendTotals> {
  const where = ['project_id = $1'];
  const args: (string | number)[] = [q.projectId];
  if (q.runId !== null) {
    args.push(q.runId);
    where.push(`run_id = $${args.length}`);
  }
  if (q.sinceMs !== null) {
    args.push(q.sinceMs);
    where.push(`ts >= $${args.length}`);
  }
  if (q.untilMs !== null) {
    args.push(q.untilMs);
    where.push(`ts < $${args.length}`);
  }
  const tagKey = q.by ? tagGroupKey(q.by) : null;
  const key = tagKey !== null ? tagValueSql(tagKey, 'strpos') : q.by ? GROUP_EXPR[q.by as keyof typeof GROUP_EXPR] : 'NULL::text';
  const group = q.by ? 'GROUP BY 1' : '';
  const { rows } = await pool.query<Agg>(
    `SELECT * FROM (SELECT ${key} AS key, sum(cost_nano)::bigint AS spent, sum(1 - was_blocked)::bigint AS calls, sum(was_blocked)::bigint AS blocked,
       sum(unpriced * (1 - was_blocked))::bigint AS unpriced, sum(tokens_in * (1 - was_blocked))::bigint AS tin,
       sum(tokens_out * (1 - was_blocked))::bigint AS tout
     FROM records WHERE ${where.join(' AND ')} ${group}) s ORDER BY s.spent DESC, s.key COLLATE "C" NULLS FIRST`,
    args,
  );
  const { rows: blockedChecks } = await pool.query<{ key: string | null; n: number }>(
    `SELECT ${key} AS key, count(*) AS n FROM events WHERE kind = 'check' AND blocked = 1 AND ${where.join(' AND ')} ${group}`,
    args,
  );
  return sumSpend(q.by !== null, rows, blockedChecks);
}
