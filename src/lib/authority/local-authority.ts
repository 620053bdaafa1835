/**
 * Embedded mode: the ledger file in $NOBURN_HOME is the authority. Records go to it from
 * a memory queue (one transaction per batch, off the caller's path); there is nothing to
 * queue durably, since the ledger is the file.
 */
import { statSync } from 'node:fs';
import type { NoburnConfig } from '../config.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { LeaseManager } from '../ledger/leases/manager.js';
import { holderPort } from '../ledger/leases/port.js';
import { newId } from '../ids.js';
import { SqliteStore } from '../ledger/sqlite/sqlite-store.js';
import type { LedgerBackend, RunListStatus, UserSummary } from '../ledger/store.js';
import { MemoryRecordQueue } from '../record-queue.js';
import type { RecordSink } from '../record-queue.js';
import type * as T from '../types.js';
import type { NormalizedCheck, NormalizedRecord } from '../validate.js';
import type { Authority, AuthorityHooks } from './authority.js';
import { FallbackPricing } from './fallback-pricing.js';
import { warmPriceData } from '../pricing/price-data.js';
import { AlertDeliverer } from '../alerts/deliverer.js';

export type { LedgerWarning } from './authority.js';

export interface LocalAuthorityOptions extends AuthorityHooks {
  /** Use this store instead of the SQLite file at config.dbPath. */
  store?: LedgerBackend;
  /** The process keeps the authority for long: checkpoint the WAL between calls (see SqliteStore). */
  longLived?: boolean;
  /** Deliver the project's fired alerts in the background (when config names a webhook or command). */
  deliverAlerts?: boolean;
  /**
   * Records wait up to this long for the next check, which writes them in its own
   * transaction (one commit per call); default RECORD_DELAY_MS for a long-lived process, else 0.
   */
  recordDelayMs?: number;
}

/**
 * How long a long-lived process's record may wait for the next check before it is written
 * on its own. Its hold keeps every cap exact meanwhile; a kill -9 in this window loses the
 * record (the hold then counts until it expires). docs/performance.md, "The proxy".
 */
export const RECORD_DELAY_MS = 20;

/** A check of a batch that failed when decided alone: its own caller gets the error. */
class CheckFailed {
  constructor(readonly error: unknown) {}
}

export class LocalAuthority implements Authority {
  readonly fallback: FallbackPricing;
  private sinkI: RecordSink | null = null;
  private deliverer: AlertDeliverer | null = null;
  private queue: MemoryRecordQueue | null = null;
  /** The checks of one turn of the event loop, decided together (recordDelayMs > 0). */
  private checks: GroupCommit<NormalizedCheck, T.Decision | CheckFailed> | null = null;
  /** Budget leases of the runs this process owns (ownRun; long-lived only). */
  private runLeases: LeaseManager | null = null;

  constructor(
    readonly ledger: Ledger,
    private readonly projectId: string,
    config: NoburnConfig,
    private readonly hooks: AuthorityHooks = {},
    private readonly recordDelayMs = 0,
    private readonly now: () => number = Date.now,
  ) {
    this.fallback = new FallbackPricing(config);
  }

  static open(config: NoburnConfig, opts: LocalAuthorityOptions = {}): LocalAuthority {
    // A ledger truncated to 0 bytes (a full disk, a bad copy) opens as a brand-new one: say so.
    if (!opts.store && opts.onWarning) {
      try {
        if (statSync(config.dbPath).size === 0) {
          opts.onWarning({ code: 'NOBURN_EMPTY_LEDGER', path: config.dbPath, message: `the ledger ${config.dbPath} is an empty (0-byte) file: it is used as a new ledger, with no caps, budgets, runs or spend` });
        }
      } catch {
        // missing: a new ledger, as expected
      }
    }
    const store = opts.store ?? new SqliteStore(config.dbPath, opts.longLived ? { checkpointEveryMs: 500, primeWal: true } : {});
    const delay = opts.recordDelayMs ?? (opts.longLived ? RECORD_DELAY_MS : 0);
    const a = new LocalAuthority(new Ledger(store, config, { now: opts.now }), config.projectId, config, opts, delay, opts.now);
    const targets = { webhook: config.alertsWebhook, command: config.alertsCommand };
    if (opts.deliverAlerts === true && AlertDeliverer.wanted(targets)) {
      a.deliverer = new AlertDeliverer({ store, projectId: config.projectId, targets, now: opts.now }).start();
    }
    return a;
  }

  recordSink(): RecordSink {
    this.sinkI ??= this.queue = new MemoryRecordQueue(
      async (rs, ts) => {
        const res = await this.record(rs, ts);
        this.hooks.onDelivered?.(rs.map((r) => r.reservationId));
        return res;
      },
      this.hooks.onRecordError,
      (ids) => this.release(ids),
      this.recordDelayMs,
    );
    return this.sinkI;
  }

  async recordNow(r: NormalizedRecord, ts: number): Promise<T.RecordResult & { queued: number }> {
    return { ...(await this.record([r], [ts])), queued: 0 };
  }

  queueEndRun(): boolean {
    return false;
  }

