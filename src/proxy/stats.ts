import type { ModelStats, Usage } from './types.js';

/** Per-model counts of what went through the proxy, for the wrapper's summary. */
export class StatsTable {
  private readonly byModel = new Map<string, ModelStats>();
  /** Calls noburn could not price that --allow-unmetered forwarded. */
  unmeteredForwarded = 0;
  /** Calls noburn could not price, refused (the default). */
  unmeteredRefused = 0;

  private entry(model: string): ModelStats {
    let s = this.byModel.get(model);
    if (!s) {
      s = { model, calls: 0, blockedCalls: 0, tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, cutStreams: 0, overHolds: 0, errors: 0 };
      this.byModel.set(model, s);
    }
    return s;
  }

  blocked(model: string): void {
    this.entry(model).blockedCalls += 1;
  }

  failed(model: string): void {
    this.entry(model).errors += 1;
  }

  /** `cut`: a stream ended at its hold; `overHold`: an answer that reported more output than was held. */
  recorded(model: string, u: Usage, how: { cut: boolean; overHold: boolean } = { cut: false, overHold: false }): void {
    const s = this.entry(model);
    s.calls += 1;
    if (how.cut) s.cutStreams += 1;
    if (how.overHold) s.overHolds += 1;
    s.tokensIn += u.tokensIn;
    s.tokensOut += u.tokensOut;
    s.cachedTokensIn += u.cachedTokensIn;
    s.cacheWriteTokensIn += u.cacheWriteTokensIn;
  }

  list(): ModelStats[] {
    return [...this.byModel.values()].map((s) => ({ ...s }));
  }
}
