/**
 * What the guard (and the CLI through it) asks: the local ledger in embedded mode, a
 * `noburn serve` over HTTP in remote mode. Bound to one project. Each authority owns its
 * record sink and its fallback pricing, so the guard never asks which kind it has.
 * Transport failures throw NoburnUnreachableError / NoburnTimeoutError / NoburnStoreError;
 * the guard turns them into fallback decisions for check().
 */
import type { RunListStatus, UserSummary } from '../ledger/store.js';
import type { OutboxWarning, RecordErrorHandler, RecordSink } from '../record-queue.js';
import type * as T from '../types.js';
import type { NormalizedCheck, NormalizedRecord } from '../validate.js';
import type { FallbackPricing } from './fallback-pricing.js';

/** An empty (0-byte) ledger file: SQLite would take it as a new ledger, with every cap gone. */
export interface LedgerWarning {
  code: 'NOBURN_EMPTY_LEDGER';
  path: string;
  message: string;
}

export type AuthorityWarning = OutboxWarning | LedgerWarning;

/** What an authority reports to its guard; given when it is created, never swapped later. */
export interface AuthorityHooks {
  /** Injected clock (ms since epoch), for tests. */
  now?: (() => number) | undefined;
  /** A record failed: `info.rejected` > 0 when it will never count, absent when only delayed. */
  onRecordError?: RecordErrorHandler | undefined;
  onWarning?: ((w: AuthorityWarning) => void) | undefined;
  /** The authority acknowledged these records (by their reservation ids): it now counts them at their cost. */
  onDelivered?: ((reservationIds: readonly (string | null)[]) => void) | undefined;
}

export interface Authority {
  check(c: NormalizedCheck): Promise<T.Decision>;
  /** Delivers records now (idempotency keys make a retry safe). */
  record(rs: readonly NormalizedRecord[], ts: readonly number[]): Promise<T.RecordResult>;
  /**
   * Records one now and waits for the authority. An authority that keeps a durable queue
   * (remote) writes it there when it cannot be reached (`queued: 1`, delivered later exactly
   * once) and throws NoburnStoreError when even that fails; the local ledger throws.
   */
  recordNow(r: NormalizedRecord, ts: number): Promise<T.RecordResult & { queued: number }>;
  /** Where record() and release() go: delivered in the background (one sink per authority). */
  recordSink(): RecordSink;
  /** Frees holds now, counting nothing (unknown or settled ids are skipped); resolves to how many were freed. */
  release(reservationIds: readonly string[]): Promise<number>;
  /** Warms the path of check `c` and its record without changing anything (Ledger.rehearse); absent: nothing to warm. */
  rehearse?(c: NormalizedCheck): Promise<void>;
  startRun(req: T.StartRunRequest): Promise<T.RunInfo>;
  /**
   * This process owns the run (started it, will end it): the authority may decide its checks
   * from budget leases of its room (remote mode). Absent: nothing to lease (embedded mode decides in the file).
   */
  ownRun?(runId: string): void;
  /** Ends the run: its end result, and the run as it now stands. */
  endRun(runId: string): Promise<T.EndedRun>;
  /**
   * Queues the end of a run for when the authority answers again (durably, after the run's
   * records); false when this authority has no such queue. Throws NoburnStoreError when it cannot be kept.
   */
  queueEndRun(runId: string): boolean;
  getRun(runId: string): Promise<T.RunInfo>;
  listRuns(status?: RunListStatus, opts?: { parentRunId?: string | undefined }): Promise<T.RunInfo[]>;
  setBudget(b: T.SetBudgetRequest): Promise<void>;
  getBudgets(): Promise<T.Budget[]>;
  listUsers(): Promise<UserSummary[]>;
  spend(q: T.SpendQuery): Promise<T.SpendReport>;
  /** The feed after a cursor (a seq), oldest first, at most `limit` (the server's page: 1000 at most). */
  events(after: number, limit?: number, q?: T.EventQuery): Promise<T.LedgerEvent[]>;
  /** Fired alerts of the project, oldest first. */
  alerts(q?: T.AlertQuery): Promise<T.Alert[]>;
  price(model: string): Promise<T.PriceInfo>;
  /** Prices checks and records locally when this authority cannot decide. */
  readonly fallback: FallbackPricing;
  /** Closes the sink's files, the fallback pricing's and the connections. */
  close(): Promise<void>;
}
