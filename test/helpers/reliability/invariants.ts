/**
 * contract §3 "a check never approves past a cap", read straight from the raw tables (the
 * records table, the live holds and the caps as stored) rather than from the summary
 * rows or the model: right after an approval, for every cap that applied to it,
 * settled spend in the cap's current window + live holds <= cap.
 */
import type { Period } from '../../../src/lib/periods.js';
import type { LedgerUnderTest } from './backend.js';
import { globMatch } from './model.js';
import { sameWindow } from './windows.js';

export interface CapUse {
  scope: 'project' | 'user' | 'run' | 'model' | 'tag';
  cap: number;
  used: number;
}

async function spentInWindow(db: LedgerUnderTest, project: string, user: string | null, period: Period, now: number, glob: string | null = null): Promise<number> {
  type Row = { ts: number; cost_nano: number; model: string };
  const rows =
    user === null
      ? await db.all<Row>('SELECT ts, cost_nano, model FROM records WHERE project_id = ?', [project])
      : await db.all<Row>('SELECT ts, cost_nano, model FROM records WHERE project_id = ? AND user_id = ?', [project, user]);
  return rows.filter((r) => sameWindow(period, r.ts, now) && (glob === null || globMatch(glob, r.model))).reduce((a, r) => a + r.cost_nano, 0);
}

async function held(db: LedgerUnderTest, where: string, args: unknown[], now: number): Promise<number> {
  const rows = await db.all<{ h: number }>(`SELECT coalesce(sum(amount_nano), 0) AS h FROM holds WHERE expires_at > ? AND ${where}`, [now, ...args]);
  return Number(rows[0]?.h ?? 0);
}

async function budget(db: LedgerUnderTest, project: string, scope: string, subject: string): Promise<{ cap_nano: number; period: Period } | undefined> {
  return (await db.all<{ cap_nano: number; period: Period }>('SELECT cap_nano, period FROM budgets WHERE project_id = ? AND scope = ? AND subject = ?', [project, scope, subject]))[0];
}

/** The caps that applied to an approved check of (project, user, run, model), with what they now carry. */
export async function capsInUse(db: LedgerUnderTest, project: string, user: string | null, runId: string | null, now: number, model: string, tags: readonly string[] = []): Promise<CapUse[]> {
  const out: CapUse[] = [];
  const pb = await budget(db, project, 'project', '');
  if (pb) out.push({ scope: 'project', cap: pb.cap_nano, used: (await spentInWindow(db, project, null, pb.period, now)) + (await held(db, 'project_id = ?', [project], now)) });
  if (user !== null) {
    const ub = (await budget(db, project, 'user', user)) ?? (await budget(db, project, 'default_user', ''));
    if (ub) out.push({ scope: 'user', cap: ub.cap_nano, used: (await spentInWindow(db, project, user, ub.period, now)) + (await held(db, 'project_id = ? AND user_id = ?', [project, user], now)) });
  }
  // Per-model caps as stored: scope 'model' (subject: glob) and 'user_model' (user U+001F glob).
  const mbs = await db.all<{ scope: string; subject: string; cap_nano: number; period: Period }>(
    "SELECT scope, subject, cap_nano, period FROM budgets WHERE project_id = ? AND scope IN ('model', 'user_model')",
    [project],
  );
  for (const b of mbs) {
    const [u, glob] = b.scope === 'model' ? [null, b.subject] : (b.subject.split('\u001f') as [string, string]);
    if ((u !== null && u !== user) || !globMatch(glob, model)) continue;
    const h = (await db.all<{ model: string; user_id: string | null; amount_nano: number }>('SELECT model, user_id, amount_nano FROM holds WHERE project_id = ? AND expires_at > ?', [project, now]))
      .filter((x) => globMatch(glob, x.model) && (u === null || x.user_id === u))
      .reduce((a, x) => a + x.amount_nano, 0);
    out.push({ scope: 'model', cap: b.cap_nano, used: (await spentInWindow(db, project, u, b.period, now, glob)) + h });
  }
  // Per-tag caps (scope 'tag', subject key=value): the records and live holds whose stored tags include it.
  const has = (stored: string | null, t: string) => stored !== null && stored.split(',').includes(t);
  for (const t of tags) {
    const tb = await budget(db, project, 'tag', t);
    if (!tb) continue;
    const spent = (await db.all<{ ts: number; cost_nano: number; tags: string | null }>('SELECT ts, cost_nano, tags FROM records WHERE project_id = ?', [project]))
      .filter((r) => has(r.tags, t) && sameWindow(tb.period, r.ts, now)).reduce((a, r) => a + r.cost_nano, 0);
    const h = (await db.all<{ tags: string | null; amount_nano: number }>('SELECT tags, amount_nano FROM holds WHERE project_id = ? AND expires_at > ?', [project, now]))
      .filter((x) => has(x.tags, t)).reduce((a, x) => a + x.amount_nano, 0);
    out.push({ scope: 'tag', cap: tb.cap_nano, used: spent + h });
  }
  if (runId !== null) {
    const r = (await db.all<{ cap_nano: number | null }>('SELECT cap_nano FROM runs WHERE id = ? AND project_id = ?', [runId, project]))[0];
    if (r && r.cap_nano !== null) {
      const spent = Number((await db.all<{ s: number }>('SELECT coalesce(sum(cost_nano), 0) AS s FROM records WHERE project_id = ? AND run_id = ?', [project, runId]))[0]?.s ?? 0);
      out.push({ scope: 'run', cap: r.cap_nano, used: spent + (await held(db, 'run_id = ?', [runId], now)) });
    }
  }
  return out;
}

/** The caps among `uses` that are exceeded (empty when the approval was safe). */
export function overshoots(uses: readonly CapUse[]): CapUse[] {
  return uses.filter((u) => u.used > u.cap);
}
