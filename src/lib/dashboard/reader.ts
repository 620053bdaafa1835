import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { windowEnd, windowKey, windowStart } from '../periods.js';
import { BURN_BUCKET_MS, BURN_BUCKETS, BURN_RATE_WINDOW_MS, BURN_SPAN_MS, BurnTracker } from './burn.js';
import type { DashboardBlocked, DashboardBurn, DashboardDetail, DashboardProject, DashboardRun, DashboardSnapshot } from './snapshot.js';
import { AlertReader, thresholdFields, withAlerts } from './alerts.js';
import { ModelReader } from './models.js';
import { EventTail } from './tail.js';
import { UserUsageCache } from './users.js';
import { prepare } from './statements.js';
import type { BudgetRow, HeldRow, RunRow, Statements } from './statements.js';
import type { UserBudget } from './users.js';

export interface DashboardReaderOptions {
  dbPath: string;
  projectId: string;
  /** At most this many runs are read (open ones first). */
  runLimit?: number;
  /** At most this many blocked decisions are read. */
  blockedLimit?: number;
  /** At most this many models are kept in the snapshot's models panel (the most spent). */
  modelLimit?: number;
}

export interface ReadOptions {
  /** Keep only runs whose id or label contains this text (case-insensitive). */
  runFilter?: string;
  /** Also read this user's or run's breakdown by model (snapshot.detail). */
  detail?: { readonly kind: 'user' | 'run'; readonly id: string } | null;
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
    models: [],
    modelsTotal: 0,
    detail: null,
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

const TAIL_SLACK_MS = 5 * 60_000;

function toHeldMap(rows: readonly HeldRow[]): Map<string, number> {
  return new Map(rows.map((r) => [r.k, r.n]));
}

/** What is kept between refreshes of one open ledger. */
interface Live {
  db: Database;
  stmts: Statements;
  tail: EventTail;
  burn: BurnTracker;
  users: UserUsageCache;
  models: ModelReader;
  /** Null: the ledger keeps no alerts. */
  alerts: AlertReader | null;
}

/**
 * A read-only view of the SQLite ledger for the dashboard. Opens the file read-only (it
 * never takes a write lock), notices other processes' commits with `PRAGMA data_version`
 * (one cheap call, no query), and reads one consistent snapshot inside a read transaction.
 * Each refresh costs what was written since the last one: totals come from the summary
 * rows (usage, runs, budgets), new events are read after a seq cursor (the burn rate and
 * which users to re-read), runs are read newest first with a LIMIT, the blocked feed
 * through its partial index. Nothing scans the event table.
 */
export class DashboardReader {
  private live: Live | null = null;
  private lastVersion: number | null = null;
  /** Why the ledger is not open: no file yet, a file without tables yet, or an error message. */
  private closedWhy: 'missing' | 'unmigrated' | { error: string } = 'missing';
  private readonly runLimit: number;
  private readonly blockedLimit: number;
  private readonly modelLimit: number;

  constructor(private readonly opts: DashboardReaderOptions) {
    this.runLimit = opts.runLimit ?? 200;
    this.blockedLimit = opts.blockedLimit ?? 20;
    this.modelLimit = opts.modelLimit ?? 50;
  }

  get dbPath(): string {
    return this.opts.dbPath;
  }

