import type { Database, Statement } from 'better-sqlite3';
import { NoburnNotFoundError, NoburnStoreError } from '../../errors.js';
import { assertCanEnd, assertCanNest } from '../runs.js';
import { windowKey } from '../../periods.js';
import type { Period } from '../../periods.js';
import type { RecordResult } from '../../types.js';
import { cachedPriceOf } from '../../pricing/price-cache.js';
import type { CachedPrice, PriceRow } from '../../pricing/price-cache.js';
import { keyOf } from '../key-store.js';
import type { ApiKeyRow, KeyDbRow } from '../key-store.js';
import { eventPageSql, eventRecordOf, runRecordOf } from '../rows.js';
import type { EventRow, RunRow } from '../rows.js';
import type * as S from '../store.js';
import { UsageBatch, abandonIdleRuns, decideBatch, settle } from './decide.js';
import { budgetKey } from '../../model-glob.js';
import { fireAlerts } from './alerts.js';
import { alertRecordOf } from '../rows.js';
import type { AlertRow } from '../rows.js';
import { thresholdsText } from '../../alerts/thresholds.js';
import { budgetRecords } from './budget-records.js';
import { isLeasedId, settleLeased } from './lease-settle.js';
import { SqliteLeases } from './leases.js';
import { openLedgerFile } from './open.js';
import type { OpenSqliteOptions } from '../../sqlite-file.js';
import { spendTotals } from './spend.js';
import { startCheckpoints } from './checkpointer.js';
import type { Checkpointer } from './checkpointer.js';
import { logEvent, prepareAll, prepareStatements } from './statements.js';
import type { Statements } from './statements.js';

export interface SqliteStoreOptions extends OpenSqliteOptions {
  /** Checkpoint the WAL on this timer instead of in commits (long-lived writers: serve). */
  checkpointEveryMs?: number;
  /** With checkpointEveryMs: the checkpoint's worker restarts the WAL itself, off the main thread (checkpointer.ts). */
  primeWal?: boolean;
  /** How long a remote run's budget lease lives (serve's /v1/leases); default 30 s. */
  leaseTtlMs?: number;
}

/**
 * The embedded ledger: one SQLite file shared by every process on the machine.
 * Each decision runs in BEGIN IMMEDIATE (the write lock is taken before the caps are
 * read), so concurrent processes serialise on it and never overshoot.
 */
export class SqliteStore implements S.LedgerBackend {
  readonly kind = 'sqlite' as const;
  readonly db: Database;
  private readonly st: Statements;
  /** Prepared filtered feed pages, by SQL (at most 8 shapes per project scope). */
  private readonly filteredEvents = new Map<string, Statement>();
  private readonly checkTx: (cs: readonly S.StoreCheck[]) => S.StoreDecision[];
  private readonly recordTx: (rs: readonly S.StoreRecord[]) => RecordResult;
  private readonly recordCheckTx: (rs: readonly S.StoreRecord[], cs: readonly S.StoreCheck[]) => S.StoreDecision[];
  /** Settles records inside the caller's transaction (recordThenCheck's, record's, rehearse's). */
  private readonly settleAll: (rs: readonly S.StoreRecord[]) => RecordResult;
  private closed = false;
  private checkpoints: Checkpointer | null = null;
  private leasesI: SqliteLeases | null = null;