  /**
   * This process owns the run (`noburn run`: it started it and ends it). In a long-lived
   * process its checks are then decided in memory from budget leases of its room where they
   * fit, as in remote mode (docs/run.md, "Budget leases"): no commit per call, the caps stay
   * exact because a lease's whole slice is held in the ledger. Near a cap they go to the ledger.
   */
  ownRun(runId: string): void {
    const port = this.ledger.runLeasePort;
    if (!port || this.recordDelayMs <= 0) return;
    this.runLeases ??= new LeaseManager(holderPort(port, this.projectId, newId('local')), this.now, { runs: 'owned', grantBehind: true });
    this.runLeases.ownRun(runId);
  }

  /**
   * With recordDelayMs, checks that arrive together are decided in one transaction, with
   * the records waiting in the queue written first: one commit for all of them.
   */
  async check(c: NormalizedCheck): Promise<T.Decision> {
    const leased = this.runLeases && c.runId !== null ? await this.ledger.checkOwnedRun(this.projectId, c, this.runLeases) : null;
    if (leased) return leased;
    if (this.recordDelayMs <= 0) return this.ledger.check(this.projectId, c);
    this.checks ??= new GroupCommit((cs) => this.decideTogether(cs));
    const d = await this.checks.submit(c);
    if (d instanceof CheckFailed) throw d.error;
    return d;
  }

  private async decideTogether(cs: readonly NormalizedCheck[]): Promise<(T.Decision | CheckFailed)[]> {
    const taken = this.queue?.take() ?? null;
    let ds: T.Decision[];
    try {
      ds = await this.ledger.recordThenCheck(this.projectId, taken?.records ?? [], taken?.ts ?? [], cs);
    } catch {
      // Nothing was written: the records go back to the queue (written on their own, which
      // reports their errors) and each check is decided alone, failing alone.
      taken?.done(false);
      return Promise.all(cs.map((c) => this.ledger.check(this.projectId, c).catch((e: unknown) => new CheckFailed(e))));
    }
    if (taken) {
      taken.done(true);
      this.hooks.onDelivered?.(taken.records.map((r) => r.reservationId));
    }
    return ds;
  }
  /**
   * Through a group commit of its own, as check() goes with recordDelayMs: its code is
   * compiled by the rehearsal rather than by the first call. The real one is not used:
   * nothing waits in it, and no record is taken from the queue.
   */
  async rehearse(c: NormalizedCheck): Promise<void> {
    // The price data's lookup too: a model's first call resolves its price there unless cached.
    await warmPriceData();
    if (this.recordDelayMs <= 0) return this.ledger.rehearse(this.projectId, c);
    const leased = this.runLeases !== null && c.runId !== null;
    await new GroupCommit((cs: readonly NormalizedCheck[]) => Promise.all(cs.map((x) => this.ledger.rehearse(this.projectId, x, leased)))).submit(c);
    // And the batch path itself with an empty batch (an empty transaction: nothing written),
    // only while no record can be waiting in the queue for it to take.
    if (this.queue === null) await this.decideTogether([]);
  }
  record(rs: readonly NormalizedRecord[], ts: readonly number[]): Promise<T.RecordResult> {
    return this.ledger.record(this.projectId, rs, ts);
  }
  release(reservationIds: readonly string[]): Promise<number> {
    return this.ledger.release(this.projectId, reservationIds);
  }
  startRun(req: T.StartRunRequest): Promise<T.RunInfo> {
    return this.ledger.startRun(this.projectId, req);
  }
  async endRun(runId: string): Promise<T.EndedRun> {
    // The run's leases end first: their free room returns, and no leased approval follows the end.
    await this.runLeases?.endRun(runId);
    return this.ledger.endRunFull(this.projectId, runId);
  }
  getRun(runId: string): Promise<T.RunInfo> {
    return this.ledger.getRun(this.projectId, runId);
  }
  listRuns(status?: RunListStatus, opts: { parentRunId?: string | undefined } = {}): Promise<T.RunInfo[]> {
    return this.ledger.listRuns(this.projectId, status, undefined, opts.parentRunId);
  }
  setBudget(b: T.SetBudgetRequest): Promise<void> {
    return this.ledger.setBudget(this.projectId, b);
  }
  getBudgets(): Promise<T.Budget[]> {
    return this.ledger.getBudgets(this.projectId);
  }
  listUsers(): Promise<UserSummary[]> {
    return this.ledger.listUsers(this.projectId);
  }
  spend(q: T.SpendQuery): Promise<T.SpendReport> {
    return this.ledger.spend(this.projectId, q);
  }
  events(after: number, limit?: number, q?: T.EventQuery): Promise<T.LedgerEvent[]> {
    return this.ledger.events(this.projectId, after, limit, q);
  }
  price(model: string): Promise<T.PriceInfo> {
    return this.ledger.price(model);
  }
  alerts(q: T.AlertQuery = {}): Promise<T.Alert[]> {
    return this.ledger.alerts(this.projectId, q);
  }

  async close(): Promise<void> {
    try {
      await this.deliverer?.stop();
      await this.runLeases?.close();
      await this.fallback.close();
    } finally {
      await this.ledger.close();
    }
  }
}
