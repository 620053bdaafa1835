import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Authority, AuthorityHooks } from '../authority/authority.js';
import { FallbackPricing } from '../authority/fallback-pricing.js';
import type { NoburnConfig } from '../config.js';
import { NoburnStoreError, NoburnTimeoutError, NoburnUnreachableError } from '../errors.js';
import type { RunListStatus, StoreRecord, UserSummary } from '../ledger/store.js';
import { usdToNano } from '../money.js';
import type { RecordSink } from '../record-queue.js';
import type * as T from '../types.js';
import type { NormalizedCheck, NormalizedRecord } from '../validate.js';
import { tagsObject } from '../tags.js';
import type * as R from '../wire/responses.js';
import type * as W from '../wire/schemas.js';
import { HttpClient } from './http-client.js';
import { MirrorWriter } from './mirror-writer.js';
import { Outbox } from './outbox.js';
import { toWire } from './outbox-rows.js';
import { deliverRunEnds, hasRunEnds, queueRunEnd } from './run-ends.js';
import { RunLeases } from './run-leases.js';
import { keyFingerprint, legacyTarget, serverKey } from './target.js';

/** Which server and key a mirror's feed cursor belongs to: a hash, never the key. */
export function targetOf(config: Pick<NoburnConfig, 'url' | 'apiKey'>): string {
  return legacyTarget(config.url, config.apiKey);
}

