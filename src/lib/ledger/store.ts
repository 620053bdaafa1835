import type { BlockReason, BudgetScope, EventKind, RecordResult, RunStatus, SpendGroupBy } from '../types.js';
import type { Period } from '../periods.js';
import type { PriceCache } from '../pricing/price-cache.js';
import type { KeyStore } from './key-store.js';
import type { LeasePort, RunLeasePort } from './leases/port.js';

// The public user summary, at the address its callers import it from.
export type { UserSummary } from '../types.js';

/**
 * The ledger store: the one place that holds caps, holds, records, runs and the event
 * feed (prices and API keys have their own seams: PriceCache, KeyStore). It speaks integer
 * nano-dollars and epoch milliseconds only, both ways: reads come back as records, and the
 * Ledger builds the public USD shapes from them.
 *
 * Promise-based so that SQLite (synchronous better-sqlite3 underneath) and PostgreSQL
 * implement the same shape. Every method that decides (check) is atomic: evaluate all
 * caps and take the hold in one transaction.
 */
export interface StoreCheck {
  projectId: string;
  userId: string | null;
  runId: string | null;
  model: string;
  estimateNano: number;
  tokensIn: number;
  tokensOut: number;
  unpriced: boolean;
  /** Decided above the store (unknown_model_price): count and log the block, take no hold. */
  forceBlock?: BlockReason | undefined;
  now: number;
  holdTtlMs: number;
  /** Open runs idle this long end as `abandoned` (checked for this check's run and its ancestors). Absent: never. */
  runIdleTtlMs?: number | undefined;
  /**
   * The model's plain input/output prices (nano-dollars per million tokens), null when
   * unpriced: the store computes the room and the clamped output inside the transaction.
   */
  prices?: { inNanoPerMTok: number; outNanoPerMTok: number } | null | undefined;
  /** tokensOut is the requested bound: hold the largest output that fits, down to minTokensOut. */
  clamp?: boolean | undefined;
  minTokensOut?: number | undefined;
  /** Keys the input calibration (stored on the hold). */
  provider?: string | null | undefined;
  /** The local tokenizer's input count when tokensIn was scaled from it (tokensInSource 'tokenizer'); null otherwise. */
  tokensInRaw?: number | null | undefined;
  /** Sorted `key=value` tags (src/lib/tags.ts): the caps on each apply; the hold keeps them. Absent or []: none. */
  tags?: readonly string[] | undefined;
}

/** The cap with the least room, in nano-dollars (before this call's hold). */
export interface StoreLimit {
  scope: 'project' | 'user' | 'run' | 'model' | 'tag';
  capNano: number;
  spentNano: number;
  heldNano: number;
}

export interface StoreDecision {
  blocked: boolean;
  blockReason: BlockReason | null;
  reservationId: string | null;
  /** Nano-dollars left under each cap that applies, after the hold. */
  remainingNano: { project?: number; user?: number; run?: number; model?: number; tag?: number };
  /** The ref of the decision's event (blocked decisions), so that mirrors can recognise it in the feed. */
  decisionId?: string | undefined;
  /** The amount held (allowed) or that did not fit (blocked); differs from the check's estimateNano only when clamped. */
  estimateNano?: number | undefined;
  /** Output tokens held (the clamped bound when clamped). */
  tokensOut?: number | undefined;
  clamped?: boolean | undefined;
  /** Largest output bound that fits every cap with this input; null when no cap applies or unpriced. */
  maxTokensOut?: number | null | undefined;
  limit?: StoreLimit | null | undefined;
  /** A decision from a budget lease: the lease's room not approved yet, after this one (remaining counts it as held). */
  leaseFreeNano?: number | undefined;
}

export interface StoreRecord {
  projectId: string;
  userId: string | null;
  runId: string | null;
  model: string;
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
  /** Priced cost; 0 when unpriced or wasBlocked. */
  costNano: number;
  unpriced: boolean;
  wasBlocked: boolean;
  reservationId: string | null;
  idempotencyKey: string;
  /** When the ledger settled it (the authority's clock): the windows its cost counts in. */
  ts: number;
  /** When the client says the call happened (kept as data; never moves spend between windows). */
  calledAt?: number | null | undefined;
  /** Sorted `key=value` tags: the record counts in each tag's usage rows (scope 'tag'). Absent or []: none. */
  tags?: readonly string[] | undefined;
}

export interface StoreStartRun {
  projectId: string;
  runId: string;
  capNano: number | null;
  label: string | null;
  /** The parent run (nested runs); it must exist in the project and be open. */
  parentRunId?: string | null | undefined;
  /** Alert thresholds of the run's cap (validated, sorted). */
  alertAt?: readonly number[] | undefined;
  now: number;
  /** Idle open runs are ended (abandoned) before the parent is checked. */
  runIdleTtlMs?: number | undefined;
}

