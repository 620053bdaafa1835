/**
 * Prices a check locally for the fallback decision, when the authority cannot be reached:
 * config overrides, else the price cache of the local ledger file (the mirror in remote
 * mode), else the price data (loaded only now). One per authority (and one in memory for
 * a guard whose authority could not even be opened), so each model is looked up once;
 * its file is opened on first use and closed with its owner.
 */
import type { NoburnConfig } from '../config.js';
import { marginFor, scaledTokensIn } from '../ledger/calibration.js';
import type { PlainPrices } from '../ledger/clamp.js';
import { SqliteStore } from '../ledger/sqlite/sqlite-store.js';
import { costNano } from '../pricing/cost.js';
import { Pricer } from '../pricing/pricer.js';
import type { CachedPrice, PriceCache } from '../pricing/price-cache.js';
import type { NormalizedCheck } from '../validate.js';

export interface FallbackEstimate {
  nano: number;
  unpriced: boolean;
  /** Input tokens to hold (a local tokenizer count scaled by the configured margin). */
  tokensIn: number;
  prices: PlainPrices | null;
}

/** Token counts of records made without a USD cost. */
export interface RecordTokens {
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
}

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

export class FallbackPricing {
  private pricerI: Pricer | null = null;
  private cache: PriceCache | null = null;
  private store: SqliteStore | null = null;

  /** `file`: cache prices in the ledger file at config.dbPath (false: in memory only). */
  constructor(
    private readonly config: NoburnConfig,
    private readonly file = true,
  ) {}

  private pricer(): Pricer {
    if (!this.pricerI) {
      let cache: PriceCache = memoryCache();
      if (this.file) {
        try {
          this.store = new SqliteStore(this.config.dbPath, { busyTimeoutMs: 200 });
          cache = this.store;
        } catch {
          // The ledger file is what failed (embedded mode): keep looked-up prices in memory.
        }
      }
      this.cache = cache;
      this.pricerI = new Pricer(this.config, cache);
    }
    return this.pricerI;
  }

  async estimate(c: NormalizedCheck): Promise<FallbackEstimate> {
    const price = await this.pricer().resolve(c.model, c.provider);
    // No ledger to learn from here: the configured (or built-in) margin alone.
    const tokensIn = c.tokensInSource === 'tokenizer' ? scaledTokensIn(c.tokensIn, marginFor(this.config.inputMargin, c.provider ?? null, c.model)) : c.tokensIn;
    if (price.source === 'unknown') return { nano: 0, unpriced: true, tokensIn, prices: null };
    return {
      nano: costNano(price, { tokensIn, tokensOut: c.tokensOut }),
      unpriced: false,
      tokensIn,
      prices: { inNanoPerMTok: price.inputNanoPerMTok, outNanoPerMTok: price.outputNanoPerMTok },
    };
  }

  /**
   * Opens the price cache and reads `model`'s row now (a long-lived process's warm-up): the
   * first record of a run this guard tracks is priced here, and would otherwise open the
   * ledger file's second connection on the call's path (about 2 ms). Read only: resolving
   * an unknown model would write the cache.
   */
  async warm(model: string): Promise<void> {
    this.pricer();
    await this.cache?.getCachedPrice(model);
  }

  /** The cost of token counts recorded through a guard without a USD cost (for the fallback's local caps). */
  async recordCost(model: string, t: RecordTokens): Promise<number> {
    const price = await this.pricer().resolve(model);
    return price.source === 'unknown' ? 0 : costNano(price, t);
  }

  async close(): Promise<void> {
    const s = this.store;
    this.store = null;
    this.pricerI = null;
    this.cache = null;
    await s?.close();
  }
}