function query(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A server older than this client answers without the clamp figures, and ends a run without the run. */
type NewKeys = 'tokensIn' | 'tokensOut' | 'clamped' | 'estimate' | 'limit' | 'maxTokensOut' | 'hint';
type OlderDecision = Omit<R.DecisionResponse, NewKeys> & Partial<Pick<R.DecisionResponse, NewKeys>>;
type OlderEndRun = Omit<R.EndRunResponse, 'run'> & Partial<Pick<R.EndRunResponse, 'run'>>;

/** The run as its end result tells it (an older server, whose run could not be read after). */
function endedRunOf(r: T.EndRunResult): T.RunInfo {
  const { runId, spendUsd, budgetCapUsd, calls, blockedCalls, startedAt, endedAt } = r;
  const zero = { heldUsd: 0, unpricedCalls: 0, clampedCalls: 0, overHolds: 0 };
  return { runId, label: null, parentRunId: null, status: 'ended', exhausted: r.status === 'exhausted', budgetCapUsd, spendUsd, calls, blockedCalls, ...zero, startedAt, endedAt };
}

/**
 * Remote mode: the authority is a `noburn serve` over HTTP. Every decision, record and run
 * this client sees is also written to the local mirror (config.dbPath) in the background,
 * under config.projectId, so that `noburn watch` has something to show. Records go through
 * the durable outbox ($NOBURN_HOME/outbox.db).
 */
export class RemoteAuthority implements Authority {
  readonly http: HttpClient;
  readonly mirror: MirrorWriter;
  readonly fallback: FallbackPricing;
  private outboxI: Outbox | null = null;
  private readonly now: () => number;
  private closed = false;
  private endsP: Promise<void> | null = null;
  private whoamiP: Promise<R.WhoamiResponse> | null = null;
  /** Budget leases of the runs this process owns (ownRun: `noburn run`); null until one is owned. */
  private runLeasesI: RunLeases | null = null;

  constructor(
    readonly config: NoburnConfig,
    private readonly hooks: AuthorityHooks = {},
  ) {
    this.now = hooks.now ?? Date.now;
    this.http = new HttpClient(config.url ?? '', config.apiKey, { timeoutMs: config.timeoutMs });
    const onRecordError = hooks.onRecordError;
    this.mirror = new MirrorWriter(config.dbPath, onRecordError ? (e) => onRecordError(e) : undefined);
    this.fallback = new FallbackPricing(config);
    // Records an earlier process left behind (crash, outage) are delivered by this one.
    setImmediate(() => {
      if (!this.closed && !this.outboxI && existsSync(this.outboxPath)) this.outbox().kick();
      // Runs whose end an earlier process queued in an outage: ended after their records.
      if (!this.closed && existsSync(this.outboxPath) && hasRunEnds(this.outboxPath, targetOf(this.config))) this.endsP = this.deliverRunEnds();
    });
  }

  get outboxPath(): string {
    return join(this.config.home, 'outbox.db');
  }

  recordSink(): RecordSink {
    return this.outbox();
  }

  /** The durable record sink for this server and key (one per authority). */
  outbox(): Outbox {
    this.outboxI ??= new Outbox({
      path: this.outboxPath,
      server: serverKey(this.config.url ?? ''),
      keyFp: keyFingerprint(this.config.apiKey),
      legacyTarget: legacyTarget(this.config.url, this.config.apiKey),
      whoami: async () => (await this.whoami()).projectId,
      timeoutMs: this.config.timeoutMs,
      now: this.now,
      send: (records) => this.http.request<R.RecordsResponse>('POST', '/v1/records', { records }),
      sendReleases: (ids) => this.release(ids),
      onDelivered: (records, res) => {
        this.mirrorDelivered(records, res);
        this.hooks.onDelivered?.(records.map((r) => r.reservationId ?? null));
      },
      onError: this.hooks.onRecordError,
      onWarning: this.hooks.onWarning,
    });
    return this.outboxI;
  }

  /**
   * Sent directly, so the answer says whether it was a duplicate; when the server cannot
   * be reached the record is written to the outbox before this resolves (`queued: 1`).
   */
  async recordNow(r: NormalizedRecord, ts: number): Promise<T.RecordResult & { queued: number }> {
    try {
      return { ...(await this.record([r], [ts])), queued: 0 };
    } catch (e) {
      if (!(e instanceof NoburnUnreachableError || e instanceof NoburnTimeoutError)) throw e;
      try {
        this.outbox().enqueueDurably(r, ts);
      } catch (w) {
        throw new NoburnStoreError(`${e.message}, and the record could not be queued (${(w as Error).message}): it was NOT recorded, retry it`, { cause: w });
      }
      return { accepted: 0, duplicates: 0, queued: 1 };
    }
  }

  /** Which key is calling and the project it names (GET /v1/whoami), asked once; a failure is not remembered. */
  whoami(): Promise<R.WhoamiResponse> {
    this.whoamiP ??= this.http.request<R.WhoamiResponse>('GET', '/v1/whoami').catch((e: unknown) => {
      this.whoamiP = null;
      throw e;
    });
    return this.whoamiP;
  }

  private mirrorRecord(w: W.RecordItem, costUsd: number, unpriced: boolean): void {
    const r: StoreRecord = {
      projectId: this.config.projectId,
      userId: w.endUserId ?? null,
      runId: w.runId ?? null,
      model: w.model,
      tokensIn: w.tokensIn,
      tokensOut: w.tokensOut,
      cachedTokensIn: w.cachedTokensIn ?? 0,
      cacheWriteTokensIn: w.cacheWriteTokensIn ?? 0,
      costNano: usdToNano(costUsd),
      unpriced,
      wasBlocked: w.wasBlocked,
      reservationId: w.reservationId ?? null,
      idempotencyKey: w.idempotencyKey,
      ts: w.ts ?? this.now(),
      tags: w.tags ? Object.entries(w.tags).map(([k, v]) => `${k}=${v}`).sort() : [],
    };
    this.mirror.add({ kind: 'record', r });
  }

  private mirrorDelivered(records: readonly W.RecordItem[], res: R.RecordsResponse): void {
    records.forEach((w, i) => {
      const item = res.items[i];
      if (item && item.idempotencyKey === w.idempotencyKey) this.mirrorRecord(w, item.costUsd, item.unpriced);
    });
  }

  private mirrorRun(run: T.RunInfo): T.RunInfo {
    this.mirror.add({ kind: 'run', projectId: this.config.projectId, run, ts: this.now() });
    return run;
  }

  private mirrorDecision(c: NormalizedCheck, d: Pick<T.Decision, 'tokensIn' | 'tokensOut' | 'estimatedCostUsd' | 'blocked' | 'blockReason' | 'unpriced' | 'reservationId' | 'decisionId'>): void {
    this.mirror.add({
      kind: 'decision',
      d: {
        projectId: this.config.projectId,
        ts: this.now(),
        model: c.model,
        userId: c.userId,
        runId: c.runId,
        tokensIn: d.tokensIn,
        tokensOut: d.tokensOut,
        estimateNano: usdToNano(d.estimatedCostUsd),
        blocked: d.blocked,
        reason: d.blockReason,
        unpriced: d.unpriced,
        reservationId: d.reservationId,
        decisionId: d.decisionId ?? null,
        holdTtlMs: this.config.holdTtlMs,
        tags: c.tags,
      },
    });
  }

  /**
   * This process owns the run (it started it and will end it: `noburn run`): its checks are
   * decided from budget leases of its room where they fit (run-leases.ts), the rest by the server.
   */
  ownRun(runId: string): void {
    this.runLeasesI ??= new RunLeases(this.http, this.fallback, this.config.projectId, this.config.holdTtlMs, this.now);
    this.runLeasesI.ownRun(runId);
  }

  /** The lease counters of the owned runs (null: none owned). */
  get leaseStats(): RunLeases['manager']['stats'] | null {
    return this.runLeasesI?.manager.stats ?? null;
  }

  async check(c: NormalizedCheck): Promise<T.Decision> {
    const leased = c.runId !== null && this.runLeasesI ? await this.runLeasesI.decide(c) : null;
    if (leased) {
      this.mirrorDecision(c, leased);
      return leased;
    }
    const body: W.CheckBody = { model: c.model, estimatedTokensIn: c.tokensIn, estimatedTokensOut: c.tokensOut };
    if (c.userId !== null) body.endUserId = c.userId;
    if (c.runId !== null) body.runId = c.runId;
    if (c.clamp === true) body.clamp = true;
    if (c.minTokensOut !== undefined && c.minTokensOut !== null) body.minTokensOut = c.minTokensOut;
    if (c.provider) body.provider = c.provider;
    if (c.tokensInSource === 'tokenizer') body.tokensInSource = 'tokenizer';
    if (c.tags !== undefined && c.tags.length > 0) body.tags = tagsObject(c.tags);
    const d = await this.http.request<OlderDecision>('POST', '/v1/check', body);
    this.mirrorDecision(c, { ...d, tokensIn: d.tokensIn ?? c.tokensIn, tokensOut: d.tokensOut ?? c.tokensOut });
    return {
      blocked: d.blocked,
      blockReason: d.blockReason,
      estimatedCostUsd: d.estimatedCostUsd,
      reservationId: d.reservationId,
      remaining: d.remaining,
      source: d.source === 'replica_offline' ? 'replica_offline' : 'server',
      unpriced: d.unpriced,
      decisionId: d.decisionId,
      // A server older than the client answers without these: fill them with what is known.
      tokensIn: d.tokensIn ?? c.tokensIn,
      tokensOut: d.tokensOut ?? c.tokensOut,
      clamped: d.clamped ?? false,
      estimate: d.estimate ?? { inputUsd: 0, outputUsd: d.estimatedCostUsd },
      limit: d.limit ?? null,
      maxTokensOut: d.maxTokensOut ?? null,
      hint: d.hint ?? null,
    };
  }

  /** Sends records now (not through the outbox): idempotency keys make a retry safe. */
  async record(rs: readonly NormalizedRecord[], ts: readonly number[]): Promise<T.RecordResult> {
    const records = rs.map((r, i) => toWire(r, ts[i] ?? this.now()));
    const res = await this.http.request<R.RecordsResponse>('POST', '/v1/records', { records });
    this.mirrorDelivered(records, res);
    return { accepted: res.accepted, duplicates: res.duplicates };
  }

  /** POST /v1/releases now (the guard's release() goes through the outbox instead). */
  async release(reservationIds: readonly string[]): Promise<number> {
    let released = 0;
    for (let i = 0; i < reservationIds.length; i += 1000) {
      const ids = reservationIds.slice(i, i + 1000);
      released += (await this.http.request<R.ReleaseResponse>('POST', '/v1/releases', { reservationIds: ids })).released;
      for (const id of ids) this.mirror.add({ kind: 'release', projectId: this.config.projectId, reservationId: id });
    }
    return released;
  }

  async startRun(req: T.StartRunRequest): Promise<T.RunInfo> {
    const body: { budgetCapUsd?: number | null; label?: string; parentRunId?: string; alertAt?: readonly number[] } = {};
    if (req.budgetCapUsd !== undefined) body.budgetCapUsd = req.budgetCapUsd;
    if (req.alertAt !== undefined) body.alertAt = req.alertAt;
    if (req.label !== undefined) body.label = req.label;
    if (req.parentRunId !== undefined && req.parentRunId !== null) body.parentRunId = req.parentRunId;
    return this.mirrorRun(await this.http.request<R.RunResponse>('POST', '/v1/runs', body));
  }

  async endRun(runId: string): Promise<T.EndedRun> {
    // The run's leases end first: their free room returns, and no leased approval follows the end.
    await this.runLeasesI?.endRun(runId);
    const r = await this.http.request<OlderEndRun>('POST', `/v1/runs/${encodeURIComponent(runId)}/end`);
    // A server older than this client answers without the run: read it (the mirror and the caller want it).
    const run = r.run ?? (await this.getRun(runId).catch(() => null));
    if (r.run) this.mirrorRun(r.run);
    return { ...r, run: run ?? endedRunOf(r) };
  }

  /** Ends the run once the server answers again (durably queued; see run-ends.ts). */
  queueEndRun(runId: string): boolean {
    queueRunEnd(this.outboxPath, targetOf(this.config), runId, this.now());
    return true;
  }

  private async deliverRunEnds(): Promise<void> {
    try {
      await this.outbox().flush();
      await deliverRunEnds(this.outboxPath, targetOf(this.config), (id) => this.endRun(id));
    } catch {
      // still unreachable: the next process tries again
    }
  }

  async getRun(runId: string): Promise<T.RunInfo> {
    return this.mirrorRun(await this.http.request<R.RunResponse>('GET', `/v1/runs/${encodeURIComponent(runId)}`));
  }

  async listRuns(status?: RunListStatus, opts: { parentRunId?: string | undefined } = {}): Promise<T.RunInfo[]> {
    const r = await this.http.request<R.RunsResponse>('GET', `/v1/runs${query({ status, parent: opts.parentRunId })}`);
    r.runs.forEach((run) => this.mirrorRun(run));
    return r.runs;
  }

  async setBudget(b: T.SetBudgetRequest): Promise<void> {
    const path =
      b.scope === 'project' ? '/v1/budgets/project'
      : b.scope === 'default_user' ? '/v1/budgets/default-user'
      : b.scope === 'model' ? '/v1/budgets/models'
      : b.scope === 'tag' ? '/v1/budgets/tags'
      : `/v1/budgets/users/${encodeURIComponent(b.userId ?? '')}`;
    const body: { capUsd: number | null; period?: string; model?: string; userId?: string; tag?: string; alertAt?: readonly number[] } = { capUsd: b.capUsd };
    if (b.period !== undefined) body.period = b.period;
    if (b.alertAt !== undefined) body.alertAt = b.alertAt;
    // A model cap names its glob (and user) in the body: a glob is not a path segment.
    if (b.scope === 'model') {
      body.model = b.model ?? '';
      if (b.userId !== undefined) body.userId = b.userId;
    }
    if (b.scope === 'tag') body.tag = b.tag ?? '';
    const r = await this.http.request<R.SetBudgetResponse>('PUT', path, body);
    this.mirror.add({
      kind: 'budget',
      projectId: this.config.projectId,
      scope: r.scope,
      userId: r.userId,
      model: r.model,
      tag: r.tag,
      capNano: r.capUsd === null ? null : usdToNano(r.capUsd),
      period: r.period,
      ts: this.now(),
    });
  }

  async getBudgets(): Promise<T.Budget[]> {
    return (await this.http.request<R.BudgetsResponse>('GET', '/v1/budgets')).budgets;
  }

  async listUsers(): Promise<UserSummary[]> {
    return (await this.http.request<R.UsersResponse>('GET', '/v1/users')).users;
  }

  spend(q: T.SpendQuery): Promise<T.SpendReport> {
    return this.http.request<T.SpendReport>('GET', `/v1/spend${query({ by: q.by, runId: q.runId, since: q.since, until: q.until })}`);
  }

  async events(after: number, limit?: number, q: T.EventQuery = {}): Promise<T.LedgerEvent[]> {
    return (await this.http.request<R.EventsResponse>('GET', `/v1/events${query({ after, limit, since: q.since, until: q.until, kind: q.kind })}`)).events;
  }

  async alerts(q: T.AlertQuery = {}): Promise<T.Alert[]> {
    return (await this.http.request<R.AlertsResponse>('GET', `/v1/alerts${query({ runId: q.runId, after: q.afterSeq, limit: q.limit })}`)).alerts;
  }

  price(model: string): Promise<T.PriceInfo> {
    return this.http.request<R.PriceResponse>('GET', `/v1/prices/${encodeURIComponent(model)}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.endsP;
    // Leases end while the server can still be told (their free room returns at once).
    await this.runLeasesI?.close();
    this.closed = true;
    try {
      await this.outboxI?.close();
    } finally {
      this.mirror.close();
      await Promise.all([this.fallback.close(), this.http.close()]);
    }
  }
}
