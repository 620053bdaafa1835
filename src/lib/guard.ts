import type { Authority, AuthorityWarning } from './authority/authority.js';
import { FallbackPricing } from './authority/fallback-pricing.js';
// Static: embedded mode is the default and the hot path of `noburn check`.
import { LocalAuthority } from './authority/local-authority.js';
import { resolveConfig } from './config.js';
import type { NoburnConfig } from './config.js';
import type { GuardOptions, WarmUpShape } from './guard-options.js';
import { NoburnAuthError, NoburnBlockedError, NoburnClosedError, NoburnTimeoutError, NoburnUnreachableError, NoburnValidationError } from './errors.js';
import type { GuardFetch, GuardFetchOptions } from './fetch/guard-fetch.js';
import { GuardFallback } from './guard-fallback.js';
import { newIdempotencyKey } from './ids.js';
import type { RunListStatus, UserSummary } from './ledger/store.js';
import type { LocalRunView } from './local-caps.js';
import type { FlushResult, RecordSink } from './record-queue.js';
import type * as T from './types.js';
import { ledgerFault } from './sqlite-file.js';
import { idString, normalizeCheck, normalizeRecord } from './validate.js';

export type { GuardOptions, WarmUpShape } from './guard-options.js';

/**
 * The client library: check before each LLM call, record after it.
 * Embedded by default (the SQLite ledger in $NOBURN_HOME); remote when NOBURN_URL is set.
 */
export class NoburnGuard {
  readonly config: NoburnConfig;
  private readonly now: () => number;
  private authorityP: Promise<Authority> | null = null;
  /** The authority once open: its fallback pricing prices what is decided without it. */
  private opened: Authority | null = null;
  /** Pricing for a fallback when no authority could be opened (prices kept in memory). */
  private ownPricing: FallbackPricing | null = null;
  private sinkP: Promise<RecordSink> | null = null;
  private readonly fb: GuardFallback;
  private closed = false;
  /** Records refused before reaching a sink (invalid, no sink), since the start. */
  private rejectedHere = 0;
  /** The totals the last flush()/close() reported: each reports the change since. */
  private reported = { delivered: 0, rejected: 0 };
  private lastTotals: FlushResult = { delivered: 0, rejected: 0, pending: 0 };
  private readonly warnedKinds = new Set<string>();

  constructor(private readonly options: GuardOptions = {}) {
    const { now: _n, authority: _a, onRecordError: _o, onWarning: _w, longLived: _l, onFallback: _f, deliverAlerts: _d, env, ...overrides } = options;
    this.config = resolveConfig(overrides, env ?? process.env);
    this.now = options.now ?? Date.now;
    this.fb = new GuardFallback(this.config, this.now, () => this.fallbackPricing(), options.onFallback);
    if (options.authority) this.authorityP = Promise.resolve(this.noteOpened(options.authority));
  }

  private noteOpened(a: Authority): Authority {
    this.opened = a;
    return a;
  }

  private fallbackPricing(): FallbackPricing {
    return this.opened?.fallback ?? (this.ownPricing ??= new FallbackPricing(this.config, false));
  }

