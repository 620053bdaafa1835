import type { NoburnConfig } from '../config.js';
import { NoburnStoreError, NoburnValidationError } from '../errors.js';
import { newId } from '../ids.js';
import { nanoToUsd, usdToNano } from '../money.js';
import { parsePeriod } from '../periods.js';
import { parseModelGlob } from '../model-glob.js';
import { parseThresholds } from '../alerts/thresholds.js';
import { parseTag } from '../tags.js';
import { costNano } from '../pricing/cost.js';
import { holdNano } from './clamp.js';
import type { PriceCache } from '../pricing/price-cache.js';
import { Pricer, priceInfo, type ResolvedPrice } from '../pricing/pricer.js';
import { priceKey } from '../pricing/price-data.js';
import { BUDGET_SCOPES, EVENT_KINDS, RUN_STATUSES } from '../types.js';
import type { Alert, AlertQuery, Budget, Decision, EndRunResult, EndedRun, EventQuery, LedgerEvent, PriceInfo, RecordResult, RunInfo, SetBudgetRequest, SpendQuery, SpendReport, StartRunRequest, UserSummary } from '../types.js';
import { MAX_TOKENS, idString } from '../validate.js';
import type { NormalizedCheck, NormalizedRecord } from '../validate.js';
import { KeyedGroupCommit, commitInOrder } from './group-commit.js';
import type { OpOutcome } from './group-commit.js';
import { inputFactor, marginFor, scaledTokensIn } from './calibration.js';
import { decisionOf, type CheckContext } from './decision.js';
import { DEFAULT_RUN_IDLE_TTL_MS } from './runs.js';
import { LeaseManager } from './leases/manager.js';
import { rehearseLeaseDecisions, withLeaseRoom } from './leases/room.js';
import type { LeaseGrant, RunLeasePort } from './leases/port.js';
import type { LedgerStore, RunListStatus, StoreCheck, StoreDecision, StoreOp, StoreRecord } from './store.js';
import { oneOf, parseDate, spendGroup } from './query-params.js';
import { alertOf, budgetOf, endRunResult, eventOf, runInfo, spendReportOf, userSummaryOf } from './views.js';

export { endRunResult } from './views.js';

export type LedgerSettings = Pick<NoburnConfig, 'prices' | 'fallbackPrice' | 'unknownModel' | 'holdTtlMs'> &
  Partial<Pick<NoburnConfig, 'minTokensOut' | 'inputMargin' | 'runIdleTtlMs'>>;

/** How long a learnt calibration is reused before it is read again (it moves slowly). */
const CALIBRATION_TTL_MS = 10_000;

/** The price a rehearsal is decided at ($1 per million tokens each way): any real price takes the same path. */
const REHEARSAL_PRICE: ResolvedPrice = { model: 'noburn-rehearsal', inputNanoPerMTok: 1_000_000_000, outputNanoPerMTok: 1_000_000_000, cacheReadNanoPerMTok: null, cacheWriteNanoPerMTok: null, source: 'config', matched: null };

/** REHEARSAL_PRICE as a configured price, and a price cache a rehearsal's own pricer never needs. */
const REHEARSAL_USD = { inputPerMTok: 1, outputPerMTok: 1 };
const NO_PRICE_CACHE: PriceCache = { getCachedPrice: () => Promise.resolve(null), putCachedPrice: () => Promise.resolve() };

/** What one settled record was charged. */
export interface RecordedItem {
  idempotencyKey: string;
  costUsd: number;
  unpriced: boolean;
}

export interface LedgerOptions {
  now?: () => number;
  /** Batch the checks and records of a project that arrive together into one transaction (serve). */
  groupCommit?: boolean;
  /**
   * Decide most checks in memory from budget leases when the store offers them (PostgreSQL
   * with leases=on). Only for long-lived processes (serve), which end their leases on close.
   */
  leases?: boolean;
}

/** The key of a run lease: the run and the call's user, model, provider and sorted tags. */
export interface RunLeaseKey {
  runId: string;
  userId: string | null;
  model: string;
  provider: string | null;
  tags: string[];
}

/**
 * The authority's logic over a store: pricing, the unknown-model rule, USD <-> nano at the
 * edge. The embedded guard and `noburn serve` both decide through this class.
 */
export class Ledger {
  readonly pricer: Pricer;
  private readonly now: () => number;
  private readonly batcher: KeyedGroupCommit<StoreOp, OpOutcome> | null;
  /** The input factor per provider and model, with when its learnt ratio was read. */
  private readonly calibrations = new Map<string, { at: number; factor: number }>();
  /** The budget leases of this ledger (null: every check is decided by the store). */
  readonly leases: LeaseManager | null;