  constructor(readonly path: string, private readonly opts: SqliteStoreOptions = {}) {
    this.db = openLedgerFile(path, opts);
    this.st = prepareStatements(this.db);
    if (opts.checkpointEveryMs) {
      // A long-lived writer (serve, noburn run) checkpoints on a timer, off its event loop, not in a commit (checkpointer.ts).
      this.checkpoints = startCheckpoints(this.db, path, opts.checkpointEveryMs, opts.primeWal === true);
      // A long-lived writer (serve, noburn run's proxy): its first request must not pay for preparing.
      prepareAll(this.st);
    }
    const checkMany = this.db.transaction((cs: readonly S.StoreCheck[]) => decideBatch(this.st, cs));
    const settleAll = (rs: readonly S.StoreRecord[]): RecordResult => {
      let duplicates = 0;
      const usage = new UsageBatch();
      const settled: S.StoreRecord[] = [];
      for (const r of rs) {
        if (settle(this.st, r, usage)) settled.push(r);
        else duplicates++;
      }
      usage.write(this.st);
      // The thresholds these records reached fire now, in this transaction (alerts.ts).
      fireAlerts(this.st, settled, settled.reduce((t, r) => Math.max(t, r.ts), 0));
      return { accepted: settled.length, duplicates };
    };
    this.settleAll = settleAll;
    const recordMany = this.db.transaction(settleAll);
    const recordCheck = this.db.transaction((rs: readonly S.StoreRecord[], cs: readonly S.StoreCheck[]) => (settleAll(rs), decideBatch(this.st, cs)));
    this.checkTx = (cs) => checkMany.immediate(cs);
    this.recordTx = (rs) => recordMany.immediate(rs);
    this.recordCheckTx = (rs, cs) => recordCheck.immediate(rs, cs);
  }

  recordThenCheck(rs: readonly S.StoreRecord[], cs: readonly S.StoreCheck[]): Promise<S.StoreDecision[]> {
    return this.guard(() => this.recordCheckTx(rs, cs));
  }

  /** Budget leases of remote runs (serve's /v1/leases), prepared on first use. */
  get runLeases(): SqliteLeases {
    this.leasesI ??= new SqliteLeases(this.db, this.st, this.opts.leaseTtlMs);
    return this.leasesI;
  }

