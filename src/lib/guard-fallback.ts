/**
 * The guard's side of an outage (docs/contract.md, "Outages"): when the authority cannot
 * be reached, checks are decided here against every cap the guard knows (LocalCaps),
 * priced by the authority's fallback pricing; after an outage in which calls were approved
 * here, checks stay here until the authority has every record of them.
 */
import type { FallbackPricing, RecordTokens } from './authority/fallback-pricing.js';
import type { FallbackEstimate } from './authority/fallback-pricing.js';
import type { NoburnConfig } from './config.js';
import { NoburnUnreachableError } from './errors.js';
import { chooseOutput, holdNano, tightest } from './ledger/clamp.js';
import { decisionOf } from './ledger/decision.js';
import type { StoreDecision } from './ledger/store.js';
import { LocalCaps } from './local-caps.js';
import { usdToNano } from './money.js';
import type { Decision, EndRunResult } from './types.js';
import type { NormalizedCheck, NormalizedRecord } from './validate.js';

export class GuardFallback {
  /** Caps this guard knows (fallback cap, runs it started), with its holds: enforced in an outage. */
  readonly caps: LocalCaps;
  /** The last check was decided here (onFallback fires on the way in). */
  private inOutage = false;
  /** After an outage, checks stay here until the authority has every record and no local hold is open. */
  private recoveringI = false;
  private recoveryP: Promise<unknown> | null = null;
  /** Token-only records through this guard, summed per model (bounded memory); priced only when needed. */
  private readonly localTokens = new Map<string, RecordTokens>();

  constructor(
    private readonly config: NoburnConfig,
    private readonly now: () => number,
    /** The pricing of the authority in use (or the guard's own when none could be opened). */
    private readonly pricing: () => FallbackPricing,
    private readonly onFallback: ((cause: unknown) => void) | undefined,
  ) {
    this.caps = new LocalCaps(now, config.holdTtlMs, config.budgetCapUsd === null ? null : usdToNano(config.budgetCapUsd));
  }

  get recovering(): boolean {
    return this.recoveringI;
  }

  /** The authority decided: the outage is over for onFallback, and its figures refresh the caps. */
  serverDecided(runId: string | null, d: Decision): void {
    this.inOutage = false;
    this.caps.noteServerDecision(runId, d);
  }

  /**
   * After an outage in which this side approved calls: the authority does not know those
   * calls until their records are delivered and they are over. Until then checks stay here
   * (so the authority cannot approve past a cap for lack of them). `flush` delivers the
   * records; resolves null when recovered, else the reason it is not.
   */
  recovered(flush: () => Promise<unknown>): Promise<unknown> {
    if (this.caps.localHolds() > 0) return Promise.resolve(new NoburnUnreachableError('calls approved during the outage are still in flight'));
    this.recoveryP ??= flush().then(
      () => {
        this.recoveringI = false;
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
   * Decides locally against every cap this guard knows, holding the estimate of what it
   * approves: the fallback cap (budgetCapUsd) and the cap of a run it started or read.
   * Then onError.
   */
  async decide(c: NormalizedCheck, cause: unknown): Promise<Decision> {
    if (!this.inOutage) {
      this.inOutage = true;
      try {
        this.onFallback?.(cause);
      } catch {
        // a failing listener must not change the decision
      }
    }
    let fe: FallbackEstimate = { nano: 0, unpriced: false, tokensIn: c.tokensIn, prices: null };
    try {
      fe = await this.pricing().estimate(c);
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
    if (d.reservationId !== null) this.recoveringI = true;
    const blockedBy = d.blockReason === 'run_budget_exceeded' ? 'run' : d.blockReason === 'local_budget_exceeded' ? 'project' : null;
    const limit = caps.find((k) => k.scope === blockedBy) ?? tightest(caps);
    const sd: StoreDecision = { ...d, remainingNano: {}, estimateNano: out.estimateNano, tokensOut: out.tokensOut, clamped: out.clamped && !d.blocked, maxTokensOut: out.maxTokensOut, limit };
    return { ...decision(sd), remaining: d.remaining };
  }

  /** Token-only records through this guard, priced now (only when a fallback decision needs them). */
  private async localTokenSpent(): Promise<number> {
    let spent = 0;
    for (const [model, t] of this.localTokens) spent += await this.pricing().recordCost(model, t).catch(() => 0);
    return spent;
  }

  /** A record made through this guard: counted against the caps it knows. */
  noteRecord(r: NormalizedRecord): void {
    const costNano = r.costUsd === null || r.wasBlocked ? null : usdToNano(r.costUsd);
    if (costNano === null && !r.wasBlocked) {
      const t = this.localTokens.get(r.model) ?? { tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
      t.tokensIn += r.tokensIn;
      t.tokensOut += r.tokensOut;
      t.cachedTokensIn += r.cachedTokensIn;
      t.cacheWriteTokensIn += r.cacheWriteTokensIn;
      this.localTokens.set(r.model, t);
    }
    // A run this guard knows is priced now: its cap must hold in an outage that starts any moment.
    const price = costNano === null && this.caps.isTracked(r.runId) ? () => this.pricing().recordCost(r.model, r) : undefined;
    this.caps.settle(r.reservationId, r.runId, r.wasBlocked, costNano, price);
  }

  /** The end result of a run this guard started or read, from its own figures (null for others). */
  endResult(runId: string): EndRunResult | null {
    const view = this.caps.runView(runId);
    if (!view) return null;
    return {
      runId,
      status: view.exhausted ? 'exhausted' : 'completed',
      spendUsd: view.spendUsd,
      budgetCapUsd: view.budgetCapUsd,
      calls: view.calls,
      blockedCalls: view.blockedCalls,
      startedAt: view.startedAt,
      endedAt: new Date(this.now()).toISOString(),
    };
  }
}
