import type { RunRecord } from '../ledger/store.js';
import type { Period } from '../periods.js';

/**
 * One plain, JSON-serialisable picture of a project's ledger for the `noburn watch`
 * dashboard (and `watch --once --json`). Money is integer nano-dollars (`...Nano`), times
 * are epoch milliseconds (UTC). Produced by DashboardReader; rendered by src/tui.
 */
export interface DashboardSnapshot {
  projectId: string;
  dbPath: string;
  /** The clock the snapshot was taken at. */
  generatedAt: number;
  /**
   * ok: data to show. empty: the ledger exists but this project has no spend and no runs yet.
   * missing: there is no ledger file yet. error: the file cannot be read (message says why).
   */
  status: 'ok' | 'empty' | 'missing' | 'error';
  message: string | null;
  project: DashboardProject;
  burn: DashboardBurn;
  /** Every end user of the project (sorted and filtered by the view). */
  users: DashboardUser[];
  /** Open runs first (newest first), then ended ones (newest first), at most the reader's run limit. */
  runs: DashboardRun[];
  runsTotal: number;
  runsOpen: number;
  /** The most recent blocked decisions, newest first. */
  blocked: DashboardBlocked[];
  /** Records stored without a price (all time): their cost is not in the figures. */
  unpricedTotal: number;
  /**
   * Spend per model in the project's window (the project cap's, else all time), most spent
   * first, at most the reader's model limit; `modelsTotal` counts them all.
   */
  models: DashboardModel[];
  modelsTotal: number;
  /** The breakdown the view asked for (ReadOptions.detail), else null. */
  detail: DashboardDetail | null;
}

/** One model's figures in a window: the project's, one user's or one run's. */
export interface DashboardModel {
  model: string;
  spentNano: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  lastAt: number | null;
}

/** Spend of one tag value (present when the ledger keeps tags). */
export interface DashboardTag {
  tag: string;
  spentNano: number;
  calls: number;
}

/**
 * The drill-down of one user or run: its spend by model (and by tag when the ledger keeps
 * tags). A user's figures cover the window of the cap that applies to them (else all time);
 * a run's cover its whole life, its nested runs included (as the run's own spend does).
 */
export interface DashboardDetail {
  kind: 'user' | 'run';
  id: string;
  /** False: the user or run is not in the ledger (any more): the lists are empty. */
  found: boolean;
  period: Period | null;
  spentNano: number;
  capNano: number | null;
  models: DashboardModel[];
  /** By tag; absent when the ledger has no tags. */
  tags?: DashboardTag[];
}

export interface DashboardProject {
  /** Null: no project cap (spend is then shown for all time). */
  capNano: number | null;
  period: Period | null;
  /** The UTC window the figures cover: [windowStart, windowEnd); windowEnd null for "total". */
  windowStart: number;
  windowEnd: number | null;
  spentNano: number;
  /** Open holds (reservations) that have not expired. */
  heldNano: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  lastAt: number | null;
  /** Alert thresholds of this cap in percent, ascending (present when the ledger keeps them). */
  thresholdsPct?: number[];
  /** The thresholds whose alert fired in the current window (present with thresholdsPct). */
  firedPct?: number[];
}

export interface DashboardBurn {
  /** Width of one sparkline bucket. */
  bucketMs: number;
  /** Spend per bucket, oldest first; the last bucket holds the current moment. */
  buckets: number[];
  /** The span the rate is averaged over (the last minutes). */
  rateWindowMs: number;
  /** Nano-dollars per minute over rateWindowMs (a float). */
  rateNanoPerMin: number;
  /**
   * Projected exhaustion of the project cap at the current rate.
   * none: no cap. idle: nothing is burning. exhausted: spent + held >= cap.
   * at: at `atMs`. afterReset: the window resets before the cap would run out.
   */
  exhaustion: { kind: 'none' | 'idle' | 'exhausted' | 'at' | 'afterReset'; atMs: number | null };
}

export interface DashboardUser {
  userId: string;
  /** Spend in the current window of the cap that applies (explicit or default), else all time. */
  spentNano: number;
  heldNano: number;
  capNano: number | null;
  period: Period | null;
  capSource: 'user' | 'default' | null;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  lastAt: number | null;
  /** Alert thresholds of this cap in percent, ascending (present when the ledger keeps them). */
  thresholdsPct?: number[];
  /** The thresholds whose alert fired in the current window (present with thresholdsPct). */
  firedPct?: number[];
}

/** A run as the dashboard shows it: the store's figures (nano-dollars, epoch ms), plus what the table needs. */
export interface DashboardRun
  extends Pick<RunRecord, 'runId' | 'label' | 'exhausted' | 'capNano' | 'spentNano' | 'heldNano' | 'calls' | 'blockedCalls' | 'unpricedCalls' | 'startedAt' | 'endedAt'> {
  open: boolean;
  /** What the table shows: exhausted wins over open/ended. */
  status: 'open' | 'ended' | 'exhausted';
  /** Calls whose output bound was clamped to fit (absent: 0). */
  clampedCalls?: number;
  /** Records that cost more than their hold (absent: 0). */
  overHolds?: number;
  lastAt: number | null;
  /** Alert thresholds of this cap in percent, ascending (present when the ledger keeps them). */
  thresholdsPct?: number[];
  /** The thresholds whose alert fired in the current window (present with thresholdsPct). */
  firedPct?: number[];
}

export interface DashboardBlocked {
  seq: number;
  ts: number;
  kind: string;
  userId: string | null;
  runId: string | null;
  model: string | null;
  /** The estimate of the blocked call (check) or 0. */
  amountNano: number;
  reason: string | null;
}
