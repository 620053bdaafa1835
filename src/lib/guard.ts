import type { Authority } from './authority/authority.js';
// Static: embedded mode is the default and the hot path of `noburn check`.
import { LocalAuthority } from './authority/local-authority.js';
import type { LedgerWarning } from './authority/local-authority.js';
import { resolveConfig } from './config.js';
import type { ConfigOverrides, NoburnConfig } from './config.js';
import { NoburnAuthError, NoburnBlockedError, NoburnClosedError, NoburnStoreError, NoburnTimeoutError, NoburnUnreachableError, NoburnValidationError } from './errors.js';
import type { GuardFetchOptions } from './fetch/guard-fetch.js';
import { newIdempotencyKey } from './ids.js';
import { chooseOutput, holdNano, tightest } from './ledger/clamp.js';
import { decisionOf } from './ledger/decision.js';
import type { RunListStatus, StoreDecision, UserSummary } from './ledger/store.js';
import { LocalCaps } from './local-caps.js';
import type { LocalRunView } from './local-caps.js';
import type { FallbackEstimate } from './remote/fallback.js';
import { usdToNano } from './money.js';
import { MemoryRecordQueue } from './record-queue.js';
import type { FlushResult, OutboxWarning, RecordSink } from './record-queue.js';
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
  /**
   * Called when a record fails: `info.rejected` > 0 when the record will never count
   * (invalid, refused by the server, could not be kept), absent when delivery is only
   * delayed (retried). record() itself never throws. Without it, each kind of rejection
   * raises one process warning (process.emitWarning), so nothing is dropped silently.
   */
  onRecordError?: (err: unknown, info?: { rejected: number }) => void;
  /** Remote mode: queued records wait for another server or project (default: one process warning each). */
  onWarning?: (w: OutboxWarning | LedgerWarning) => void;
  /**
   * This process keeps the guard for a long time (a server, a worker, `noburn run`): the
   * ledger's WAL is then checkpointed on a timer between calls instead of inside a commit,
   * which removes a few-millisecond stall from the tail latency. Leave it off for
   * short-lived processes (their timer would never fire).
   */
  longLived?: boolean;
  /** Environment to read NOBURN_* from (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Called when a check is decided without the authority (source "fallback") after one
   * that was not: once per outage, with the reason (`noburn run` warns on stderr with it).
   */
  onFallback?: (cause: unknown) => void;
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
  /** Caps this guard knows (fallback cap, runs it started), with its holds: enforced in an outage. */
  private readonly caps: LocalCaps;
  /** The last check was decided by the fallback (onFallback fires on the way in). */
  private inOutage = false;
  /** After an outage, checks stay local until the authority has every record and no local hold is open. */
  private recovering = false;
  private recoveryP: Promise<unknown> | null = null;
  private readonly localTokens = new Map<string, { tokensIn: number; tokensOut: number; cachedTokensIn: number; cacheWriteTokensIn: number }>();
  private closed = false;
  /** Records refused before reaching a sink (invalid, no sink), since the start. */
  private rejectedHere = 0;
  /** The totals the last flush()/close() reported: each reports the change since. */
  private reported = { delivered: 0, rejected: 0 };
  private readonly warnedKinds = new Set<string>();

  constructor(private readonly options: GuardOptions = {}) {
    const { now: _n, authority: _a, onRecordError: _o, onWarning: _w, longLived: _l, onFallback: _f, env, ...overrides } = options;
    this.config = resolveConfig(overrides, env ?? process.env);
    this.now = options.now ?? Date.now;
    this.caps = new LocalCaps(this.now, this.config.holdTtlMs, this.config.budgetCapUsd === null ? null : usdToNano(this.config.budgetCapUsd));
    if (options.authority) this.authorityP = Promise.resolve(options.authority);
  }

  /** The authority, created on first use so that constructing a guard never touches disk or network. */
  authority(): Promise<Authority> {
    if (this.closed) return Promise.reject(new NoburnClosedError());
    // A failed open is not remembered: the next call tries again (a transient SQLITE_BUSY
    // or a home folder mounted late must not leave a long-lived guard in fallback).
    this.authorityP ??= (
      this.config.url
        ? import('./remote/remote.js').then((m) => m.createRemoteAuthority(this.config, { now: this.now, onRecordError: this.reportRecordError, onWarning: this.reportWarning }))
        : Promise.resolve().then(() => LocalAuthority.open(this.config, { now: this.now, longLived: this.options.longLived === true, onWarning: this.reportWarning }))
    ).catch((e: unknown) => {
      this.authorityP = null;
      throw e;
    });
    return this.authorityP;
  }

  /**
   * Where every record failure goes: the caller's onRecordError, else (for records that
   * will never count) one process warning per kind of rejection.
   */
  private readonly reportRecordError = (e: unknown, info?: { rejected: number }): void => {
    if (this.options.onRecordError) {
      this.options.onRecordError(e, info);
      return;
    }
    if (!info || info.rejected <= 0) return;
    const code = (e as { code?: unknown } | null)?.code;
    const message = e instanceof Error ? e.message : String(e);
    const kind = `${typeof code === 'string' ? code : 'ERROR'}: ${message.replace(/\s*\(got .*$/, '')}`;
    if (this.warnedKinds.has(kind)) return;
    this.warnedKinds.add(kind);
    process.emitWarning(`noburn: a record was rejected and will not count (${message}); set onRecordError to handle these`, { code: 'NOBURN_RECORD_REJECTED' });
  };

  private readonly reportWarning = (w: OutboxWarning | LedgerWarning): void => {
    if (this.options.onWarning) this.options.onWarning(w);
    else process.emitWarning(`noburn: ${w.message}`, { code: w.code });
  };

  private assertOpen(): void {
    if (this.closed) throw new NoburnClosedError();
  }

  private sink(): Promise<RecordSink> {
    this.sinkP ??= this.authority()
      .then(async (a) => {
        const onError = this.reportRecordError;
        // Delivered records are counted by the authority at their cost: LocalCaps stops
        // treating their holds as possibly still counted there.
        const delivered = (ids: readonly (string | null | undefined)[]): void => this.caps.delivered(ids.map((id) => id ?? null));
        if (a.kind === 'remote') {
          const m = await import('./remote/remote.js');
          return m.createOutbox(this.config, a, onError, this.reportWarning, delivered);
        }
        return new MemoryRecordQueue(
          async (rs, ts) => {
            const res = await a.record(rs, ts);
            delivered(rs.map((r) => r.reservationId));
            return res;
          },
          onError,
          (ids) => a.release(ids),
        );
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
    this.assertOpen();
    const c = normalizeCheck(req, this.config.runId);
    if (this.recovering) {
      const stillOut = await this.recovered();
      if (stillOut !== null) return this.fallback(c, stillOut);
    }
    let d: Decision;
    try {
      d = await (await this.authority()).check(c);
    } catch (e) {
      // NoburnForbiddenError is a NoburnAuthError (the key is valid, its role or project is not).
      if (e instanceof NoburnAuthError || e instanceof NoburnValidationError) throw e;
      return this.fallback(c, e);
    }
    this.inOutage = false;
    this.caps.noteServerDecision(c.runId, d);
    return d;
  }

  /**
   * A `fetch` that meters every OpenAI / Anthropic request passing through it, as the
   * `noburn run` proxy does: `new OpenAI({ fetch: guard.fetch({ endUserId }) })`. Refused
   * calls get the provider's 402 (not retried by the SDKs); other requests pass untouched.
   * The metering code is loaded on the first request.
   */
  fetch(opts: GuardFetchOptions = {}): typeof fetch {
    let impl: Promise<typeof fetch> | undefined;
    return (input, init) => {
      impl ??= import('./fetch/guard-fetch.js').then((m) => m.createGuardFetch(this, opts));
      return impl.then((f) => f(input, init));
    };
  }

  /**
   * Throws NoburnBlockedError (with the decision's figures) when the decision is blocked;
   * returns it otherwise: `const d = guard.assert(await guard.check(req))`.
   */
  assert(decision: Decision): Decision {
    if (decision.blocked) throw new NoburnBlockedError(decision);
    return decision;
  }

  /**
   * After an outage in which the fallback approved calls: the authority does not know
   * those calls until their records are delivered and they are over. Until then checks
   * stay local (so the authority cannot approve past a cap for lack of them). Resolves
   * null when recovered, else the reason it is not.
   */
  private recovered(): Promise<unknown> {
    if (this.caps.localHolds() > 0) return Promise.resolve(new NoburnUnreachableError('calls approved during the outage are still in flight'));
    this.recoveryP ??= this.flushSink().then(
      () => {
        this.recovering = false;
        this.recoveryP = null;
        return null;
      },
      (e: unknown) => {
        this.recoveryP = null;
        return e ?? new NoburnUnreachableError();
      },
    );
    return this.recoveryP;
  }

  /**
   * The authority is unreachable: decide locally (docs/contract.md, "Outages") against
   * every cap this guard knows, holding the estimate of what it approves: the fallback cap
   * (budgetCapUsd) and the cap of a run it started or read. Then onError.
   */
  private async fallback(c: NormalizedCheck, cause: unknown): Promise<Decision> {
    if (!this.inOutage) {
      this.inOutage = true;
      try {
        this.options.onFallback?.(cause);
      } catch {
        // a failing listener must not change the decision
      }
    }
    let fe: FallbackEstimate = { nano: 0, unpriced: false, tokensIn: c.tokensIn, prices: null };
    try {
      fe = await (await import('./remote/fallback.js')).fallbackEstimate(this.config, c);
    } catch {
      // no price to be had: decide on the spend alone
    }
    const clamp = c.clamp === true;
    const minTokensOut = Math.floor(c.minTokensOut ?? this.config.minTokensOut);
    const inputNano = fe.prices === null ? 0 : holdNano(fe.prices, fe.tokensIn, 0);
    const ctx = { estimate: fe.nano, tokensIn: fe.tokensIn, tokensOut: c.tokensOut, unpriced: fe.unpriced, minTokensOut, clamp, inputNano };
    const decision = (sd: StoreDecision): Decision => ({ ...decisionOf(sd, ctx), source: 'fallback', decisionId: null });
    if (fe.unpriced && this.config.unknownModel === 'block' && this.config.fallbackPrice === null) {
      return decision({ blocked: true, blockReason: 'unknown_model_price', reservationId: null, remainingNano: {}, estimateNano: fe.nano, limit: null, maxTokensOut: null });
    }
    const extra = this.config.budgetCapUsd === null ? 0 : await this.localTokenSpent();
    // Everything awaited is done: the room, the clamp, compare and hold in one synchronous step.
    const caps = this.caps.limits(c.runId, extra);
    const out = chooseOutput(fe.unpriced ? null : fe.prices, fe.tokensIn, c.tokensOut, fe.nano, tightest(caps), clamp, minTokensOut);
    const d = this.caps.decide(c.runId, out.estimateNano, extra, this.config.onError === 'block' ? 'noburn_unreachable' : null);
    if (d.reservationId !== null) this.recovering = true;
    const blockedBy = d.blockReason === 'run_budget_exceeded' ? 'run' : d.blockReason === 'local_budget_exceeded' ? 'project' : null;
    const limit = caps.find((k) => k.scope === blockedBy) ?? tightest(caps);
    const sd: StoreDecision = { ...d, remainingNano: {}, estimateNano: out.estimateNano, tokensOut: out.tokensOut, clamped: out.clamped && !d.blocked, maxTokensOut: out.maxTokensOut, limit };
    return { ...decision(sd), remaining: d.remaining };
  }

  /** Token-only records through this guard, priced now (only when a fallback decision needs them). */
  private async localTokenSpent(): Promise<number> {
    let spent = 0;
    if (this.localTokens.size > 0) {
      const { fallbackRecordCost } = await import('./remote/fallback.js');
      for (const [model, t] of this.localTokens) spent += await fallbackRecordCost(this.config, model, t).catch(() => 0);
    }
    return spent;
  }

  private noteLocalSpend(r: NormalizedRecord): void {
    const costNano = r.costUsd === null || r.wasBlocked ? null : usdToNano(r.costUsd);
    if (costNano === null && !r.wasBlocked) {
      // Summed per model (bounded memory); priced only if a fallback decision needs it.
      const t = this.localTokens.get(r.model) ?? { tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
      t.tokensIn += r.tokensIn;
      t.tokensOut += r.tokensOut;
      t.cachedTokensIn += r.cachedTokensIn;
      t.cacheWriteTokensIn += r.cacheWriteTokensIn;
      this.localTokens.set(r.model, t);
    }
    // A run this guard knows is priced now: its cap must hold in an outage that starts any moment.
    const price =
      costNano === null && this.caps.isTracked(r.runId)
        ? async () => (await import('./remote/fallback.js')).fallbackRecordCost(this.config, r.model, r)
        : undefined;
    this.caps.settle(r.reservationId, r.runId, r.wasBlocked, costNano, price);
  }

  /**
   * Warms the check and record path of a long-lived process (noburn run's proxy) before its
   * first call: in embedded mode a check and its record are rehearsed in a transaction that
   * is rolled back, so nothing is held, counted or logged. Never throws.
   */
  async warmUp(runId: string | null = this.config.runId): Promise<void> {
    try {
      const a = await this.authority();
      await a.rehearse?.(runId);
    } catch {
      // a cold first call is all it costs
    }
  }

  /** Records what a call really cost. Returns at once and never throws; delivery is in the background. */
  record(req: RecordRequest): void {
    try {
      if (this.closed) throw new NoburnClosedError('record() after close(): the record was not kept');
      const r = normalizeRecord(req, this.config.runId, newIdempotencyKey);
      this.noteLocalSpend(r);
      const ts = this.now();
      this.sink().then(
        (s) => s.enqueue(r, ts),
        (e) => {
          this.rejectedHere++;
          this.reportRecordError(e, { rejected: 1 });
        },
      );
    } catch (e) {
      this.rejectedHere++;
      this.reportRecordError(e, { rejected: 1 });
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
      this.caps.release(id);
      // A fallback decision's reservation (fbk_) is this guard's own: the authority never held it.
      if (id.startsWith('fbk_')) return;
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
   * server cannot be reached the record is written to the durable outbox before this
   * resolves (`queued: 1`) and is delivered later, exactly once — so a caller must not
   * retry it. When the outbox cannot be written either (unwritable NOBURN_HOME, full disk,
   * corrupt outbox.db) it throws NoburnStoreError: the record was not kept anywhere.
   */
  async recordNow(req: RecordRequest): Promise<RecordResult & { queued: number }> {
    this.assertOpen();
    const r = normalizeRecord(req, this.config.runId, newIdempotencyKey);
    this.noteLocalSpend(r);
    const ts = this.now();
    const a = await this.authority();
    let result: RecordResult & { queued: number };
    try {
      result = { ...(await a.record([r], [ts])), queued: 0 };
    } catch (e) {
      if (a.kind !== 'remote' || !(e instanceof NoburnUnreachableError || e instanceof NoburnTimeoutError)) throw e;
      const s = (await this.sink()) as RecordSink & { enqueueDurably(r: NormalizedRecord, ts: number): void };
      try {
        s.enqueueDurably(r, ts);
      } catch (w) {
        throw new NoburnStoreError(`${e.message}, and the record could not be queued (${(w as Error).message}): it was NOT recorded, retry it`, { cause: w });
      }
      result = { accepted: 0, duplicates: 0, queued: 1 };
    }
    return result;
  }

  async startRun(req: StartRunRequest = {}): Promise<RunInfo> {
    this.assertOpen();
    const run = await (await this.authority()).startRun(req);
    // Its cap is enforced by this guard too when the authority cannot be reached.
    this.caps.trackRun(run);
    return run;
  }

  async endRun(runId: string): Promise<EndRunResult> {
    // Settle what this process recorded first, so the result includes it (the counts stay
    // for the caller's own flush()).
    await this.flushSink().catch(() => {});
    return (await this.authority()).endRun(runId);
  }

  /**
   * Ends the run; when the server cannot be reached (remote mode), queues the end durably
   * (delivered after the run's records by the next client of that server) and returns
   * this guard's own figures for a run it started (`queued: true`). Throws otherwise.
   */
  async endRunOrQueue(runId: string): Promise<{ result: EndRunResult; queued: boolean }> {
    try {
      return { result: await this.endRun(runId), queued: false };
    } catch (e) {
      const view = this.caps.runView(runId);
      const a = await this.authority().catch(() => null);
      if (!view || a?.kind !== 'remote' || !(e instanceof NoburnUnreachableError || e instanceof NoburnTimeoutError)) throw e;
      const { queueEndRun } = await import('./remote/remote.js');
      queueEndRun(a, runId);
      const result: EndRunResult = {
        runId,
        status: view.exhausted ? 'exhausted' : 'completed',
        spendUsd: view.spendUsd,
        budgetCapUsd: view.budgetCapUsd,
        calls: view.calls,
        blockedCalls: view.blockedCalls,
        startedAt: view.startedAt,
        endedAt: new Date(this.now()).toISOString(),
      };
      return { result, queued: true };
    }
  }

  /** What this guard saw of a run it started or read (null for others): spend, holds, calls, blocks. */
  localRun(runId: string): LocalRunView | null {
    return this.caps.runView(runId);
  }

  async getRun(runId: string): Promise<RunInfo> {
    const run = await (await this.authority()).getRun(runId);
    this.caps.trackRun(run);
    return run;
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

  private lastTotals: FlushResult = { delivered: 0, rejected: 0, pending: 0 };

  /** The change since the last flush()/close(), from the sink's totals and this guard's own rejections. */
  private withOwnCounts(totals: FlushResult | null): FlushResult {
    const t = totals ?? this.lastTotals;
    this.lastTotals = t;
    const delivered = t.delivered - this.reported.delivered;
    const rejected = t.rejected + this.rejectedHere - this.reported.rejected;
    this.reported = { delivered: t.delivered, rejected: t.rejected + this.rejectedHere };
    return { delivered, rejected, pending: t.pending };
  }

  /**
   * Waits until every record so far is delivered; resolves with what happened to the
   * records since the last flush ({delivered, rejected, pending}). Rejects when the
   * authority cannot take them now (remote: they stay in the outbox, `pending`).
   */
  async flush(): Promise<FlushResult> {
    // Remote mode: what earlier processes left in the outbox for this server is part of it.
    if (this.config.url && !this.closed) await this.sink().catch(() => null);
    return this.withOwnCounts(await this.flushSink());
  }

  /** Drains the sink without touching the counts flush() reports (endRun, recovery). */
  private async flushSink(): Promise<FlushResult | null> {
    return this.sinkP ? (await this.sinkP).flush() : null;
  }

  /** Delivers what it can (bounded), closes files and connections; resolves with the counts like flush(). */
  async close(): Promise<FlushResult> {
    if (this.closed) return this.withOwnCounts(null);
    this.closed = true;
    let c: FlushResult | null = null;
    try {
      if (this.sinkP) c = await (await this.sinkP).close();
    } finally {
      if (this.authorityP) await (await this.authorityP.catch(() => null))?.close();
    }
    return this.withOwnCounts(c);
  }
}