  rehearse(c: S.StoreCheck, leased = false): Promise<S.StoreDecision> {
    return this.guard(() => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        // The real check's and record's functions (decideBatch, settleAll with its alerts): compiled here, not by the first call.
        const d = decideBatch(this.st, [c])[0] as S.StoreDecision;
        const r: S.StoreRecord = { projectId: c.projectId, userId: c.userId, runId: c.runId, model: c.model, tokensIn: c.tokensIn, tokensOut: c.tokensOut, cachedTokensIn: 0, cacheWriteTokensIn: 0, costNano: c.estimateNano, unpriced: false, wasBlocked: false, reservationId: d.reservationId, idempotencyKey: `rehearsal_${c.now}`, ts: c.now };
        this.settleAll([r]);
        if (leased && c.runId !== null) this.runLeases.rehearse(c, (id) => this.settleAll([{ ...r, reservationId: id, idempotencyKey: `rehearsal_l_${c.now}` }]));
        return d;
      } finally {
        this.db.exec('ROLLBACK');
      }
    });
  }

  private guard<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new NoburnStoreError('the ledger is closed'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  check(c: S.StoreCheck): Promise<S.StoreDecision> {
    return this.guard(() => this.checkTx([c])[0] as S.StoreDecision);
  }

  checkBatch(cs: readonly S.StoreCheck[]): Promise<S.StoreDecision[]> {
    return this.guard(() => this.checkTx(cs));
  }

  record(rs: readonly S.StoreRecord[]): Promise<RecordResult> {
    return this.guard(() => this.recordTx(rs));
  }

  release(projectId: string, reservationIds: readonly string[], now: number): Promise<number> {
    void now;
    return this.guard(() =>
      this.db
        // A leased approval settles out of its lease (once); a lease's own rows are never freed here.
        .transaction(() => reservationIds.reduce((n, id) => n + (isLeasedId(id) ? (settleLeased(this.st, projectId, id) ? 1 : 0) : this.st.deleteHold.run(id, projectId).changes), 0))
        .immediate(),
    );
  }

  private heldRun(runId: string, now: number): number {
    return (this.st.heldRun.get(runId, now) as { held: number }).held;
  }

  private runOrThrow(projectId: string, runId: string, what = 'run'): RunRow {
    const r = this.st.getRun.get(runId, projectId) as RunRow | undefined;
    if (!r) throw new NoburnNotFoundError(`${what} not found: ${runId}`);
    return r;
  }

  /** Ends idle runs (of the project, or of one run's chain) when an idle TTL is set; inside a write transaction. */
  private sweepIdle(projectId: string, now: number, ttl: number | undefined, runId: string | null = null): void {
    if (ttl !== undefined) abandonIdleRuns(this.st, projectId, now, ttl, runId);
  }

  /** Before a read: ends the idle runs that are due, taking the write lock only when one is. */
  private readSweep(projectId: string, now: number, ttl: number | undefined, runId: string | null): void {
    if (ttl === undefined) return;
    if (this.st.idleRuns.all({ project: projectId, before: now - ttl, now, run: runId }).length === 0) return;
    this.db.transaction(() => this.sweepIdle(projectId, now, ttl, runId)).immediate();
  }

  startRun(r: S.StoreStartRun): Promise<S.RunRecord> {
    return this.guard(() =>
      this.db
        .transaction(() => {
          const parent = r.parentRunId ?? null;
          if (parent !== null) {
            this.sweepIdle(r.projectId, r.now, r.runIdleTtlMs, parent);
            const p = this.runOrThrow(r.projectId, parent, 'parent run');
            assertCanNest(parent, p.status, (this.st.runChain.all(parent) as unknown[]).length);
          }
          this.st.insertRun.run(r.runId, r.projectId, r.label, r.capNano, r.now, parent, thresholdsText(r.alertAt));
          logEvent(this.st, { projectId: r.projectId, ts: r.now, kind: 'run_start', runId: r.runId, amountNano: r.capNano ?? 0, ref: r.runId });
          return runRecordOf(this.runOrThrow(r.projectId, r.runId), 0);
        })
        .immediate(),
    );
  }

  endRun(projectId: string, runId: string, now: number, runIdleTtlMs?: number): Promise<S.RunRecord> {
    return this.guard(() =>
      this.db
        .transaction(() => {
          this.sweepIdle(projectId, now, runIdleTtlMs, runId);
          const before = this.runOrThrow(projectId, runId);
          assertCanEnd(runId, before.status);
          this.st.endRun.run(now, runId);
          // Its open descendants end with it (their checks would be refused from now on anyway).
          for (const d of this.st.endDescendants.all(now, runId) as { id: string; spent_nano: number; exhausted: number }[]) {
            logEvent(this.st, { projectId, ts: now, kind: 'run_end', runId: d.id, amountNano: d.spent_nano, blocked: d.exhausted === 1, ref: d.id });
          }
          const after = this.runOrThrow(projectId, runId);
          logEvent(this.st, { projectId, ts: now, kind: 'run_end', runId, amountNano: after.spent_nano, blocked: after.exhausted === 1, ref: runId });
          return runRecordOf(after, this.heldRun(runId, now));
        })
        .immediate(),
    );
  }

  getRun(projectId: string, runId: string, now: number, runIdleTtlMs?: number): Promise<S.RunRecord> {
    return this.guard(() => {
      this.readSweep(projectId, now, runIdleTtlMs, runId);
      const r = this.runOrThrow(projectId, runId);
      return runRecordOf(r, this.heldRun(runId, now));
    });
  }

  listRuns(projectId: string, opts: S.StoreListRuns): Promise<S.RunRecord[]> {
    return this.guard(() => {
      this.readSweep(projectId, opts.now, opts.runIdleTtlMs, null);
      const rows = this.st.listRuns.all({ project: projectId, status: opts.status ?? null, parent: opts.parentRunId ?? null, limit: opts.limit ?? 1000 }) as RunRow[];
      return rows.map((r) => runRecordOf(r, r.status === 'open' ? this.heldRun(r.id, opts.now) : 0));
    });
  }

  setBudget(b: S.StoreSetBudget): Promise<void> {
    return this.guard(() =>
      this.db
        .transaction(() => {
          const { scope, subject } = budgetKey(b);
          if (b.capNano === null) this.st.deleteBudget.run(b.projectId, scope, subject);
          else {
            this.st.upsertBudget.run({ project: b.projectId, scope, subject, cap: b.capNano, period: b.period, now: b.now, alerts: thresholdsText(b.alertAt), keep: b.alertAt === undefined ? 1 : 0 });
          }
          logEvent(this.st, { projectId: b.projectId, ts: b.now, kind: 'budget', userId: b.userId, model: b.model ?? null, amountNano: b.capNano ?? 0, ref: `${b.scope}:${subject}:${b.period}` });
        })
        .immediate(),
    );
  }

  private usageIn(projectId: string, scope: 'project' | 'user' | 'tag', subject: string, period: Period, now: number): { spent: number; unpriced: number } {
    const row = this.st.getSpent.get(projectId, scope, subject, windowKey(period, now)) as { spent_nano: number; unpriced_calls: number } | undefined;
    return { spent: row?.spent_nano ?? 0, unpriced: row?.unpriced_calls ?? 0 };
  }

  private spentIn(projectId: string, scope: 'project' | 'user', subject: string, period: Period, now: number): number {
    return this.usageIn(projectId, scope, subject, period, now).spent;
  }

  getBudgets(projectId: string, now: number): Promise<S.BudgetRecord[]> {
    return this.guard(() => budgetRecords(this.st, projectId, now));
  }

  listUsers(projectId: string, opts: { now: number; limit?: number | undefined }): Promise<S.UserRecord[]> {
    return this.guard(() => {
      const rows = this.st.userTotals.all(projectId, opts.limit ?? 1000) as {
        user_id: string; calls: number; blocked_calls: number; unpriced_calls: number; last_at: number | null;
      }[];
      const dflt = this.st.getBudget.get(projectId, 'default_user', '') as { cap_nano: number; period: Period } | undefined;
      return rows.map((u) => {
        const b = (this.st.getBudget.get(projectId, 'user', u.user_id) as { cap_nano: number; period: Period } | undefined) ?? dflt;
        const period = b?.period ?? 'total';
        return {
          userId: u.user_id,
          spentNano: this.spentIn(projectId, 'user', u.user_id, period, opts.now),
          heldNano: (this.st.heldUser.get(projectId, u.user_id, opts.now) as { held: number }).held,
          capNano: b ? b.cap_nano : null,
          period: b ? b.period : null,
          calls: u.calls,
          blockedCalls: u.blocked_calls,
          unpricedCalls: u.unpriced_calls,
          lastAt: u.last_at,
        };
      });
    });
  }

  spend(q: S.StoreSpendQuery): Promise<S.SpendTotals> {
    return this.guard(() => spendTotals(this.db, q));
  }

  events(projectId: string | null, afterSeq: number, limit: number, filter?: S.StoreEventFilter): Promise<S.EventRecord[]> {
    return this.guard(() => {
      if (!filter || (filter.sinceMs === null && filter.untilMs === null && filter.kind === null)) {
        const rows = (projectId === null ? this.st.eventsAll.all(afterSeq, limit) : this.st.eventsProject.all(projectId, afterSeq, limit)) as EventRow[];
        return rows.map(eventRecordOf);
      }
      // A filtered export runs the same few shapes page after page: prepare each shape once.
      const q = eventPageSql(projectId, afterSeq, limit, filter, () => '?');
      let stmt = this.filteredEvents.get(q.sql);
      if (!stmt) this.filteredEvents.set(q.sql, (stmt = this.db.prepare(q.sql)));
      return (stmt.all(...q.args) as EventRow[]).map(eventRecordOf);
    });
  }

  alerts(q: S.StoreAlertQuery): Promise<S.AlertRecord[]> {
    return this.guard(() =>
      (this.st.listAlerts.all({ project: q.projectId, run: q.runId ?? null, after: q.afterSeq ?? 0, limit: q.limit ?? 1000 }) as AlertRow[]).map(alertRecordOf),
    );
  }

  claimAlerts(projectId: string | null, now: number, leaseMs: number, limit: number): Promise<S.AlertRecord[]> {
    return this.guard(() => {
      // A read first: the write lock is taken only when an alert is due.
      if (!this.st.alertDue.get({ now, project: projectId })) return [];
      return this.db
        .transaction(() => (this.st.claimAlerts.all({ until: now + leaseMs, now, project: projectId, limit }) as AlertRow[]).map(alertRecordOf))
        .immediate();
    });
  }

  settleAlerts(outcomes: readonly S.AlertOutcome[], now: number): Promise<void> {
    return this.guard(() => {
      if (outcomes.length === 0) return;
      this.db
        .transaction(() => {
          for (const o of outcomes) {
            if (o.delivered) this.st.alertDelivered.run(now, o.id);
            else this.st.alertFailed.run(o.retryAt, o.error.slice(0, 500), o.id);
          }
        })
        .immediate();
    });
  }

  openHolds(now: number): number {
    if (this.closed) return NaN; // shutting down
    return (this.st.openHolds.get(now) as { n: number }).n;
  }

  // ---- PriceCache ----

  getCachedPrice(model: string): Promise<CachedPrice | null> {
    return this.guard(() => {
      const r = this.st.getPrice.get(model) as PriceRow | undefined;
      return r ? cachedPriceOf(r) : null;
    });
  }

  putCachedPrice(p: CachedPrice): Promise<void> {
    return this.guard(() => {
      this.st.putPrice.run(p.model, p.inputNanoPerMTok, p.outputNanoPerMTok, p.cacheReadNanoPerMTok, p.cacheWriteNanoPerMTok, p.source, p.matched, p.dataVersion);
    });
  }

  // ---- KeyStore ----

  createKey(k: ApiKeyRow): Promise<void> {
    return this.guard(() => {
      this.st.insertKey.run(k.id, k.projectId, k.role, k.hash, k.label, Date.parse(k.createdAt));
    });
  }

  listKeys(projectId: string | null): Promise<ApiKeyRow[]> {
    return this.guard(() => ((projectId === null ? this.st.listKeysAll.all() : this.st.listKeysProject.all(projectId)) as KeyDbRow[]).map(keyOf));
  }

  revokeKey(id: string, now: number): Promise<void> {
    return this.guard(() => {
      if (!this.st.getKey.get(id)) throw new NoburnNotFoundError(`key not found: ${id}`);
      this.st.revokeKey.run(now, id);
    });
  }

  findKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.guard(() => {
      const r = this.st.keyByHash.get(hash) as KeyDbRow | undefined;
      return r ? keyOf(r) : null;
    });
  }

  getCalibration(provider: string, model: string): Promise<S.Calibration | null> {
    return this.guard(() => {
      const r = this.st.getCalibration.get(provider, model) as { provider: string; model: string; samples: number; ratio: number; max_ratio: number } | undefined;
      return r ? { provider: r.provider, model: r.model, samples: r.samples, ratio: r.ratio, maxRatio: r.max_ratio } : null;
    });
  }

  /**
   * Runs one timed checkpoint now, where the timer runs it (the worker's connection, else
   * this one), and resolves when it is done: a deterministic seam for tests (see
   * Checkpointer.now for `flag`). No-op for a store without timed checkpoints.
   */
  checkpointNow(flag?: Int32Array): Promise<void> {
    return this.checkpoints?.now(flag) ?? Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.checkpoints;
    this.checkpoints = null;
    await c?.stop();
    this.db.close();
  }
}
