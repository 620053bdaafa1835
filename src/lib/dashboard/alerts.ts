/**
 * Alert thresholds and the alerts that fired, for the dashboard. A ledger that keeps them
 * has `alert_at` ("50,80,100": percent of the cap) on budgets and runs, and one `alerts` row
 * per (project, scope, subject, window, threshold) fired. The reader learns which by the
 * columns themselves (a ledger older than alerts has none: nothing is shown), reads the
 * alerts after the last `seq` it saw (the table's rowid: a range seek, so a refresh costs
 * the alerts fired since the previous one) and keeps, per cap and window, what fired.
 */
import type { Database, Statement } from 'better-sqlite3';
import { windowKey } from '../periods.js';
import type { DashboardProject, DashboardRun, DashboardUser } from './snapshot.js';
import type { UserBudget } from './users.js';

interface AlertRow {
  seq: number;
  scope: string;
  subject: string;
  window: string;
  threshold: number;
}

/** "50,80,100" → [50, 80, 100] (ascending); null, '' or nothing valid → undefined. */
export function parseThresholds(text: string | null | undefined): number[] | undefined {
  if (text === null || text === undefined || text === '') return undefined;
  const out = text
    .split(',')
    .map((t) => Number(t.trim()))
    .filter((n) => Number.isFinite(n) && n > 0);
  return out.length === 0 ? undefined : [...new Set(out)].sort((a, b) => a - b);
}

function hasColumn(db: Database, table: string, column: string): boolean {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
}

export class AlertReader {
  private lastSeq = 0;
  private readonly fired = new Map<string, number[]>();
  private readonly after: Statement<[number, string], AlertRow>;

  private constructor(db: Database, private readonly projectId: string) {
    this.after = db.prepare('SELECT seq, scope, subject, window, threshold FROM alerts WHERE seq > ? AND project_id = ? ORDER BY seq');
  }

  /** Null when the ledger keeps no alerts (no `alerts` table, no `alert_at` columns). */
  static open(db: Database, projectId: string): AlertReader | null {
    if (!hasColumn(db, 'budgets', 'alert_at') || !hasColumn(db, 'runs', 'alert_at') || !hasColumn(db, 'alerts', 'threshold')) return null;
    return new AlertReader(db, projectId);
  }

  /** Reads the alerts fired since the last call. */
  sync(): void {
    for (const r of this.after.iterate(this.lastSeq, this.projectId)) {
      this.lastSeq = r.seq;
      const key = `${r.scope}\u0000${r.subject}\u0000${r.window}`;
      const list = this.fired.get(key) ?? [];
      if (!list.includes(r.threshold)) this.fired.set(key, [...list, r.threshold].sort((a, b) => a - b));
    }
  }

  /** The thresholds that fired for one cap in one window (periods.ts key; 'total' for runs). */
  firedFor(scope: 'project' | 'user' | 'run', subject: string, window: string): number[] {
    return this.fired.get(`${scope}\u0000${subject}\u0000${window}`) ?? [];
  }
}

/** The snapshot's optional fields for a cap's thresholds: absent without any. */
export function thresholdFields(alertAt: string | null | undefined): { thresholdsPct?: number[] } {
  const t = parseThresholds(alertAt);
  return t === undefined ? {} : { thresholdsPct: t };
}

interface Scopes {
  project: DashboardProject;
  projectAlertAt: string | null;
  /** The project's window key (periods.ts; 'total' without a project cap). */
  window: string;
  users: DashboardUser[];
  userBudgets: ReadonlyMap<string, UserBudget>;
  defaultUser: UserBudget | null;
  /** Their thresholds already read with the runs (thresholdFields). */
  runs: DashboardRun[];
}

/**
 * Each scope's thresholds and what fired in its current window: the project cap's, each
 * user's (their own cap's, else the default user cap's, as the store fires them), each run's.
 */
export function withAlerts(a: AlertReader, s: Scopes, now: number): Pick<Scopes, 'project' | 'users' | 'runs'> {
  const mark = <T extends { thresholdsPct?: number[] }>(row: T, fired: number[]): T =>
    row.thresholdsPct === undefined ? row : { ...row, firedPct: fired.filter((f) => row.thresholdsPct?.includes(f)) };
  const project = s.project.capNano === null ? s.project : mark({ ...s.project, ...thresholdFields(s.projectAlertAt) }, a.firedFor('project', '', s.window));
  const users = s.users.map((u) => {
    const b = s.userBudgets.get(u.userId) ?? (u.capSource === 'default' ? s.defaultUser : null);
    if (b === null || b === undefined || u.period === null) return u;
    return mark({ ...u, ...thresholdFields(b.alertAt) }, a.firedFor('user', u.userId, windowKey(u.period, now)));
  });
  const runs = s.runs.map((r) => mark(r, a.firedFor('run', r.runId, 'total')));
  return { project, users, runs };
}
