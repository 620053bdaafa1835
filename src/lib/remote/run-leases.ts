import type { FallbackPricing } from '../authority/fallback-pricing.js';
import { decisionOf } from '../ledger/decision.js';
import { LeaseManager } from '../ledger/leases/manager.js';
import { withLeaseRoom } from '../ledger/leases/room.js';
import type { StoreCheck } from '../ledger/store.js';
import type * as T from '../types.js';
import type { NormalizedCheck } from '../validate.js';
import type { HttpClient } from './http-client.js';
import { HttpLeasePort } from './http-lease-port.js';

/**
 * A remote `noburn run`'s own run, decided in memory from budget leases of its room
 * (docs/run.md, "Budget leases"; docs/api.md, "Budget leases"). Only the
 * runs this process owns (started and will end); each call is priced locally (the
 * authority's fallback pricing), and a leased approval's reservation id names its lease,
 * so its record settles it on the server exactly once, through the outbox as any record.
 */
export class RunLeases {
  readonly port: HttpLeasePort;
  readonly manager: LeaseManager;

  constructor(
    http: HttpClient,
    private readonly pricing: FallbackPricing,
    private readonly projectId: string,
    private readonly holdTtlMs: number,
    private readonly now: () => number,
  ) {
    this.port = new HttpLeasePort(http);
    this.manager = new LeaseManager(this.port, now, { runs: 'owned' });
  }

  ownRun(runId: string): void {
    this.manager.ownRun(runId);
  }

  /** A decision from a lease of the check's run, or null: ask the server (/v1/check). */
  async decide(c: NormalizedCheck): Promise<T.Decision | null> {
    if (c.runId === null) return null;
    const est = await this.pricing.estimate(c);
    if (est.unpriced || est.nano <= 0 || !est.prices) return null;
    const sc: StoreCheck = {
      projectId: this.projectId, userId: c.userId, runId: c.runId, model: c.model, estimateNano: est.nano, tokensIn: est.tokensIn,
      tokensOut: c.tokensOut, unpriced: false, now: this.now(), holdTtlMs: this.holdTtlMs, prices: est.prices, clamp: c.clamp === true,
      minTokensOut: c.minTokensOut ?? undefined, provider: c.provider ?? null, tokensInRaw: c.tokensInSource === 'tokenizer' ? c.tokensIn : null, tags: c.tags ?? [],
    };
    const d = await this.manager.decide(sc);
    if (!d) return null;
    const inputNano = Math.round((est.prices.inNanoPerMTok * est.tokensIn) / 1e6);
    const out = decisionOf(withLeaseRoom(d), { estimate: est.nano, tokensIn: est.tokensIn, tokensOut: c.tokensOut, unpriced: false, minTokensOut: c.minTokensOut ?? 256, clamp: c.clamp === true, inputNano });
    return { ...out, source: 'server' };
  }

  /** Ends the run's leases (before the run ends on the server); its checks go to the server from now on. */
  endRun(runId: string): Promise<void> {
    return this.manager.endRun(runId);
  }

  close(): Promise<void> {
    return this.manager.close();
  }
}
