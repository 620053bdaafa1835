import type { Database, Statement } from 'better-sqlite3';
import { PERIODS, windowKeys, type Period } from '../periods.js';
import type { DashboardUser } from './snapshot.js';

/** A usage row as the dashboard selects it (one window of one subject). */
export interface UsageRow {
  window: string;
  spent_nano: number;
  calls: number;
  blocked_calls: number;
  unpriced_calls: number;
  last_at: number | null;
}
interface SubjectRow extends UsageRow {
  subject: string;
}

export interface UserBudget {
  capNano: number;
  period: Period;
  /** Alert thresholds ("50,80"), null without (or in a ledger older than alerts). */
  alertAt?: string | null;
}

type Keys = Readonly<Record<Period, string>>;

/** More users touched than this since the last refresh: one pass over all of them is cheaper. */
const FULL_RELOAD_OVER = 200;

function keysAt(now: number): Keys {
  return windowKeys(now);
}

/** The windows other than 'total' (always read), in PERIODS order: the statements' parameters. */
const TIMED = PERIODS.filter((p) => p !== 'total');
const timedKeys = (keys: Keys): string[] => TIMED.map((p) => keys[p]);

/**
 * The end users' usage rows for the current windows of every period and all time, kept
 * between refreshes. A full load is one pass over the project's user rows (their primary
 * key prefix); after it, a refresh re-reads only the users that new events touched (one
 * primary-key seek per period each), and a full load happens again only when a window rolls over.
 */
export class UserUsageCache {
  private keys: Keys | null = null;
  private readonly rows = new Map<string, Map<string, UsageRow>>();
  private readonly all: Statement<string[], SubjectRow>;
  private readonly one: Statement<string[], UsageRow>;

  constructor(db: Database, private readonly projectId: string) {
    const cols = 'window, spent_nano, calls, blocked_calls, unpriced_calls, last_at';
    const windows = `window IN (${TIMED.map(() => '?').join(', ')}, 'total')`;
    this.all = db.prepare(`SELECT subject, ${cols} FROM usage WHERE project_id = ? AND scope = 'user' AND ${windows}`);
    this.one = db.prepare(`SELECT ${cols} FROM usage WHERE project_id = ? AND scope = 'user' AND subject = ? AND ${windows}`);
  }

  /** Brings the cache up to date: `touched` users re-read, or everything when null. */
  sync(now: number, touched: ReadonlySet<string> | null): void {
    const keys = keysAt(now);
    const prev = this.keys;
    const same = prev !== null && TIMED.every((p) => prev[p] === keys[p]);
    if (touched === null || !same || touched.size > FULL_RELOAD_OVER) {
      this.keys = keys;
      this.rows.clear();
      for (const r of this.all.iterate(this.projectId, ...timedKeys(keys))) this.put(r.subject, r);
      return;
    }
    for (const userId of touched) {
      this.rows.delete(userId);
      for (const r of this.one.iterate(this.projectId, userId, ...timedKeys(keys))) this.put(userId, r);
    }
  }

  private put(userId: string, r: UsageRow): void {
    let m = this.rows.get(userId);
    if (m === undefined) this.rows.set(userId, (m = new Map()));
    m.set(r.window, r);
  }

  /** One row per user: spend in the window of the cap that applies (explicit, else default), else all time. */
  users(budgets: ReadonlyMap<string, UserBudget>, defaultCap: UserBudget | null, held: ReadonlyMap<string, number>): DashboardUser[] {
    const keys = this.keys;
    if (keys === null) return [];
    const out: DashboardUser[] = [];
    const row = (userId: string, windows: ReadonlyMap<string, UsageRow> | undefined): DashboardUser => {
      const own = budgets.get(userId);
      const b = own ?? defaultCap;
      const r = windows?.get(keys[b?.period ?? 'total']);
      return {
        userId,
        spentNano: r?.spent_nano ?? 0,
        heldNano: held.get(userId) ?? 0,
        capNano: b?.capNano ?? null,
        period: b?.period ?? null,
        capSource: own !== undefined ? 'user' : b !== null ? 'default' : null,
        calls: r?.calls ?? 0,
        blockedCalls: r?.blocked_calls ?? 0,
        unpricedCalls: r?.unpriced_calls ?? 0,
        lastAt: windows?.get('total')?.last_at ?? r?.last_at ?? null,
      };
    };
    for (const [userId, windows] of this.rows) out.push(row(userId, windows));
    // Users with their own cap and no spend yet are shown too.
    for (const userId of budgets.keys()) if (!this.rows.has(userId)) out.push(row(userId, undefined));
    return out;
  }
}