  /** `store` is also the price cache: one backend holds both (LedgerBackend). */
  constructor(
    readonly store: LedgerStore & PriceCache,
    private readonly settings: LedgerSettings,
    opts: LedgerOptions = {},
  ) {
    this.pricer = new Pricer(settings, store);
    this.now = opts.now ?? Date.now;
    this.batcher = opts.groupCommit ? new KeyedGroupCommit((ops) => (store.commit ? store.commit(ops) : commitInOrder(store, ops))) : null;
    this.leases = opts.leases && store.leasePort ? new LeaseManager(store.leasePort, this.now) : null;
  }

  /** The input factor for a local tokenizer count (margin x learnt ratio), cached per provider and model. */
  private async factor(provider: string | null, model: string): Promise<number> {
    const key = `${provider ?? ''}\u0000${model}`;
    const now = this.now();
    let hit = this.calibrations.get(key);
    if (!hit || now - hit.at > CALIBRATION_TTL_MS) {
      // The margin is fixed per provider and model: computed with the ratio, not per check.
      hit = { at: now, factor: inputFactor(marginFor(this.settings.inputMargin, provider, model), await this.store.getCalibration(provider ?? '', model)) };
      this.calibrations.set(key, hit);
    }
    return hit.factor;
  }

  async check(projectId: string, c: NormalizedCheck): Promise<Decision> {
    const { sc, context } = await this.storeCheckOf(projectId, c, await this.pricer.resolve(c.model, c.provider));
    const leased = this.leases ? await this.leases.decide(sc) : null;
    const d = leased ?? (this.batcher ? decisionFrom(await this.batcher.submit(projectId, { kind: 'check', check: sc })) : await this.store.check(sc));
    return decisionOf(d, context);
  }

  /**
   * A check of a run this process owns, decided in memory by `runs` (a lease manager of
   * owned runs: noburn run's proxy) with the same estimate check() holds; null: decide it in
   * the store. The room left counts the lease's unapproved part as the run's own.
   */
  async checkOwnedRun(projectId: string, c: NormalizedCheck, runs: LeaseManager): Promise<Decision | null> {
    const { sc, context } = await this.storeCheckOf(projectId, c, await this.pricer.resolve(c.model, c.provider));
    const d = await runs.decide(sc);
    return d ? decisionOf(withLeaseRoom(d), context) : null;
  }

  /**
   * Settles records, then decides `cs` in order, in one store transaction when the store
   * can (noburn run's proxy: the previous calls' records ride on these checks' commit); the
   * same result as record() then check() for each. In one transaction, a failure writes
   * nothing; otherwise records already written are recognised by their idempotency keys on a retry.
   */
  async recordThenCheck(projectId: string, rs: readonly NormalizedRecord[], calledAt: readonly (number | null)[], cs: readonly NormalizedCheck[]): Promise<Decision[]> {
    if (!this.store.recordThenCheck || this.batcher || this.leases) {
      if (rs.length > 0) await this.record(projectId, rs, calledAt);
      const out: Decision[] = [];
      for (const c of cs) out.push(await this.check(projectId, c));
      return out;
    }
    const now = this.now();
    const rows = await Promise.all(rs.map((r, i) => this.toStoreRecord(projectId, r, now, calledAt[i] ?? null)));
    const checks = await Promise.all(cs.map(async (c) => this.storeCheckOf(projectId, c, await this.pricer.resolve(c.model, c.provider))));
    const ds = await this.store.recordThenCheck(rows, checks.map((k) => k.sc));
    return ds.map((d, i) => decisionOf(d, (checks[i] as (typeof checks)[number]).context));
  }

  /**
   * Decides a check from a budget lease with no store call (serve while PostgreSQL is
   * unreachable): only a check of a key this ledger holds a live lease for, within the
   * lease's W, priced as that key's last check (exact token counts only). Null otherwise.
   */
  decideOffline(projectId: string, c: NormalizedCheck): Decision | null {
    const leases = this.leases;
    if (!leases || c.tokensInSource === 'tokenizer') return null;
    const key = { projectId, userId: c.userId, model: c.model, tags: c.tags ?? [], provider: c.provider ?? null };
    const prices = leases.pricesOf(key);
    if (!prices) return null;
    const estimate = holdNano(prices, c.tokensIn, c.tokensOut);
    const clamp = c.clamp === true;
    const minTokensOut = Math.floor(c.minTokensOut ?? this.settings.minTokensOut ?? 256);
    const d = leases.decideOffline({
      ...key, runId: c.runId, estimateNano: estimate, tokensIn: c.tokensIn, tokensOut: c.tokensOut, unpriced: false,
      now: this.now(), holdTtlMs: this.settings.holdTtlMs, prices, clamp, minTokensOut, tokensInRaw: null,
    });
    return d ? decisionOf(d, { estimate, tokensIn: c.tokensIn, tokensOut: c.tokensOut, unpriced: false, minTokensOut, clamp, inputNano: holdNano(prices, c.tokensIn, 0) }) : null;
  }

