import type { NoburnConfig } from '../config.js';
import { SqliteStore } from '../ledger/sqlite/sqlite-store.js';
import type { CachedPrice } from '../ledger/store.js';
import { marginFor, scaledTokensIn } from '../ledger/calibration.js';
import type { PlainPrices } from '../ledger/clamp.js';
import { costNano } from '../pricing/cost.js';
import { Pricer } from '../pricing/pricer.js';
import type { PriceCache } from '../pricing/pricer.js';
import type { NormalizedCheck } from '../validate.js';

/**
 * Prices a check locally for the fallback decision, when the authority cannot be reached:
 * config overrides, else the price cache of the local ledger file (the mirror), else the
 * price data (loaded only now). Pricers are kept per ledger file, so each model is looked
 * up once per process.
 */
const pricers = new Map<string, Pricer>();

function memoryCache(): PriceCache {
  const m = new Map<string, CachedPrice>();
  return {
    getCachedPrice: (model) => Promise.resolve(m.get(model) ?? null),
    putCachedPrice: (p) => {
      m.set(p.model, p);
      return Promise.resolve();
    },
  };
}

function pricerFor(config: NoburnConfig): Pricer {
  let p = pricers.get(config.dbPath);
  if (!p) {
    let cache: PriceCache;
    try {
      cache = new SqliteStore(config.dbPath, { busyTimeoutMs: 200 });
    } catch {
      // The ledger file is what failed (embedded mode): keep looked-up prices in memory.
      cache = memoryCache();
    }
    p = new Pricer(config, cache);
    pricers.set(config.dbPath, p);
  }
  return p;
}

export interface FallbackEstimate {
  nano: number;
  unpriced: boolean;
  /** Input tokens to hold (a local tokenizer count scaled by the configured margin). */
  tokensIn: number;
  prices: PlainPrices | null;
}

export async function fallbackEstimate(config: NoburnConfig, c: NormalizedCheck): Promise<FallbackEstimate> {
  const price = await pricerFor(config).resolve(c.model, c.provider);
  // No ledger to learn from here: the configured (or built-in) margin alone.
  const tokensIn = c.tokensInSource === 'tokenizer' ? scaledTokensIn(c.tokensIn, marginFor(config.inputMargin, c.provider ?? null, c.model)) : c.tokensIn;
  if (price.source === 'unknown') return { nano: 0, unpriced: true, tokensIn, prices: null };
  return {
    nano: costNano(price, { tokensIn, tokensOut: c.tokensOut }),
    unpriced: false,
    tokensIn,
    prices: { inNanoPerMTok: price.inputNanoPerMTok, outNanoPerMTok: price.outputNanoPerMTok },
  };
}

/** The cost of token counts recorded through a guard without a USD cost (for the fallback's local cap). */
export async function fallbackRecordCost(
  config: NoburnConfig,
  model: string,
  t: { tokensIn: number; tokensOut: number; cachedTokensIn: number; cacheWriteTokensIn: number },
): Promise<number> {
  const price = await pricerFor(config).resolve(model);
  return price.source === 'unknown' ? 0 : costNano(price, t);
}
