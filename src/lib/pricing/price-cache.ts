/**
 * Where looked-up prices are kept between processes: the `prices` table of the ledger's
 * backend (SQLite file or PostgreSQL), or memory when there is none. Owned by pricing so
 * that the Pricer depends on this seam, not on the ledger store.
 */
export interface CachedPrice {
  model: string;
  /** Nano-dollars per million tokens. */
  inputNanoPerMTok: number;
  outputNanoPerMTok: number;
  cacheReadNanoPerMTok: number | null;
  cacheWriteNanoPerMTok: number | null;
  /** genai-prices: known; unknown: looked up and not found (cached so we do not look again). */
  source: 'genai-prices' | 'unknown';
  matched: string | null;
  dataVersion: string;
}

export interface PriceCache {
  getCachedPrice(model: string): Promise<CachedPrice | null>;
  putCachedPrice(p: CachedPrice): Promise<void>;
}

/** A row of the `prices` cache table, the same in both backends. */
export interface PriceRow {
  model: string;
  input_nano_per_mtok: number;
  output_nano_per_mtok: number;
  cache_read_nano_per_mtok: number | null;
  cache_write_nano_per_mtok: number | null;
  source: string;
  matched: string | null;
  data_version: string;
}

export function cachedPriceOf(r: PriceRow): CachedPrice {
  return {
    model: r.model,
    inputNanoPerMTok: Number(r.input_nano_per_mtok),
    outputNanoPerMTok: Number(r.output_nano_per_mtok),
    cacheReadNanoPerMTok: r.cache_read_nano_per_mtok === null ? null : Number(r.cache_read_nano_per_mtok),
    cacheWriteNanoPerMTok: r.cache_write_nano_per_mtok === null ? null : Number(r.cache_write_nano_per_mtok),
    source: r.source as CachedPrice['source'],
    matched: r.matched,
    dataVersion: r.data_version,
  };
}