  /**
   * serve's /v1/leases grant for a remote run's key (docs/api.md, "Budget leases"): a slice
   * of the caps' room, dated by this ledger's clock. Null: refused (too close to a cap, or
   * the store has no run leases). Throws NoburnNotFoundError / NoburnConflictError for an unknown / ended run.
   */
  async grantRunLease(projectId: string, key: RunLeaseKey, want: number, min: number, w0: number, holder: string): Promise<LeaseGrant | null> {
    const port = this.store.runLeases;
    if (!port) return null;
    const check: StoreCheck = {
      projectId, userId: key.userId, runId: key.runId, model: key.model, estimateNano: min, tokensIn: 0, tokensOut: 0, unpriced: false,
      now: this.now(), holdTtlMs: this.settings.holdTtlMs, runIdleTtlMs: this.idleTtl, provider: key.provider, tags: key.tags,
    };
    return port.grant({ check, want, min, w0 }, holder);
  }

  /** The run lease port (null: none), for raises and ends of the caller's leases. */
  get runLeasePort(): RunLeasePort | null {
    return this.store.runLeases ?? null;
  }

  /** What the store decides for `c` at `price`, and what the decision is read with (check and rehearse share it). */
  private async storeCheckOf(projectId: string, c: NormalizedCheck, price: ResolvedPrice): Promise<{ sc: StoreCheck; context: CheckContext }> {
    const unpriced = price.source === 'unknown';
    const allowUnpriced = unpriced && this.settings.unknownModel === 'allow';
    const provider = c.provider ?? null;
    const scaled = c.tokensInSource === 'tokenizer';
    const tokensIn = scaled ? Math.min(MAX_TOKENS, scaledTokensIn(c.tokensIn, await this.factor(provider, c.model))) : c.tokensIn;
    const estimate = unpriced ? 0 : costNano(price, { tokensIn, tokensOut: c.tokensOut });
    const clamp = c.clamp === true;
    const minTokensOut = Math.floor(c.minTokensOut ?? this.settings.minTokensOut ?? 256);
    const sc: StoreCheck = {
      projectId,
      userId: c.userId,
      runId: c.runId,
      model: c.model,
      estimateNano: estimate,
      tokensIn,
      tokensOut: c.tokensOut,
      unpriced,
      forceBlock: unpriced && !allowUnpriced ? 'unknown_model_price' : undefined,
      now: this.now(),
      holdTtlMs: this.settings.holdTtlMs,
      runIdleTtlMs: this.idleTtl,
      prices: unpriced ? null : { inNanoPerMTok: price.inputNanoPerMTok, outNanoPerMTok: price.outputNanoPerMTok },
      clamp,
      minTokensOut,
      provider,
      tokensInRaw: scaled ? c.tokensIn : null,
      tags: c.tags ?? [],
    };
    return { sc, context: { estimate, tokensIn, tokensOut: c.tokensOut, unpriced, minTokensOut, clamp, inputNano: unpriced ? 0 : costNano(price, { tokensIn, tokensOut: 0 }) } };
  }

  /**
   * Rehearses the check `c` and its record: the same path as check() (calibration, the
   * store's decision, the decision's figures) with the store's transaction rolled back, so
   * nothing changes and a long-lived process's first call finds the path compiled and its
   * statements warm. The price is a fixed one, not resolved: resolving an unknown model
   * would write the price cache. Its cache row is read (read-only), as check() would.
   */
  async rehearse(projectId: string, c: NormalizedCheck, leased = false): Promise<void> {
    if (!this.store.rehearse) return;
    await this.store.getCachedPrice(priceKey(c.model, c.provider));
    // The pricer's path for a configured price, on a pricer of its own (this one's memo and cache untouched).
    await new Pricer({ prices: { [c.model]: REHEARSAL_USD }, fallbackPrice: null }, NO_PRICE_CACHE).resolve(c.model, c.provider);
    const { sc, context } = await this.storeCheckOf(projectId, c, REHEARSAL_PRICE);
    decisionOf(await this.store.rehearse(sc, leased), context);
    // The owned run's leased path (checkOwnedRun), on a manager of the rehearsal's own.
    if (leased) for (const d of await rehearseLeaseDecisions(sc)) decisionOf(d, context);
  }