/** `ended` lists every run that is not open (ended or abandoned). */
export type RunListStatus = RunStatus;

export interface StoreListRuns {
  status?: RunListStatus | undefined;
  /** Only the children of this run. */
  parentRunId?: string | undefined;
  limit?: number | undefined;
  now: number;
  runIdleTtlMs?: number | undefined;
}

export interface StoreSetBudget {
  projectId: string;
  scope: BudgetScope;
  userId: string | null;
  /** Scope "model": the glob (validated); absent otherwise. */
  model?: string | null | undefined;
  /** Scope "tag": the tag, `key=value` (validated); absent otherwise. */
  tag?: string | null | undefined;
  /** null removes the cap. */
  capNano: number | null;
  period: Period;
  /** Alert thresholds (validated, sorted). Undefined: keep the cap's; []: none. */
  alertAt?: readonly number[] | undefined;
  now: number;
}

export interface StoreSpendQuery {
  projectId: string;
  by: SpendGroupBy | null;
  /** Only the records and blocked checks of this run; null: all. */
  runId: string | null;
  sinceMs: number | null;
  untilMs: number | null;
}

export interface Calibration {
  provider: string;
  model: string;
  samples: number;
  /** Moving average of provider input / local estimate. */
  ratio: number;
  /** Largest ratio seen. */
  maxRatio: number;
}

/** A run (its spend, holds and counts include its nested runs'). */
export interface RunRecord {
  runId: string;
  label: string | null;
  parentRunId: string | null;
  status: RunStatus;
  exhausted: boolean;
  capNano: number | null;
  spentNano: number;
  heldNano: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  clampedCalls: number;
  overHolds: number;
  startedAt: number;
  endedAt: number | null;
  alertAt?: number[] | undefined;
}

/** A cap with its usage in the current window. */
export interface BudgetRecord {
  scope: BudgetScope;
  userId: string | null;
  /** Scope "model": the glob. */
  model?: string;
  /** Scope "tag": the tag. */
  tag?: string;
  capNano: number;
  period: Period;
  spentNano: number;
  heldNano: number;
  unpricedCalls: number;
  windowStart: number;
  alertAt?: number[] | undefined;
}

/** A fired alert as stored (the delivery queue's row). Scope 'model' with userId: a per-user model cap. */
export interface AlertRecord {
  seq: number;
  id: string;
  projectId: string;
  scope: 'project' | 'user' | 'model' | 'run' | 'tag';
  subject: string | null;
  userId: string | null;
  threshold: number;
  spentNano: number;
  capNano: number;
  period: Period;
  window: string;
  firedAt: number;
  deliveredAt: number | null;
  attempts: number;
  lastError: string | null;
}

export interface StoreAlertQuery {
  /** null: every project (serve's deliverer). */
  projectId: string | null;
  runId?: string | undefined;
  afterSeq?: number | undefined;
  limit?: number | undefined;
}

/** How a delivery attempt ended: delivered, or retry at `retryAt` with the error. */
export type AlertOutcome = { id: string; delivered: true } | { id: string; delivered: false; error: string; retryAt: number };

/** An end user's totals; spend in the window of the cap that applies (explicit or default), else all-time. */
export interface UserRecord {
  userId: string;
  spentNano: number;
  heldNano: number;
  capNano: number | null;
  period: Period | null;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  lastAt: number | null;
}

export interface EventRecord {
  seq: number;
  ts: number;
  kind: EventKind;
  projectId: string;
  userId: string | null;
  runId: string | null;
  model: string | null;
  /** check: the estimate; record: the cost; run_start: the cap; run_end: the spend; budget: the cap. */
  amountNano: number;
  blocked: boolean;
  reason: BlockReason | null;
  unpriced: boolean;
  tokensIn: number;
  tokensOut: number;
  ref: string | null;
  /** check / record: the call's sorted tags; [] when none. */
  tags?: string[];
}

/** A filter of the event feed: ts in [sinceMs, untilMs), of one kind; null = no bound. */
export interface StoreEventFilter {
  sinceMs: number | null;
  untilMs: number | null;
  kind: EventKind | null;
}

/** Spend summed over a query's records (blocked checks from the event log included). */
export interface SpendTotals {
  spentNano: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  /** One per key when grouped (ordered by spend, then key); empty when not. */
  groups: SpendGroup[];
}

export interface SpendGroup {
  key: string | null;
  spentNano: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  tokensIn: number;
  tokensOut: number;
}

/** One item of a group commit, in arrival order: a check, or one request's records. */
export type StoreOp = { kind: 'check'; check: StoreCheck } | { kind: 'record'; records: readonly StoreRecord[] };

