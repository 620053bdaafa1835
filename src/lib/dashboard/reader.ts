import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement } from 'better-sqlite3';
import { windowKey, windowStart, type Period } from '../periods.js';
import { BURN_BUCKET_MS, BURN_BUCKETS, BURN_RATE_WINDOW_MS, BurnTracker } from './burn.js';
import type { DashboardBlocked, DashboardBurn, DashboardProject, DashboardRun, DashboardSnapshot, DashboardUser } from './snapshot.js';

export interface DashboardReaderOptions {
  dbPath: string;
  projectId: string;
  /** At most this many runs are read (open ones first). */
  runLimit?: number;
  /** At most this many blocked decisions are read. */
  blockedLimit?: number;
}

export interface ReadOptions {
  /** Keep only runs whose id or label contains this text (case-insensitive). */
  runFilter?: string;
}

interface UsageRow {
  window: string;
  spent_nano: number;
  calls: number;
  blocked_calls: number;
  unpriced_calls: number;
  last_at: number | null;
}
interface UserUsageRow extends UsageRow {
  subject: string;
}
interface BudgetRow {
  scope: string;
  subject: string;
  cap_nano: number;
  period: Period;
}
interface RunRow {
  id: string;
  label: string | null;
  cap_nano: number | null;
  status: string;
  exhausted: number;
  started_at: number;
  ended_at: number | null;
  spent_nano: number;
  calls: number;
  blocked_calls: number;
  unpriced_calls: number;
  last_at: number | null;
}
interface BlockedRow {
  seq: number;
  ts: number;
  kind: string;
  user_id: string | null;
  run_id: string | null;
  model: string | null;
  amount_nano: number;
  reason: string | null;
}
interface HeldRow {
  k: string;
  n: number;
}

interface Statements {
  budgets: Statement<[string], BudgetRow>;
  projectUsage: Statement<[string, string], UsageRow>;
  projectHeld: Statement<[string, number], { n: number | null }>;
  userUsage: Statement<[string, string, string, string], UserUsageRow>;
  userHeld: Statement<[string, number], HeldRow>;
  runs: Statement<[string, string, number], RunRow>;
  runsFiltered: Statement<[string, string, string, number], RunRow>;
  runCounts: Statement<[string], { status: string; n: number }>;
  runHeld: Statement<[string, number], HeldRow>;
  blocked: Statement<[string, number], BlockedRow>;
}

const RUN_COLS = 'id, label, cap_nano, status, exhausted, started_at, ended_at, spent_nano, calls, blocked_calls, unpriced_calls, last_at';
const USAGE_COLS = 'window, spent_nano, calls, blocked_calls, unpriced_calls, last_at';

