import type {
  Budget,
  Decision,
  EndRunResult,
  LedgerEvent,
  PriceInfo,
  RecordResult,
  RunInfo,
  SetBudgetRequest,
  SpendQuery,
  SpendReport,
  StartRunRequest,
} from '../types.js';
import type { NormalizedCheck, NormalizedRecord } from '../validate.js';
import type { RunListStatus, UserSummary } from '../ledger/store.js';

/**
 * What the guard (and the CLI through it) asks: the local ledger in embedded mode, a
 * `noburn serve` over HTTP in remote mode. Bound to one project.
 * Transport failures throw NoburnUnreachableError / NoburnTimeoutError / NoburnStoreError;
 * the guard turns them into fallback decisions for check().
 */
export interface Authority {
  readonly kind: 'local' | 'remote';
  check(c: NormalizedCheck): Promise<Decision>;
  /** Delivers records now (idempotency keys make a retry safe). */
  record(rs: readonly NormalizedRecord[], ts: readonly number[]): Promise<RecordResult>;
  /** Frees holds now, counting nothing (unknown or settled ids are skipped); resolves to how many were freed. */
  release(reservationIds: readonly string[]): Promise<number>;
  /** Warms the check and record path for a run without changing anything (Ledger.rehearse); absent: nothing to warm. */
  rehearse?(runId: string | null): Promise<void>;
  startRun(req: StartRunRequest): Promise<RunInfo>;
  endRun(runId: string): Promise<EndRunResult>;
  getRun(runId: string): Promise<RunInfo>;
  listRuns(status?: RunListStatus, opts?: { parentRunId?: string | undefined }): Promise<RunInfo[]>;
  setBudget(b: SetBudgetRequest): Promise<void>;
  getBudgets(): Promise<Budget[]>;
  listUsers(): Promise<UserSummary[]>;
  spend(q: SpendQuery): Promise<SpendReport>;
  events(after: number, limit?: number): Promise<LedgerEvent[]>;
  price(model: string): Promise<PriceInfo>;
  close(): Promise<void>;
}