  /** How long an open run may stay idle before it ends as abandoned (config runIdleTtlMs). */
  get idleTtl(): number {
    return this.settings.runIdleTtlMs ?? DEFAULT_RUN_IDLE_TTL_MS;
  }

  /**
   * A record as the store settles it. `ts` is when the authority settles it (its own clock:
   * the windows the cost counts in); `calledAt` is the client's time of the call, kept as data.
   */
  private async toStoreRecord(projectId: string, r: NormalizedRecord, ts: number, calledAt: number | null = null): Promise<StoreRecord> {
    let cost = 0;
    let unpriced = false;
    if (r.costUsd !== null) {
      cost = usdToNano(r.costUsd, 'costUsd');
    } else if (!r.wasBlocked) {
      const price = await this.pricer.resolve(r.model, r.provider);
      unpriced = price.source === 'unknown';
      if (!unpriced) cost = costNano(price, r);
    }
    return {
      projectId,
      userId: r.userId,
      runId: r.runId,
      model: r.model,
      tokensIn: r.tokensIn,
      tokensOut: r.tokensOut,
      cachedTokensIn: r.cachedTokensIn,
      cacheWriteTokensIn: r.cacheWriteTokensIn,
      costNano: cost,
      unpriced,
      wasBlocked: r.wasBlocked,
      reservationId: r.reservationId,
      idempotencyKey: r.idempotencyKey,
      ts,
      calledAt,
      tags: r.tags ?? [],
    };
  }

  /**
   * Settles records. Spend is dated by this ledger's clock when it settles them (so a late
   * or back-dated record can never move spend out of the current window); `calledAt[i]`, the
   * client's time of the call, is kept as data.
   */
  async record(projectId: string, rs: readonly NormalizedRecord[], calledAt?: readonly (number | null)[]): Promise<RecordResult> {
    const { accepted, duplicates } = await this.recordPriced(projectId, rs, calledAt);
    return { accepted, duplicates };
  }

  /** As record(), with what each record was charged (serve answers it per item). */
  async recordPriced(projectId: string, rs: readonly NormalizedRecord[], calledAt?: readonly (number | null)[]): Promise<RecordResult & { items: RecordedItem[] }> {
    const now = this.now();
    const rows = await Promise.all(rs.map((r, i) => this.toStoreRecord(projectId, r, now, calledAt?.[i] ?? null)));
    const res = await this.settle(projectId, rows);
    const items = rows.map((r) => ({ idempotencyKey: r.idempotencyKey, costUsd: nanoToUsd(r.wasBlocked ? 0 : r.costNano), unpriced: r.unpriced }));
    return { accepted: res.accepted, duplicates: res.duplicates, items };
  }

  /** Through the project's group commit when there is one (serve), else one store call. */
  private async settle(projectId: string, rows: readonly StoreRecord[]): Promise<RecordResult> {
    if (!this.batcher || rows.length === 0) return this.store.record(rows);
    const out = await this.batcher.submit(projectId, { kind: 'record', records: rows });
    if (out.kind === 'error') throw out.error;
    if (out.kind !== 'record') throw new NoburnStoreError('group commit: a record op got a check result');
    return out.result;
  }

  /** Frees holds without counting a call (the call was not made, or failed before costing anything). */
  release(projectId: string, reservationIds: readonly string[]): Promise<number> {
    const ids = reservationIds.map((id) => idString(id, 'reservationId'));
    return this.store.release(projectId, ids, this.now());
  }

  async startRun(projectId: string, req: StartRunRequest): Promise<RunInfo> {
    const cap = req.budgetCapUsd === undefined || req.budgetCapUsd === null ? null : usdToNano(req.budgetCapUsd, 'budgetCapUsd');
    const label = req.label === undefined ? null : idString(req.label, 'label');
    const parentRunId = req.parentRunId === undefined || req.parentRunId === null ? null : idString(req.parentRunId, 'parentRunId');
    const alertAt = req.alertAt === undefined ? undefined : parseThresholds(req.alertAt);
    if (alertAt !== undefined && alertAt.length > 0 && cap === null) throw new NoburnValidationError('alertAt needs a run cap (budgetCapUsd)');
    return runInfo(await this.store.startRun({ projectId, runId: newId('run'), capNano: cap, label, parentRunId, alertAt, now: this.now(), runIdleTtlMs: this.idleTtl }));
  }