function prepare(db: Database): Statements {
  return {
    budgets: db.prepare('SELECT scope, subject, cap_nano, period FROM budgets WHERE project_id = ?'),
    projectUsage: db.prepare(`SELECT ${USAGE_COLS} FROM usage WHERE project_id = ? AND scope = 'project' AND subject = '' AND window = ?`),
    projectHeld: db.prepare('SELECT SUM(amount_nano) AS n FROM holds WHERE project_id = ? AND expires_at > ?'),
    // One pass over the project's user rows (primary key prefix), keeping the windows a cap can use.
    userUsage: db.prepare(
      `SELECT subject, ${USAGE_COLS} FROM usage WHERE project_id = ? AND scope = 'user' AND window IN (?, ?, ?, 'total')`,
    ),
    userHeld: db.prepare(
      'SELECT user_id AS k, SUM(amount_nano) AS n FROM holds WHERE project_id = ? AND user_id IS NOT NULL AND expires_at > ? GROUP BY user_id',
    ),
    runs: db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE project_id = ? AND status = ? ORDER BY started_at DESC LIMIT ?`),
    runsFiltered: db.prepare(
      `SELECT ${RUN_COLS} FROM runs WHERE project_id = ? AND status = ? AND instr(lower(id || ' ' || coalesce(label, '')), ?) > 0 ORDER BY started_at DESC LIMIT ?`,
    ),
    runCounts: db.prepare('SELECT status, COUNT(*) AS n FROM runs WHERE project_id = ? GROUP BY status'),
    runHeld: db.prepare(
      'SELECT run_id AS k, SUM(amount_nano) AS n FROM holds WHERE project_id = ? AND run_id IS NOT NULL AND expires_at > ? GROUP BY run_id',
    ),
    // Newest first through the partial index events_blocked (blocked, seq).
    blocked: db.prepare(
      'SELECT seq, ts, kind, user_id, run_id, model, amount_nano, reason FROM events WHERE blocked = 1 AND project_id = ? ORDER BY seq DESC LIMIT ?',
    ),
  };
}

/** The end of the UTC window that starts at `start` (null for "total"). */
export function windowEnd(period: Period, start: number): number | null {
  const d = new Date(start);
  switch (period) {
    case 'day':
      return start + 86_400_000;
    case 'week':
      return start + 7 * 86_400_000;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    case 'total':
      return null;
  }
}

function emptyBurn(): DashboardBurn {
  return {
    bucketMs: BURN_BUCKET_MS,
    buckets: new Array<number>(BURN_BUCKETS).fill(0),
    rateWindowMs: BURN_RATE_WINDOW_MS,
    rateNanoPerMin: 0,
    exhaustion: { kind: 'none', atMs: null },
  };
}

/** A snapshot with nothing in it, for the missing / error states. */
export function emptySnapshot(
  projectId: string,
  dbPath: string,
  now: number,
  status: DashboardSnapshot['status'],
  message: string | null,
): DashboardSnapshot {
  return {
    projectId,
    dbPath,
    generatedAt: now,
    status,
    message,
    project: {
      capNano: null,
      period: null,
      windowStart: 0,
      windowEnd: null,
      spentNano: 0,
      heldNano: 0,
      calls: 0,
      blockedCalls: 0,
      unpricedCalls: 0,
      lastAt: null,
    },
    burn: emptyBurn(),
    users: [],
    runs: [],
    runsTotal: 0,
    runsOpen: 0,
    blocked: [],
    unpricedTotal: 0,
  };
}

function projectExhaustion(project: DashboardProject, rate: number, now: number): DashboardBurn['exhaustion'] {
  if (project.capNano === null) return { kind: 'none', atMs: null };
  const left = project.capNano - project.spentNano - project.heldNano;
  if (left <= 0) return { kind: 'exhausted', atMs: now };
  if (rate <= 0) return { kind: 'idle', atMs: null };
  const atMs = now + Math.round((left / rate) * 60_000);
  if (project.windowEnd !== null && atMs >= project.windowEnd) return { kind: 'afterReset', atMs };
  return { kind: 'at', atMs };
}

function toHeldMap(rows: readonly HeldRow[]): Map<string, number> {
  return new Map(rows.map((r) => [r.k, r.n]));
}

/**
 * A read-only view of the SQLite ledger for the dashboard. Opens the file read-only (it
 * never takes a write lock), notices other processes' commits with `PRAGMA data_version`
 * (one cheap call, no query), and reads one consistent snapshot inside a read transaction
 * from the summary rows (usage, runs, budgets), the holds, the blocked-events index and
 * the recent record events.
 */
export class DashboardReader {
  private db: Database | null = null;
  private stmts: Statements | null = null;
  private burn: BurnTracker | null = null;
  private lastVersion: number | null = null;
  /** Why the ledger is not open: no file yet, a file without tables yet, or an error message. */
  private closedWhy: 'missing' | 'unmigrated' | { error: string } = 'missing';
  private readonly runLimit: number;
  private readonly blockedLimit: number;

  constructor(private readonly opts: DashboardReaderOptions) {
    this.runLimit = opts.runLimit ?? 200;
    this.blockedLimit = opts.blockedLimit ?? 20;
  }

  get dbPath(): string {
    return this.opts.dbPath;
  }

  /**
   * True when another connection committed since the last call (or the ledger appeared).
   * The first call returns true.
   */
  changed(): boolean {
    if (!this.ensureOpen()) {
      const was = this.lastVersion;
      this.lastVersion = this.closedWhy === 'missing' ? -1 : this.closedWhy === 'unmigrated' ? -2 : -3;
      return was !== this.lastVersion;
    }
    try {
      const v = (this.db as Database).pragma('data_version', { simple: true }) as number;
      if (v === this.lastVersion) return false;
      this.lastVersion = v;
      return true;
    } catch {
      return true;
    }
  }

  /** Reads the whole dashboard. Never throws: problems come back as status "error". */
  read(now: number, options: ReadOptions = {}): DashboardSnapshot {
    const { projectId, dbPath } = this.opts;
    if (!this.ensureOpen()) {
      const why = this.closedWhy;
      if (why === 'missing') {
        return emptySnapshot(projectId, dbPath, now, 'missing', `No ledger at ${dbPath} yet: it is created by the first noburn check, record or run.`);
      }
      if (why === 'unmigrated') return emptySnapshot(projectId, dbPath, now, 'empty', `No spend recorded yet in ${dbPath}.`);
      return emptySnapshot(projectId, dbPath, now, 'error', why.error);
    }
    const db = this.db as Database;
    try {
      return db.transaction(() => this.readIn(now, options))();
    } catch (e) {
      const msg = (e as Error).message;
      if (/no such table/i.test(msg)) {
        // A ledger file that has not been migrated yet: nothing recorded.
        this.close();
        return emptySnapshot(projectId, dbPath, now, 'empty', `No spend recorded yet in ${dbPath}.`);
      }
      return emptySnapshot(projectId, dbPath, now, 'error', `Cannot read the ledger ${dbPath}: ${msg}`);
    }
  }

  close(): void {
    this.db?.close();
    this.db = null;
    this.stmts = null;
    this.burn = null;
  }

  private ensureOpen(): boolean {
    if (this.db !== null) return true;
    if (!existsSync(this.opts.dbPath)) {
      this.closedWhy = 'missing';
      return false;
    }
    try {
      const db = new BetterSqlite3(this.opts.dbPath, { readonly: true, fileMustExist: true });
      try {
        this.stmts = prepare(db);
        this.burn = new BurnTracker(db, this.opts.projectId);
      } catch (e) {
        db.close();
        // The tables are not there yet (a brand-new file): try again on the next poll.
        if (/no such table/i.test((e as Error).message)) {
          this.closedWhy = 'unmigrated';
          return false;
        }
        throw e;
      }
      this.db = db;
      return true;
    } catch (e) {
      this.closedWhy = { error: `Cannot open the ledger ${this.opts.dbPath}: ${(e as Error).message}` };
      return false;
    }
  }

  private readIn(now: number, options: ReadOptions): DashboardSnapshot {
    const s = this.stmts as Statements;
    const { projectId, dbPath } = this.opts;

    let projectBudget: BudgetRow | undefined;
    let defaultUser: BudgetRow | undefined;
    const userBudgets = new Map<string, BudgetRow>();
    for (const b of s.budgets.all(projectId)) {
      if (b.scope === 'project') projectBudget = b;
      else if (b.scope === 'default_user') defaultUser = b;
      else if (b.scope === 'user') userBudgets.set(b.subject, b);
    }

    const total = s.projectUsage.get(projectId, 'total');
    const period = projectBudget?.period ?? null;
    const key = period === null ? 'total' : windowKey(period, now);
    const inWindow = key === 'total' ? total : s.projectUsage.get(projectId, key);
    const start = period === null ? 0 : windowStart(period, now);
    const project: DashboardProject = {
      capNano: projectBudget?.cap_nano ?? null,
      period,
      windowStart: start,
      windowEnd: period === null ? null : windowEnd(period, start),
      spentNano: inWindow?.spent_nano ?? 0,
      heldNano: s.projectHeld.get(projectId, now)?.n ?? 0,
      calls: inWindow?.calls ?? 0,
      blockedCalls: inWindow?.blocked_calls ?? 0,
      unpricedCalls: inWindow?.unpriced_calls ?? 0,
      lastAt: total?.last_at ?? null,
    };

    const users = this.readUsers(projectId, now, userBudgets, defaultUser);
    const runs = this.readRuns(projectId, now, options.runFilter);
    let runsTotal = 0;
    let runsOpen = 0;
    for (const c of s.runCounts.all(projectId)) {
      runsTotal += c.n;
      if (c.status === 'open') runsOpen = c.n;
    }
    const blocked: DashboardBlocked[] = s.blocked.all(projectId, this.blockedLimit).map((r) => ({
      seq: r.seq,
      ts: r.ts,
      kind: r.kind,
      userId: r.user_id,
      runId: r.run_id,
      model: r.model,
      amountNano: r.amount_nano,
      reason: r.reason,
    }));

    const tracker = this.burn as BurnTracker;
    tracker.update(now);
    const { buckets, rateNanoPerMin } = tracker.view(now);
    const burn: DashboardBurn = {
      bucketMs: BURN_BUCKET_MS,
      buckets,
      rateWindowMs: BURN_RATE_WINDOW_MS,
      rateNanoPerMin,
      exhaustion: projectExhaustion(project, rateNanoPerMin, now),
    };

    const empty = total === undefined && runsTotal === 0 && blocked.length === 0;
    return {
      projectId,
      dbPath,
      generatedAt: now,
      status: empty ? 'empty' : 'ok',
      message: empty ? `No spend recorded yet for project "${projectId}".` : null,
      project,
      burn,
      users,
      runs,
      runsTotal,
      runsOpen,
      blocked,
      unpricedTotal: total?.unpriced_calls ?? 0,
    };
  }

  private readUsers(
    projectId: string,
    now: number,
    budgets: ReadonlyMap<string, BudgetRow>,
    defaultUser: BudgetRow | undefined,
  ): DashboardUser[] {
    const s = this.stmts as Statements;
    const keys = { day: windowKey('day', now), week: windowKey('week', now), month: windowKey('month', now), total: 'total' };
    // subject -> window key -> row
    const rows = new Map<string, Map<string, UserUsageRow>>();
    for (const r of s.userUsage.iterate(projectId, keys.day, keys.week, keys.month)) {
      let m = rows.get(r.subject);
      if (m === undefined) rows.set(r.subject, (m = new Map()));
      m.set(r.window, r);
    }
    const held = toHeldMap(s.userHeld.all(projectId, now));
    const out: DashboardUser[] = [];
    for (const [userId, windows] of rows) {
      const own = budgets.get(userId);
      const budget = own ?? defaultUser;
      const row = windows.get(budget === undefined ? 'total' : keys[budget.period]);
      out.push({
        userId,
        spentNano: row?.spent_nano ?? 0,
        heldNano: held.get(userId) ?? 0,
        capNano: budget?.cap_nano ?? null,
        period: budget?.period ?? null,
        capSource: own !== undefined ? 'user' : budget !== undefined ? 'default' : null,
        calls: row?.calls ?? 0,
        blockedCalls: row?.blocked_calls ?? 0,
        unpricedCalls: row?.unpriced_calls ?? 0,
        lastAt: windows.get('total')?.last_at ?? row?.last_at ?? null,
      });
    }
    // Users with an explicit cap and no spend yet are shown too.
    for (const [userId, b] of budgets) {
      if (rows.has(userId)) continue;
      out.push({
        userId,
        spentNano: 0,
        heldNano: held.get(userId) ?? 0,
        capNano: b.cap_nano,
        period: b.period,
        capSource: 'user',
        calls: 0,
        blockedCalls: 0,
        unpricedCalls: 0,
        lastAt: null,
      });
    }
    return out;
  }

  private readRuns(projectId: string, now: number, filter: string | undefined): DashboardRun[] {
    const s = this.stmts as Statements;
    const needle = filter?.trim().toLowerCase() ?? '';
    const fetch = (status: string, limit: number): RunRow[] =>
      limit <= 0 ? [] : needle === '' ? s.runs.all(projectId, status, limit) : s.runsFiltered.all(projectId, status, needle, limit);
    const open = fetch('open', this.runLimit);
    const ended = fetch('ended', this.runLimit - open.length);
    const held = toHeldMap(s.runHeld.all(projectId, now));
    return [...open, ...ended].map((r) => ({
      runId: r.id,
      label: r.label,
      open: r.status === 'open',
      exhausted: r.exhausted !== 0,
      status: r.exhausted !== 0 ? 'exhausted' : r.status === 'open' ? 'open' : 'ended',
      capNano: r.cap_nano,
      spentNano: r.spent_nano,
      heldNano: held.get(r.id) ?? 0,
      calls: r.calls,
      blockedCalls: r.blocked_calls,
      unpricedCalls: r.unpriced_calls,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      lastAt: r.last_at,
    }));
  }
}