  /** The authority, created on first use so that constructing a guard never touches disk or network. */
  authority(): Promise<Authority> {
    if (this.closed) return Promise.reject(new NoburnClosedError());
    // A failed open is not remembered: the next call tries again (a transient SQLITE_BUSY
    // or a home folder mounted late must not leave a long-lived guard in fallback).
    const hooks = {
      now: this.now,
      onRecordError: this.reportRecordError,
      onWarning: this.reportWarning,
      // Delivered records are counted by the authority at their cost: LocalCaps stops
      // treating their holds as possibly still counted there.
      onDelivered: (ids: readonly (string | null)[]) => this.fb.caps.delivered(ids),
    };
    this.authorityP ??= (
      this.config.url
        ? import('./remote/remote.js').then((m) => m.createRemoteAuthority(this.config, hooks))
        : Promise.resolve().then(() => LocalAuthority.open(this.config, { ...hooks, longLived: this.options.longLived === true, deliverAlerts: this.options.deliverAlerts !== false }))
    ).then(
      (a) => this.noteOpened(a),
      (e: unknown) => {
        this.authorityP = null;
        throw e;
      },
    );
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

  private readonly reportWarning = (w: AuthorityWarning): void => {
    if (this.options.onWarning) this.options.onWarning(w);
    else process.emitWarning(`noburn: ${w.message}`, { code: w.code });
  };

  private assertOpen(): void {
    if (this.closed) throw new NoburnClosedError();
  }

  private sink(): Promise<RecordSink> {
    this.sinkP ??= this.authority()
      .then((a) => a.recordSink())
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
  async check(req: T.CheckRequest): Promise<T.Decision> {
    this.assertOpen();
    const c = normalizeCheck(req, this.config.runId);
    if (this.fb.recovering) {
      const stillOut = await this.fb.recovered(() => this.flushSink());
      if (stillOut !== null) return this.fb.decide(c, stillOut);
    }
    let d: T.Decision;
    try {
      d = await (await this.authority()).check(c);
    } catch (e) {
      // NoburnForbiddenError is a NoburnAuthError (the key is valid, its role or project is not).
      if (e instanceof NoburnAuthError || e instanceof NoburnValidationError) throw e;
      // A fault of the local ledger names its file (the fallback's cause, `check`'s warning).
      return this.fb.decide(c, this.config.url ? e : ledgerFault(this.config.dbPath, e));
    }
    this.fb.serverDecided(c.runId, d);
    return d;
  }

  /**
   * A `fetch` that meters every OpenAI / Anthropic request passing through it, as the
   * `noburn run` proxy does: `new OpenAI({ fetch: guard.fetch({ endUserId }) })`. Refused
   * calls get the provider's 402 (not retried by the SDKs), and so do LLM calls noburn
   * cannot price unless `allowUnmetered`; other requests pass untouched.
   * The metering code is loaded on the first request.
   */
  fetch(opts: GuardFetchOptions = {}): GuardFetch {
    let impl: Promise<typeof fetch> | undefined;
    const counts = { forwarded: 0, refused: 0 };
    const f = (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]): Promise<Response> => {
      impl ??= import('./fetch/guard-fetch.js').then((m) => m.createGuardFetch(this, opts, counts));
      return impl.then((g) => g(input, init));
    };
    return Object.assign(f, { unmetered: () => ({ ...counts }) });
  }

  /**
   * Throws NoburnBlockedError (with the decision's figures) when the decision is blocked;
   * returns it otherwise: `const d = guard.assert(await guard.check(req))`.
   */
  assert(decision: T.Decision): T.Decision {
    if (decision.blocked) throw new NoburnBlockedError(decision);
    return decision;
  }

  /**
   * Warms the check and record path of a long-lived process (noburn run's proxy) before its
   * first call: a check shaped like its calls (`like`: their end user, provider and tags)
   * is validated as check() and record() validate, and in embedded mode decided and
   * settled through the ledger's real path in a transaction that is rolled back, so
   * nothing is held, counted or logged. Never throws.
   */
  async warmUp(runId: string | null = this.config.runId, like: WarmUpShape = {}): Promise<void> {
    try {
      const req = { model: 'noburn-rehearsal', runId, endUserId: like.endUserId ?? undefined, provider: like.provider, tags: like.tags };
      const c = normalizeCheck({ ...req, estimatedTokensIn: 1, estimatedTokensOut: 1, clamp: true, tokensInSource: 'tokenizer' }, this.config.runId);
      normalizeRecord({ ...req, tokensIn: 1, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0, wasBlocked: false, reservationId: null }, this.config.runId, newIdempotencyKey);
      const a = await this.authority();
      await a.rehearse?.(c);
      // The fallback's pricing too: a tracked run's records are priced by it (guard-fallback.ts).
      await this.fallbackPricing().warm(req.model);
    } catch {
      // a cold first call is all it costs
    }
  }

  /** Records what a call really cost. Returns at once and never throws; delivery is in the background. */
  record(req: T.RecordRequest): void {
    try {
      if (this.closed) throw new NoburnClosedError('record() after close(): the record was not kept');
      const r = normalizeRecord(req, this.config.runId, newIdempotencyKey);
      this.fb.noteRecord(r);
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
      this.fb.caps.release(id);
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
  async recordNow(req: T.RecordRequest): Promise<T.RecordResult & { queued: number }> {
    this.assertOpen();
    const r = normalizeRecord(req, this.config.runId, newIdempotencyKey);
    this.fb.noteRecord(r);
    return (await this.authority()).recordNow(r, this.now());
  }

  async startRun(req: T.StartRunRequest = {}): Promise<T.RunInfo> {
    this.assertOpen();
    const run = await (await this.authority()).startRun(req);
    // Its cap is enforced by this guard too when the authority cannot be reached.
    this.fb.caps.trackRun(run);
    return run;
  }

  /**
   * Tells the authority this guard owns the run (`noburn run`: it started it and ends it),
   * so that in remote mode its checks may be decided from budget leases of the run's room.
   */
  async ownRun(runId: string): Promise<void> {
    this.assertOpen();
    (await this.authority()).ownRun?.(runId);
  }

  /** Ends the run: its end result, and the whole run as it now stands (`run`). */
  async endRun(runId: string): Promise<T.EndedRun> {
    // Settle what this process recorded first, so the result includes it (the counts stay
    // for the caller's own flush()).
    await this.flushSink().catch(() => {});
    return (await this.authority()).endRun(runId);
  }

  /**
   * Ends the run; when the authority cannot be reached and can queue the end (remote mode:
   * delivered after the run's records by the next client of that server), queues it and
   * returns this guard's own figures for a run it started (`queued: true`, `run` null). Throws otherwise.
   */
  async endRunOrQueue(runId: string): Promise<{ result: T.EndRunResult; run: T.RunInfo | null; queued: boolean }> {
    try {
      const { run, ...result } = await this.endRun(runId);
      return { result, run, queued: false };
    } catch (e) {
      const own = this.fb.endResult(runId);
      const a = await this.authority().catch(() => null);
      if (!own || !a || !(e instanceof NoburnUnreachableError || e instanceof NoburnTimeoutError) || !a.queueEndRun(runId)) throw e;
      return { result: own, run: null, queued: true };
    }
  }

  /** What this guard saw of a run it started or read (null for others): spend, holds, calls, blocks. */
  localRun(runId: string): LocalRunView | null {
    return this.fb.caps.runView(runId);
  }

  async getRun(runId: string): Promise<T.RunInfo> {
    const run = await (await this.authority()).getRun(runId);
    this.fb.caps.trackRun(run);
    return run;
  }

  /** Runs, open first; `ended` lists every run that is not open. `parentRunId`: only its children. */
  async listRuns(status?: RunListStatus, opts: { parentRunId?: string | undefined } = {}): Promise<T.RunInfo[]> {
    return (await this.authority()).listRuns(status, opts);
  }

  async setBudget(b: T.SetBudgetRequest): Promise<void> {
    return (await this.authority()).setBudget(b);
  }

  async getBudgets(): Promise<T.Budget[]> {
    return (await this.authority()).getBudgets();
  }

  async listUsers(): Promise<UserSummary[]> {
    return (await this.authority()).listUsers();
  }

  async spend(q: T.SpendQuery = {}): Promise<T.SpendReport> {
    return (await this.authority()).spend(q);
  }

  /**
   * The whole event feed (or the part `q` keeps), oldest first, one page at a time: keyset
   * paging on seq, embedded and remote alike (GET /v1/events with a cursor), so an export
   * of any length holds one page. Stops after a short page. A bad query throws on the first page.
   */
  async *eventPages(q: T.EventQuery = {}, pageSize = 1000): AsyncGenerator<T.LedgerEvent[], void, undefined> {
    const a = await this.authority();
    let after = 0;
    for (;;) {
      const page = await a.events(after, pageSize, q);
      if (page.length > 0) yield page;
      const last = page[page.length - 1];
      if (page.length < pageSize || last === undefined) return;
      after = last.seq;
    }
  }

  async price(model: string): Promise<T.PriceInfo> {
    return (await this.authority()).price(model);
  }

  /** The project's fired alerts, oldest first (`afterSeq` for polling, `runId` for one run's). */
  async alerts(q: T.AlertQuery = {}): Promise<T.Alert[]> {
    return (await this.authority()).alerts(q);
  }

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
      await this.ownPricing?.close();
    }
    return this.withOwnCounts(c);
  }
}
