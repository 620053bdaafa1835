import type { ModelPriceOverride, NoburnConfig } from '../config.js';
import { nanoToUsd, usdToNano } from '../money.js';
import type { PriceInfo } from '../types.js';
import type { NanoPrices } from './cost.js';
import type { PriceCache } from './price-cache.js';
import { PRICE_DATA_VERSION, lookupGenaiPrice, priceKey } from './price-data.js';

export interface ResolvedPrice extends NanoPrices {
  model: string;
  source: PriceInfo['source'];
  matched: string | null;
}

export type { CachedPrice, PriceCache } from './price-cache.js';

function fromOverride(model: string, o: ModelPriceOverride, source: 'config' | 'fallback'): ResolvedPrice {
  return {
    model,
    inputNanoPerMTok: usdToNano(o.inputPerMTok, 'price'),
    outputNanoPerMTok: usdToNano(o.outputPerMTok, 'price'),
    cacheReadNanoPerMTok: o.cacheReadPerMTok === undefined ? null : usdToNano(o.cacheReadPerMTok, 'price'),
    cacheWriteNanoPerMTok: o.cacheWritePerMTok === undefined ? null : usdToNano(o.cacheWritePerMTok, 'price'),
    source,
    matched: null,
  };
}

/**
 * Resolves the price noburn uses for a model: config override > price data > configured
 * fallback price > unknown. Price-data lookups are cached in memory and in the ledger.
 */
export class Pricer {
  private readonly memo = new Map<string, ResolvedPrice>();

  constructor(
    private readonly config: Pick<NoburnConfig, 'prices' | 'fallbackPrice'>,
    private readonly cache: PriceCache,
  ) {}

  /**
   * The price of `model`; with the provider (the proxy knows it from its upstream) the
   * price data's entry for that provider is preferred, and a config price may be set
   * under `provider:model` or the model alone.
   */
  async resolve(model: string, provider?: string | null): Promise<ResolvedPrice> {
    const key = priceKey(model, provider);
    const hit = this.memo.get(key);
    if (hit) return hit;
    const resolved = await this.lookup(model, provider ?? null, key);
    this.memo.set(key, resolved);
    return resolved;
  }

  private async lookup(model: string, provider: string | null, key: string): Promise<ResolvedPrice> {
    const override = this.config.prices[key] ?? this.config.prices[model];
    if (override) return fromOverride(model, override, 'config');
    let cached = await this.cache.getCachedPrice(key);
    if (!cached || cached.dataVersion !== PRICE_DATA_VERSION) {
      cached = await lookupGenaiPrice(model, provider);
      await this.cache.putCachedPrice(cached);
    }
    if (cached.source === 'genai-prices') {
      return {
        model,
        inputNanoPerMTok: cached.inputNanoPerMTok,
        outputNanoPerMTok: cached.outputNanoPerMTok,
        cacheReadNanoPerMTok: cached.cacheReadNanoPerMTok,
        cacheWriteNanoPerMTok: cached.cacheWriteNanoPerMTok,
        source: 'genai-prices',
        matched: cached.matched,
      };
    }
    if (this.config.fallbackPrice) return fromOverride(model, this.config.fallbackPrice, 'fallback');
    return { model, inputNanoPerMTok: 0, outputNanoPerMTok: 0, cacheReadNanoPerMTok: null, cacheWriteNanoPerMTok: null, source: 'unknown', matched: null };
  }
}

export function priceInfo(p: ResolvedPrice): PriceInfo {
  const usd = (n: number | null) => (n === null ? null : nanoToUsd(n) );
  return {
    model: p.model,
    inputPerMTok: nanoToUsd(p.inputNanoPerMTok),
    outputPerMTok: nanoToUsd(p.outputNanoPerMTok),
    cacheReadPerMTok: usd(p.cacheReadNanoPerMTok),
    cacheWritePerMTok: usd(p.cacheWriteNanoPerMTok),
    source: p.source,
    matched: p.matched,
  };
}
