import type { Authority } from './authority/authority.js';
// Static: embedded mode is the default and the hot path of `noburn check`.
import { LocalAuthority } from './authority/local-authority.js';
import { resolveConfig } from './config.js';
import type { ConfigOverrides, NoburnConfig } from './config.js';
import { NoburnAuthError, NoburnTimeoutError, NoburnUnreachableError, NoburnValidationError } from './errors.js';
import { newIdempotencyKey } from './ids.js';
import type { RunListStatus, UserSummary } from './ledger/store.js';
import { usdToNano, nanoToUsd } from './money.js';
import { MemoryRecordQueue } from './record-queue.js';
import type { RecordSink } from './record-queue.js';
import type {
  Budget,
  CheckRequest,
  Decision,
  EndRunResult,
  PriceInfo,
  RecordRequest,
  RecordResult,
  RunInfo,
  SetBudgetRequest,
  SpendQuery,
  SpendReport,
  StartRunRequest,
} from './types.js';
import { idString, normalizeCheck, normalizeRecord } from './validate.js';
import type { NormalizedCheck, NormalizedRecord } from './validate.js';

export interface GuardOptions extends ConfigOverrides {
  /** Injected clock (ms since epoch), for tests. */
  now?: () => number;
  /** Use this authority instead of the one the config names. */
  authority?: Authority;
  /** Called when background delivery of records fails (record() itself never throws). */
  onRecordError?: (err: unknown) => void;
  /**
   * This process keeps the guard for a long time (a server, a worker, `noburn run`): the
   * ledger's WAL is then checkpointed on a timer between calls instead of inside a commit,
   * which removes a few-millisecond stall from the tail latency. Leave it off for
   * short-lived processes (their timer would never fire).
   */
  longLived?: boolean;
  /** Environment to read NOBURN_* from (defaults to process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * The client library: check before each LLM call, record after it.
 * Embedded by default (the SQLite ledger in $NOBURN_HOME); remote when NOBURN_URL is set.
 */
export class NoburnGuard {
  readonly config: NoburnConfig;
  private readonly now: () => number;
  private authorityP: Promise<Authority> | null = null;
  private sinkP: Promise<RecordSink> | null = null;
  /** Spend recorded through this guard, for the fallback check when the authority is unreachable. */
  private localSpentNano = 0;
  private readonly localTokens = new Map<string, { tokensIn: number; tokensOut: number; cachedTokensIn: number; cacheWriteTokensIn: number }>();
  private closed = false;

  constructor(private readonly options: GuardOptions = {}) {
    const { now: _n, authority: _a, onRecordError: _o, longLived: _l, env, ...overrides } = options;
    this.config = resolveConfig(overrides, env ?? process.env);
    this.now = options.now ?? Date.now;
    if (options.authority) this.authorityP = Promise.resolve(options.authority);
  }

  /** The authority, created on first use so that constructing a guard never touches disk or network. */
  authority(): Promise<Authority> {
    // A failed open is not remembered: the next call tries again (a transient SQLITE_BUSY
    // or a home folder mounted late must not leave a long-lived guard in fallback).
    this.authorityP ??= (
      this.config.url
        ? import('./remote/remote.js').then((m) => m.createRemoteAuthority(this.config, { now: this.now }))
        : Promise.resolve().then(() => LocalAuthority.open(this.config, { now: this.now, longLived: this.options.longLived === true }))
    ).catch((e: unknown) => {
      this.authorityP = null;
      throw e;
    });
    return this.authorityP;
  }

  private sink(): Promise<RecordSink> {
    this.sinkP ??= this.authority()
      .then(async (a) => {
        const onError = this.options.onRecordError ?? (() => {});
        if (a.kind === 'remote') {
          const m = await import('./remote/remote.js');
          return m.createOutbox(this.config, a, onError);
        }
        return new MemoryRecordQueue((rs, ts) => a.record(rs, ts), onError, (ids) => a.release(ids));
      })
      .catch((e: unknown) => {
        this.sinkP = null;
        throw e;
      });
    return this.sinkP;
  }

  /**
   * Asks whether a call fits every cap that applies and holds its estimate if it does.
   * Throws only NoburnValidationError (bad arguments) and NoburnAuthError (bad key);
   * when the authority cannot be reached it decides locally (source "fallback").
   */
  async check(req: CheckRequest): Promise<Decision> {
    const c = normalizeCheck(req, this.config.runId);
    try {
      return await (await this.authority()).check(c);
    } catch (e) {
      // NoburnForbiddenError is a NoburnAuthError (the key is valid, its role or project is not).
      if (e instanceof NoburnAuthError || e instanceof NoburnValidationError) throw e;
      return this.fallback(c, e);
    }
  }

  /**
   * The authority is unreachable: decide locally against budgetCapUsd (spend recorded
   * through this guard plus this call's estimate, priced locally), then onError.
   */
  private async fallback(c: NormalizedCheck, cause: unknown): Promise<Decision> {
    void cause;
    let est = 0;
    let unpriced = false;
    try {
      ({ nano: est, unpriced } = await (await import('./remote/fallback.js')).fallbackEstimate(this.config, c));
    } catch {
      // no price to be had: decide on the spend alone
    }
    const base = { estimatedCostUsd: nanoToUsd(est), reservationId: null, remaining: {}, source: 'fallback' as const, unpriced, decisionId: null };
    if (unpriced && this.config.unknownModel === 'block' && this.config.fallbackPrice === null) {
      return { ...base, blocked: true, blockReason: 'unknown_model_price' };
    }
    const cap = this.config.budgetCapUsd;
    const capNano = cap === null ? null : usdToNano(cap);
    const spent = capNano === null ? 0 : await this.localSpent();
    if (capNano !== null && (spent >= capNano || spent + est > capNano)) {
      return { ...base, blocked: true, blockReason: 'local_budget_exceeded', remaining: { projectUsd: nanoToUsd(Math.max(0, capNano - spent)) } };
    }
    const remaining = capNano === null ? {} : { projectUsd: nanoToUsd(capNano - spent - est) };
    if (this.config.onError === 'block') return { ...base, remaining, blocked: true, blockReason: 'noburn_unreachable' };
    return { ...base, remaining, blocked: false, blockReason: null };
  }

