import type { CachedPrice } from '../ledger/store.js';
import { usdToNano } from '../money.js';

/**
 * The version of the bundled price data. Prices looked up once are cached in the ledger
 * (so `noburn check` never loads the price package); the cache is keyed by this string,
 * so upgrading the package re-prices. A test keeps it equal to the installed version.
 */
export const PRICE_DATA_VERSION = '@pydantic/genai-prices@0.1.8';

type PriceValue = number | { base?: number } | undefined;

function perMTok(v: PriceValue): number | null {
  if (typeof v === 'number') return usdToNano(v, 'price');
  // Tiered prices: the base tier, i.e. the price of a normal-length prompt.
  if (v && typeof v === 'object' && typeof v.base === 'number') return usdToNano(v.base, 'price');
  return null;
}

/** Looks a model up in @pydantic/genai-prices (loaded here, lazily, on a cache miss only). */
export async function lookupGenaiPrice(model: string): Promise<CachedPrice> {
  const { calcPrice } = await import('@pydantic/genai-prices');
  const slash = model.indexOf(':');
  const [providerId, modelId] = slash > 0 ? [model.slice(0, slash), model.slice(slash + 1)] : [undefined, model];
  const res = calcPrice({ input_tokens: 1 }, modelId, providerId ? { providerId } : undefined);
  const prices = (res?.model_price ?? null) as Record<string, PriceValue> | null;
  const input = prices ? perMTok(prices['input_mtok']) : null;
  const output = prices ? perMTok(prices['output_mtok']) : null;
  if (!res || !prices || input === null || output === null) {
    return { model, inputNanoPerMTok: 0, outputNanoPerMTok: 0, cacheReadNanoPerMTok: null, cacheWriteNanoPerMTok: null, source: 'unknown', matched: null, dataVersion: PRICE_DATA_VERSION };
  }
  return {
    model,
    inputNanoPerMTok: input,
    outputNanoPerMTok: output,
    cacheReadNanoPerMTok: perMTok(prices['cache_read_mtok']),
    cacheWriteNanoPerMTok: perMTok(prices['cache_write_mtok']),
    source: 'genai-prices',
    matched: `${res.provider.id}:${res.model.id}`,
    dataVersion: PRICE_DATA_VERSION,
  };
}
