import type { CachedPrice } from './store.js';

/** A row of the `prices` cache table, the same in both stores. */
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
