import type { NoburnGuard } from '../../lib/guard.js';
import { usdToNano, nanoToUsd } from '../../lib/money.js';
import { costNano } from '../../lib/pricing/cost.js';
import type { ModelStats } from '../../proxy/index.js';
import type { ModelLine } from './summary.js';

/**
 * Prices what the proxy saw per model, for the summary's "top models". The run's total
 * comes from the ledger; this split uses the same prices and the same cost function.
 */
export async function priceModels(guard: NoburnGuard, stats: readonly ModelStats[]): Promise<ModelLine[]> {
  const lines = await Promise.all(
    stats.map(async (s): Promise<ModelLine> => {
      let spendUsd: number | null = null;
      try {
        const p = await guard.price(s.model);
        if (p.source !== 'unknown') {
          const nano = costNano(
            {
              inputNanoPerMTok: usdToNano(p.inputPerMTok),
              outputNanoPerMTok: usdToNano(p.outputPerMTok),
              cacheReadNanoPerMTok: p.cacheReadPerMTok === null ? null : usdToNano(p.cacheReadPerMTok),
              cacheWriteNanoPerMTok: p.cacheWritePerMTok === null ? null : usdToNano(p.cacheWritePerMTok),
            },
            { tokensIn: s.tokensIn, tokensOut: s.tokensOut, cachedTokensIn: s.cachedTokensIn, cacheWriteTokensIn: s.cacheWriteTokensIn },
          );
          spendUsd = nanoToUsd(nano);
        }
      } catch {
        // a summary line without a price is still useful
      }
      return { model: s.model, calls: s.calls, blockedCalls: s.blockedCalls, tokensIn: s.tokensIn, tokensOut: s.tokensOut, cachedTokensIn: s.cachedTokensIn, spendUsd };
    }),
  );
  return lines.sort((a, b) => (b.spendUsd ?? 0) - (a.spendUsd ?? 0) || b.calls - a.calls);
}