/** The outcome of a StoreOp, at the same index. */
export type StoreOpResult = { kind: 'check'; decision: StoreDecision } | { kind: 'record'; result: RecordResult };

export interface LedgerStore {
  readonly kind: 'sqlite' | 'postgres';
  check(c: StoreCheck): Promise<StoreDecision>;
  /** Decides several checks in one transaction, in order (group commit). Same result as calling check() in sequence. */
  checkBatch(cs: readonly StoreCheck[]): Promise<StoreDecision[]>;
  /**
   * Checks and records in one round trip and one transaction, in order (group commit over
   * both). Same result as calling check() / record() in sequence. Absent: the ledger runs
   * them in sequence itself (commitInOrder).
   */
  commit?(ops: readonly StoreOp[]): Promise<StoreOpResult[]>;
  record(rs: readonly StoreRecord[]): Promise<RecordResult>;
  /**
   * Settles `rs`, then decides `cs` in order, in one transaction (noburn run's proxy: the
   * previous calls' records ride on the next checks' commit). Same result as record() then
   * check() for each. Absent: the ledger makes the calls one by one.
   */
  recordThenCheck?(rs: readonly StoreRecord[], cs: readonly StoreCheck[]): Promise<StoreDecision[]>;
  /**
   * Decides `c` and settles it, inside a transaction that is rolled back: changes nothing,
   * but a long-lived process's first real call then finds its path prepared and compiled.
   * Optional (a store without it is simply not rehearsed). `leased`: a run lease's grant,
   * raise, settled approval and end too (the process decides its own runs from leases).
   */
  rehearse?(c: StoreCheck, leased?: boolean): Promise<StoreDecision>;
  /**
   * Frees holds without counting anything (the call was not made, or failed before it cost
   * anything). Unknown, expired or settled ids are skipped. Returns how many were freed.
   */
  release(projectId: string, reservationIds: readonly string[], now: number): Promise<number>;
  /** Throws NoburnNotFoundError (unknown parent) / NoburnConflictError (parent ended). */
  startRun(r: StoreStartRun): Promise<RunRecord>;
  /** Ends the run and its open descendants. Throws NoburnNotFoundError / NoburnConflictError (already ended). */
  endRun(projectId: string, runId: string, now: number, runIdleTtlMs?: number): Promise<RunRecord>;
  /** Throws NoburnNotFoundError. */
  getRun(projectId: string, runId: string, now: number, runIdleTtlMs?: number): Promise<RunRecord>;
  listRuns(projectId: string, opts: StoreListRuns): Promise<RunRecord[]>;
  setBudget(b: StoreSetBudget): Promise<void>;
  getBudgets(projectId: string, now: number): Promise<BudgetRecord[]>;
  listUsers(projectId: string, opts: { now: number; limit?: number | undefined }): Promise<UserRecord[]>;
  spend(q: StoreSpendQuery): Promise<SpendTotals>;
  /**
   * The feed after a cursor, oldest first (keyset paging on seq: each page is one short
   * query, so an export of any length holds one page). projectId null = every project
   * (local dashboard). `filter` keeps only the events in a time window and/or of one kind.
   */
  events(projectId: string | null, afterSeq: number, limit: number, filter?: StoreEventFilter): Promise<EventRecord[]>;
  /** The learnt input ratio (provider count / local tokenizer count) for a provider and model; null before any sample. */
  getCalibration(provider: string, model: string): Promise<Calibration | null>;
  /** Fired alerts, oldest first. */
  alerts(q: StoreAlertQuery): Promise<AlertRecord[]>;
  /**
   * Takes up to `limit` undelivered alerts whose retry time has come and that no other
   * process holds, for `leaseMs` (a claim expires, so a process that died mid-delivery
   * leaves them to another). Answers [] without writing when nothing is due.
   */
  claimAlerts(projectId: string | null, now: number, leaseMs: number, limit: number): Promise<AlertRecord[]>;
  /** Marks delivery attempts: delivered, or due again at retryAt. */
  settleAlerts(outcomes: readonly AlertOutcome[], now: number): Promise<void>;
  /** Open holds, counted without I/O where the backend can (SQLite); absent elsewhere (serve's gauge). */
  openHolds?(now: number): number;
  /** Budget leases (PostgreSQL with leases=on): a long-lived ledger decides most checks in memory through it. */
  readonly leasePort?: LeasePort | null;
  /** serve's lease API for remote runs (/v1/leases: SQLite and PostgreSQL); absent or null: those grants are refused. */
  readonly runLeases?: RunLeasePort | null;
  close(): Promise<void>;
}

/**
 * What one backend (a SQLite file, a PostgreSQL database) provides: the ledger, the price
 * cache and the API keys, each behind its own seam. Callers take the part they use.
 */
export interface LedgerBackend extends LedgerStore, PriceCache, KeyStore {}