  /**
   * Spend recorded through this guard, for the fallback: costs given in USD, plus the
   * token counts of records without a cost, priced now (only when a fallback needs them).
   */
  private async localSpent(): Promise<number> {
    let spent = this.localSpentNano;
    if (this.localTokens.size > 0) {
      const { fallbackRecordCost } = await import('./remote/fallback.js');
      for (const [model, t] of this.localTokens) spent += await fallbackRecordCost(this.config, model, t).catch(() => 0);
    }
    return spent;
  }

  private noteLocalSpend(r: NormalizedRecord): void {
    if (r.wasBlocked) return;
    if (r.costUsd !== null) {
      this.localSpentNano += usdToNano(r.costUsd);
      return;
    }
    // Summed per model (bounded memory); priced only if a fallback decision needs it.
    const t = this.localTokens.get(r.model) ?? { tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
    t.tokensIn += r.tokensIn;
    t.tokensOut += r.tokensOut;
    t.cachedTokensIn += r.cachedTokensIn;
    t.cacheWriteTokensIn += r.cacheWriteTokensIn;
    this.localTokens.set(r.model, t);
  }

  /** Records what a call really cost. Returns at once and never throws; delivery is in the background. */
  record(req: RecordRequest): void {
    try {
      const r = normalizeRecord(req, this.config.runId, newIdempotencyKey);
      this.noteLocalSpend(r);
      const ts = this.now();
      this.sink().then(
        (s) => s.enqueue(r, ts),
        (e) => this.options.onRecordError?.(e),
      );
    } catch (e) {
      this.options.onRecordError?.(e);
    }
  }

  /**
   * Frees the hold of a checked call that was not made or failed before it cost anything,
   * without counting a call (record with wasBlocked counts a blocked call). Returns at once
   * and never throws; delivered like records (durably through the outbox in remote mode), so
   * flush() and close() wait for it. Unknown, expired or settled reservations are skipped.
   */
  release(reservationId: string): void {
    try {
      const id = idString(reservationId, 'reservationId');
      const ts = this.now();
      this.sink().then(
        (s) => s.enqueueRelease(id, ts),
        (e) => this.options.onRecordError?.(e),
      );
    } catch (e) {
      this.options.onRecordError?.(e);
    }
  }

  /**
   * Records and waits until the authority has it (the CLI uses this). Throws on bad input.
   * Remote mode: sent directly, so the answer says whether it was a duplicate; when the
   * server cannot be reached the record goes to the durable outbox instead (`queued: 1`)
   * and is delivered later, exactly once — so a caller must not retry it.
   */
  async recordNow(req: RecordRequest): Promise<RecordResult & { queued: number }> {
    const r = normalizeRecord(req, this.config.runId, newIdempotencyKey);
    this.noteLocalSpend(r);
    const ts = this.now();
    const a = await this.authority();
    try {
      return { ...(await a.record([r], [ts])), queued: 0 };
    } catch (e) {
      if (a.kind !== 'remote' || !(e instanceof NoburnUnreachableError || e instanceof NoburnTimeoutError)) throw e;
      const s = await this.sink();
      s.enqueue(r, ts);
      return { accepted: 0, duplicates: 0, queued: 1 };
    }
  }

  async startRun(req: StartRunRequest = {}): Promise<RunInfo> {
    return (await this.authority()).startRun(req);
  }

  async endRun(runId: string): Promise<EndRunResult> {
    // Settle what this process recorded first, so the result includes it.
    await this.flush().catch(() => {});
    return (await this.authority()).endRun(runId);
  }

  async getRun(runId: string): Promise<RunInfo> {
    return (await this.authority()).getRun(runId);
  }

  /** Runs, open first; `ended` lists every run that is not open. `parentRunId`: only its children. */
  async listRuns(status?: RunListStatus, opts: { parentRunId?: string | undefined } = {}): Promise<RunInfo[]> {
    return (await this.authority()).listRuns(status, opts);
  }

  async setBudget(b: SetBudgetRequest): Promise<void> {
    return (await this.authority()).setBudget(b);
  }

  async getBudgets(): Promise<Budget[]> {
    return (await this.authority()).getBudgets();
  }

  async listUsers(): Promise<UserSummary[]> {
    return (await this.authority()).listUsers();
  }

  async spend(q: SpendQuery = {}): Promise<SpendReport> {
    return (await this.authority()).spend(q);
  }

  async price(model: string): Promise<PriceInfo> {
    return (await this.authority()).price(model);
  }

  /** Waits until every record so far is delivered. */
  async flush(): Promise<void> {
    if (this.sinkP) await (await this.sinkP).flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.sinkP) await (await this.sinkP).close();
    } finally {
      if (this.authorityP) await (await this.authorityP.catch(() => null))?.close();
    }
  }
}