  /**
   * True when another connection committed since the last call (or the ledger appeared).
   * The first call returns true.
   */
  changed(): boolean {
    const live = this.ensureOpen();
    if (live === null) {
      const was = this.lastVersion;
      this.lastVersion = this.closedWhy === 'missing' ? -1 : this.closedWhy === 'unmigrated' ? -2 : -3;
      return was !== this.lastVersion;
    }
    try {
      const v = live.db.pragma('data_version', { simple: true }) as number;
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
    const live = this.ensureOpen();
    if (live === null) {
      const why = this.closedWhy;
      if (why === 'missing') {
        return emptySnapshot(projectId, dbPath, now, 'missing', `No ledger at ${dbPath} yet: it is created by the first noburn check, record or run.`);
      }
      if (why === 'unmigrated') return emptySnapshot(projectId, dbPath, now, 'empty', `No spend recorded yet in ${dbPath}.`);
      return emptySnapshot(projectId, dbPath, now, 'error', why.error);
    }
    try {
      return live.db.transaction(() => this.readIn(live, now, options))();
    } catch (e) {
      // Start again from a fresh connection on the next read (the file may have been replaced).
      this.close();
      return emptySnapshot(projectId, dbPath, now, 'error', `Cannot read the ledger ${dbPath}: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.live?.db.close();
    this.live = null;
  }

  private ensureOpen(): Live | null {
    if (this.live !== null) return this.live;
    const { dbPath, projectId } = this.opts;
    if (!existsSync(dbPath)) {
      this.closedWhy = 'missing';
      return null;
    }
    let db: Database | null = null;
    try {
      db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
      const alerts = AlertReader.open(db, projectId);
      this.live = {
        db,
        stmts: prepare(db, alerts !== null),
        tail: new EventTail(db, projectId),
        burn: new BurnTracker(),
        users: new UserUsageCache(db, projectId),
        models: new ModelReader(db, projectId),
        alerts,
      };
      return this.live;
    } catch (e) {
      db?.close();
      const msg = (e as Error).message;
      // A brand-new file whose tables are not there yet: try again on the next poll.
      this.closedWhy = /no such table/i.test(msg) ? 'unmigrated' : { error: `Cannot open the ledger ${dbPath}: ${msg}` };
      return null;
    }
  }

  private readIn(live: Live, now: number, options: ReadOptions): DashboardSnapshot {
    const s = live.stmts;
    const { projectId, dbPath } = this.opts;

    let projectBudget: BudgetRow | undefined;
    let defaultUser: UserBudget | null = null;
    const userBudgets = new Map<string, UserBudget>();
    for (const b of s.budgets.all(projectId)) {
      if (b.scope === 'project') projectBudget = b;
      else if (b.scope === 'default_user') defaultUser = { capNano: b.cap_nano, period: b.period, alertAt: b.alert_at };
      else if (b.scope === 'user') userBudgets.set(b.subject, { capNano: b.cap_nano, period: b.period, alertAt: b.alert_at });
    }

    const total = s.projectUsage.get(projectId, 'total');
    const period = projectBudget?.period ?? null;
    const key = period === null ? 'total' : windowKey(period, now);
    const inWindow = key === 'total' ? total : s.projectUsage.get(projectId, key);
    const start = period === null ? 0 : windowStart(period, now);
    let project: DashboardProject = {
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

    // New events: the burn rate, and which users to re-read. The first read looks a little
    // further back than the sparkline: writers' clocks and batching reorder events slightly.
    const touched = new Set<string>();
    const continued = live.tail.read(now, BURN_SPAN_MS + TAIL_SLACK_MS, () => live.burn.clear(), (e) => {
      if (e.kind === 'record') live.burn.add(e.ts, e.amount_nano, now);
      if (e.user_id !== null) touched.add(e.user_id);
    });
    live.users.sync(now, continued ? touched : null);
    let users = live.users.users(userBudgets, defaultUser, toHeldMap(s.userHeld.all(projectId, now)));

    let runs = this.readRuns(s, projectId, now, options.runFilter);
    if (live.alerts !== null) {
      live.alerts.sync();
      ({ project, users, runs } = withAlerts(live.alerts, { project, projectAlertAt: projectBudget?.alert_at ?? null, window: key, users, userBudgets, defaultUser, runs }, now));
    }
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

    const { buckets, rateNanoPerMin } = live.burn.view(now);
    const burn: DashboardBurn = {
      bucketMs: BURN_BUCKET_MS,
      buckets,
      rateWindowMs: BURN_RATE_WINDOW_MS,
      rateNanoPerMin,
      exhaustion: projectExhaustion(project, rateNanoPerMin, now),
    };

    const models = live.models.projectModels(key);
    const want = options.detail ?? null;
    let detail: DashboardDetail | null = null;
    if (want?.kind === 'user') detail = live.models.userDetail(want.id, users.find((u) => u.userId === want.id), now);
    else if (want?.kind === 'run') detail = live.models.runDetail(want.id, runs.find((r) => r.runId === want.id));

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
      models: models.slice(0, this.modelLimit),
      modelsTotal: models.length,
      detail,
    };
  }

  private readRuns(s: Statements, projectId: string, now: number, filter: string | undefined): DashboardRun[] {
    const needle = filter?.trim().toLowerCase() ?? '';
    const fetch = (status: string, limit: number): RunRow[] =>
      limit <= 0 ? [] : needle === '' ? s.runs.all(projectId, status, limit) : s.runsFiltered.all(projectId, status, needle, limit);
    const open = fetch('open', this.runLimit);
    // Every run that is not open (ended, abandoned), newest first: the newest of each status, merged.
    const rest = this.runLimit - open.length;
    const ended = [...fetch('ended', rest), ...fetch('abandoned', rest)].sort((a, b) => b.started_at - a.started_at).slice(0, Math.max(0, rest));
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
      clampedCalls: r.clamped_calls,
      overHolds: r.over_holds,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      lastAt: r.last_at,
      ...thresholdFields(r.alert_at),
    }));
  }
}
