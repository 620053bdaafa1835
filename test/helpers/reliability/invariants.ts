/**
 * contract §3 "a check never approves past a cap", read straight from the raw tables (the
 * records table, the live holds and the caps as stored) rather than from the summary
 * rows or the model: right after an approval, for every cap that applied to it,
 * settled spend in the cap's current window + live holds <= cap.
 */
import type { Database } from 'better-sqlite3';
import type { Period } from '../../../src/lib/periods.js';
import { globMatch } from './model.js';
import { sameWindow } from './windows.js';

export interface CapUse {
  scope: 'project' | 'user' | 'run' | 'model';
  cap: number;
  used: number;
}

function spentInWindow(db: Database, project: string, user: string | null, period: Period, now: number, glob: string | null = null): number {
  const rows = db
    .prepare('SELECT ts, cost_nano, model FROM records WHERE project_id = ? AND (? IS NULL OR user_id = ?)')
    .all(project, user, user) as { ts: number; cost_nano: number; model: string }[];
  return rows.filter((r) => sameWindow(period, r.ts, now) && (glob === null || globMatch(glob, r.model))).reduce((a, r) => a + r.cost_nano, 0);
}

function held(db: Database, where: string, args: unknown[], now: number): number {
  const row = db.prepare(`SELECT coalesce(sum(amount_nano), 0) AS h FROM holds WHERE expires_at > ? AND ${where}`).get(now, ...args) as { h: number };
  return row.h;
}

function budget(db: Database, project: string, scope: string, subject: string): { cap_nano: number; period: Period } | undefined {
  return db.prepare('SELECT cap_nano, period FROM budgets WHERE project_id = ? AND scope = ? AND subject = ?').get(project, scope, subject) as
    | { cap_nano: number; period: Period }
    | undefined;
}

/** The caps that applied to an approved check of (project, user, run), with what they now carry. */
export function capsInUse(db: Database, project: string, user: string | null, runId: string | null, now: number, model: string): CapUse[] {
  const out: CapUse[] = [];
  const pb = budget(db, project, 'project', '');
  if (pb) out.push({ scope: 'project', cap: pb.cap_nano, used: spentInWindow(db, project, null, pb.period, now) + held(db, 'project_id = ?', [project], now) });
  if (user !== null) {
    const ub = budget(db, project, 'user', user) ?? budget(db, project, 'default_user', '');
    if (ub) out.push({ scope: 'user', cap: ub.cap_nano, used: spentInWindow(db, project, user, ub.period, now) + held(db, 'project_id = ? AND user_id = ?', [project, user], now) });
  }
  // Per-model caps as stored: scope 'model' (subject: glob) and 'user_model' (user U+001F glob).
  const mbs = db.prepare("SELECT scope, subject, cap_nano, period FROM budgets WHERE project_id = ? AND scope IN ('model', 'user_model')").all(project) as
    { scope: string; subject: string; cap_nano: number; period: Period }[];
  for (const b of mbs) {
    const [u, glob] = b.scope === 'model' ? [null, b.subject] : (b.subject.split('\u001f') as [string, string]);
    if ((u !== null && u !== user) || !globMatch(glob, model)) continue;
    const h = (db.prepare('SELECT model, user_id, amount_nano FROM holds WHERE project_id = ? AND expires_at > ?').all(project, now) as { model: string; user_id: string | null; amount_nano: number }[])
      .filter((x) => globMatch(glob, x.model) && (u === null || x.user_id === u))
      .reduce((a, x) => a + x.amount_nano, 0);
    out.push({ scope: 'model', cap: b.cap_nano, used: spentInWindow(db, project, u, b.period, now, glob) + h });
  }
  if (runId !== null) {
    const r = db.prepare('SELECT cap_nano FROM runs WHERE id = ? AND project_id = ?').get(runId, project) as { cap_nano: number | null } | undefined;
    if (r && r.cap_nano !== null) {
      const spent = (db.prepare('SELECT coalesce(sum(cost_nano), 0) AS s FROM records WHERE project_id = ? AND run_id = ?').get(project, runId) as { s: number }).s;
      out.push({ scope: 'run', cap: r.cap_nano, used: spent + held(db, 'run_id = ?', [runId], now) });
    }
  }
  return out;
}

/** The caps among `uses` that are exceeded (empty when the approval was safe). */
export function overshoots(uses: readonly CapUse[]): CapUse[] {
  return uses.filter((u) => u.used > u.cap);
}