  async endRun(projectId: string, runId: string): Promise<EndRunResult> {
    return endRunResult(runInfo(await this.store.endRun(projectId, idString(runId, 'runId'), this.now(), this.idleTtl)));
  }

  /** endRun, with the whole run as it now stands (one write, no second read). */
  async endRunFull(projectId: string, runId: string): Promise<EndedRun> {
    const run = runInfo(await this.store.endRun(projectId, idString(runId, 'runId'), this.now(), this.idleTtl));
    return { ...endRunResult(run), run };
  }

  async getRun(projectId: string, runId: string): Promise<RunInfo> {
    return runInfo(await this.store.getRun(projectId, idString(runId, 'runId'), this.now(), this.idleTtl));
  }

  async listRuns(projectId: string, status?: RunListStatus, limit?: number, parentRunId?: string): Promise<RunInfo[]> {
    if (status !== undefined) oneOf(RUN_STATUSES, status, 'status');
    const parent = parentRunId === undefined ? undefined : idString(parentRunId, 'parentRunId');
    return (await this.store.listRuns(projectId, { status, limit, parentRunId: parent, now: this.now(), runIdleTtlMs: this.idleTtl })).map(runInfo);
  }

  async setBudget(projectId: string, b: SetBudgetRequest): Promise<void> {
    const scope = oneOf(BUDGET_SCOPES, b.scope, 'scope');
    const model = scope === 'model' ? parseModelGlob(b.model, 'model') : null;
    const tag = scope === 'tag' ? parseTag(b.tag, 'tag') : null;
    const userId = scope === 'user' || (scope === 'model' && b.userId !== undefined) ? idString(b.userId, 'userId') : null;
    const capNano = b.capUsd === null ? null : usdToNano(b.capUsd, 'capUsd');
    const period = parsePeriod(b.period ?? 'month');
    const alertAt = b.alertAt === undefined ? undefined : parseThresholds(b.alertAt);
    await this.store.setBudget({ projectId, scope, userId, model, tag, capNano, period, alertAt, now: this.now() });
  }

  async getBudgets(projectId: string): Promise<Budget[]> {
    return (await this.store.getBudgets(projectId, this.now())).map(budgetOf);
  }

  async listUsers(projectId: string, limit?: number): Promise<UserSummary[]> {
    return (await this.store.listUsers(projectId, { now: this.now(), limit })).map(userSummaryOf);
  }

  /** Spend in a window (since inclusive, until exclusive), optionally of one run and grouped. */
  async spend(projectId: string, q: SpendQuery): Promise<SpendReport> {
    const by = q.by === undefined ? null : spendGroup(q.by);
    const runId = q.runId === undefined ? null : idString(q.runId, 'runId');
    const sq = { projectId, by, runId, sinceMs: parseDate(q.since, 'since'), untilMs: parseDate(q.until, 'until') };
    return spendReportOf(sq, await this.store.spend(sq));
  }

  /** The feed after a cursor, oldest first; `q` keeps a time window (since inclusive, until exclusive) and/or one kind. */
  async events(projectId: string | null, after: number, limit = 1000, q: EventQuery = {}): Promise<LedgerEvent[]> {
    const filter = { sinceMs: parseDate(q.since, 'since'), untilMs: parseDate(q.until, 'until'), kind: q.kind === undefined ? null : oneOf(EVENT_KINDS, q.kind, 'kind') };
    return (await this.store.events(projectId, after, limit, filter)).map(eventOf);
  }

  /** Fired alerts, oldest first (projectId null: every project). */
  async alerts(projectId: string | null, q: AlertQuery = {}): Promise<Alert[]> {
    const runId = q.runId === undefined ? undefined : idString(q.runId, 'runId');
    return (await this.store.alerts({ projectId, runId, afterSeq: q.afterSeq, limit: q.limit })).map(alertOf);
  }

  async price(model: string): Promise<PriceInfo> {
    return priceInfo(await this.pricer.resolve(idString(model, 'model')));
  }

  /** Ends this ledger's budget leases (their free room returns to the pool); the store stays open. */
  async closeLeases(): Promise<void> {
    await this.leases?.close();
  }

  async close(): Promise<void> {
    await this.closeLeases();
    return this.store.close();
  }
}

function decisionFrom(out: OpOutcome): StoreDecision {
  if (out.kind === 'error') throw out.error;
  if (out.kind !== 'check') throw new NoburnStoreError('group commit: a check op got a record result');
  return out.decision;
}
