import type * as GenaiPrices from '@pydantic/genai-prices';
import type { CachedPrice } from './price-cache.js';
import { usdToNano } from '../money.js';

/** The installed @pydantic/genai-prices; a test keeps it equal to the package's version. */
export const PRICE_PACKAGE_VERSION = '@pydantic/genai-prices@0.1.8';
/**
 * Bumped when the way noburn reads the price data changes (revision 2: input-only prices
 * such as embeddings are known, lookups take the provider), so that entries an older
 * noburn cached as unknown are looked up again.
 */
const LOOKUP_REVISION = 2;

/**
 * The version of the price data as the ledger cache stores it. Prices looked up once are
 * cached in the ledger (so `noburn check` never loads the price package); the cache is keyed
 * by this string, so upgrading the package (or the lookup) re-prices.
 */
export const PRICE_DATA_VERSION = `${PRICE_PACKAGE_VERSION} lookup-${LOOKUP_REVISION}`;

export type PriceValue = number | { base?: number } | undefined;

export function perMTok(v: PriceValue): number | null {
  if (typeof v === 'number') return usdToNano(v, 'price');
  // Tiered prices: the base tier, i.e. the price of a normal-length prompt.
  if (v && typeof v === 'object' && typeof v.base === 'number') return usdToNano(v.base, 'price');
  return null;
}

/**
 * The key a price is cached and configured under: `provider:model` when the provider is
 * known (the proxy knows it from the upstream it forwards to), else the model alone.
 */
export function priceKey(model: string, provider?: string | null): string {
  return provider ? `${provider}:${model}` : model;
}

const FIRST_PARTY = ['openai', 'anthropic', 'google'] as const;

type CalcPrice = typeof GenaiPrices.calcPrice;

function tryCalc(calcPrice: CalcPrice, model: string, providerId: string | undefined): ReturnType<CalcPrice> | null {
  try {
    return calcPrice({ input_tokens: 1 }, model, providerId ? { providerId } : undefined) ?? null;
  } catch {
    // an unknown provider id: not a match
    return null;
  }
}

function unknownPrice(key: string): CachedPrice {
  return { model: key, inputNanoPerMTok: 0, outputNanoPerMTok: 0, cacheReadNanoPerMTok: null, cacheWriteNanoPerMTok: null, source: 'unknown', matched: null, dataVersion: PRICE_DATA_VERSION };
}

/**
 * Looks a model up in @pydantic/genai-prices (loaded here, lazily, on a cache miss only).
 * Tried in order: the given provider with the model; a `provider:` prefix written in the
 * model itself (`groq:llama-3.3-70b-versatile`); the model alone (the price data's own
 * model matching); then, with no provider given, OpenAI's, Anthropic's and Google's
 * catalogues (the matching alone misses OpenAI's embeddings). A price with an input rate
 * and no output rate (embeddings) is known: its output costs nothing.
 */
export async function lookupGenaiPrice(model: string, provider?: string | null): Promise<CachedPrice> {
  const { calcPrice } = await import('@pydantic/genai-prices');
  const key = priceKey(model, provider);
  const tries: Array<[string, string | undefined]> = [];
  if (provider) tries.push([model, provider]);
  const colon = model.indexOf(':');
  if (colon > 0) tries.push([model.slice(colon + 1), model.slice(0, colon)]);
  tries.push([model, undefined]);
  // The price data's matching without a provider skips some first-party models (OpenAI's
  // embeddings among them); the three first-party catalogues are tried last, in this order.
  if (!provider) for (const p of FIRST_PARTY) tries.push([model, p]);
  for (const [modelId, providerId] of tries) {
    const res = tryCalc(calcPrice, modelId, providerId);
    const prices = (res?.model_price ?? null) as Record<string, PriceValue> | null;
    const input = prices ? perMTok(prices['input_mtok']) : null;
    if (!res || !prices || input === null) continue;
    return {
      model: key,
      inputNanoPerMTok: input,
      outputNanoPerMTok: perMTok(prices['output_mtok']) ?? 0,
      cacheReadNanoPerMTok: perMTok(prices['cache_read_mtok']),
      cacheWriteNanoPerMTok: perMTok(prices['cache_write_mtok']),
      source: 'genai-prices',
      matched: `${res.provider.id}:${res.model.id}`,
      dataVersion: PRICE_DATA_VERSION,
    };
  }
  return unknownPrice(key);
}

/**
 * Looks a well-known model up once and keeps nothing (a long-lived process's warm-up): the
 * price data's first lookup runs cold code for 3-4 ms, which the first call of a model with
 * no cached price would otherwise pay. Writes no cache; never throws.
 */
export async function warmPriceData(): Promise<void> {
  await lookupGenaiPrice('gpt-4o-mini').catch(() => undefined);
}

/**
 * The price data's provider for an upstream base URL (api.groq.com -> groq, openrouter.ai
 * -> openrouter...), or null for one it does not know (a local server). Loads the price
 * package: only `noburn run`'s proxy calls it, once per upstream.
 */
export async function providerForUrl(url: string): Promise<string | null> {
  const { findProvider } = await import('@pydantic/genai-prices');
  try {
    return findProvider({ providerApiUrl: url })?.id ?? null;
  } catch {
    return null;
  }
}
