import { statSync } from 'node:fs';
import type { NoburnConfig } from '../config.js';
import { Ledger } from '../ledger/ledger.js';
import { SqliteStore } from '../ledger/sqlite/sqlite-store.js';
import type { LedgerBackend, RunListStatus, UserSummary } from '../ledger/store.js';
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
import type { Authority } from './authority.js';

/** An empty (0-byte) ledger file: SQLite would take it as a new ledger, with every cap gone. */
export interface LedgerWarning {
  code: 'NOBURN_EMPTY_LEDGER';
  path: string;
  message: string;
}

/** Embedded mode: the ledger file in $NOBURN_HOME is the authority. */
export class LocalAuthority implements Authority {
  readonly kind = 'local' as const;

  constructor(
    readonly ledger: Ledger,
    private readonly projectId: string,
  ) {}

  static open(config: NoburnConfig, opts: { now?: () => number; store?: LedgerBackend; longLived?: boolean; onWarning?: (w: LedgerWarning) => void } = {}): LocalAuthority {
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
    // A long-lived process checkpoints the WAL between calls, not inside one (see SqliteStore).
    const store = opts.store ?? new SqliteStore(config.dbPath, opts.longLived ? { checkpointEveryMs: 500 } : {});
    return new LocalAuthority(new Ledger(store, config, { now: opts.now }), config.projectId);
  }

  check(c: NormalizedCheck): Promise<Decision> {
    return this.ledger.check(this.projectId, c);
  }
  rehearse(runId: string | null): Promise<void> {
    return this.ledger.rehearse(this.projectId, runId);
  }
  record(rs: readonly NormalizedRecord[], ts: readonly number[]): Promise<RecordResult> {
    return this.ledger.record(this.projectId, rs, ts);
  }
  release(reservationIds: readonly string[]): Promise<number> {
    return this.ledger.release(this.projectId, reservationIds);
  }
  startRun(req: StartRunRequest): Promise<RunInfo> {
    return this.ledger.startRun(this.projectId, req);
  }
  endRun(runId: string): Promise<EndRunResult> {
    return this.ledger.endRun(this.projectId, runId);
  }
  getRun(runId: string): Promise<RunInfo> {
    return this.ledger.getRun(this.projectId, runId);
  }
  listRuns(status?: RunListStatus, opts: { parentRunId?: string | undefined } = {}): Promise<RunInfo[]> {
    return this.ledger.listRuns(this.projectId, status, undefined, opts.parentRunId);
  }
  setBudget(b: SetBudgetRequest): Promise<void> {
    return this.ledger.setBudget(this.projectId, b);
  }
  getBudgets(): Promise<Budget[]> {
    return this.ledger.getBudgets(this.projectId);
  }
  listUsers(): Promise<UserSummary[]> {
    return this.ledger.listUsers(this.projectId);
  }
  spend(q: SpendQuery): Promise<SpendReport> {
    return this.ledger.spend(this.projectId, q);
  }
  events(after: number, limit?: number): Promise<LedgerEvent[]> {
    return this.ledger.events(this.projectId, after, limit);
  }
  price(model: string): Promise<PriceInfo> {
    return this.ledger.price(model);
  }
  close(): Promise<void> {
    return this.ledger.close();
  }
}
