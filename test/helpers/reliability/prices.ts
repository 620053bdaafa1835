/**
 * The models the property tests use. Prices come from config overrides, so each is an
 * exact integer of nano-dollars per million tokens and the reference model can price a
 * call without the price package. `m-odd` has prices that do not divide a million, so
 * the round-up to the next nano-dollar is exercised.
 */
import type { ModelPriceOverride } from '../../../src/lib/config.js';

export interface NanoPrice {
  input: number;
  output: number;
  cacheRead: number | null;
  cacheWrite: number | null;
}

export const PRICED: Readonly<Record<string, NanoPrice>> = {
  'm-a': { input: 2_500_000_000, output: 10_000_000_000, cacheRead: null, cacheWrite: null },
  'm-b': { input: 150_000_000, output: 600_000_000, cacheRead: 75_000_000, cacheWrite: null },
  'm-c': { input: 3_000_000_000, output: 15_000_000_000, cacheRead: 300_000_000, cacheWrite: 3_750_000_000 },
  'm-odd': { input: 1_234_567, output: 7_654_321, cacheRead: 333_333, cacheWrite: null },
};

/** The configured fallbackPrice, when a run of the property test uses one. */
export const FALLBACK: NanoPrice = { input: 5_000_000_000, output: 20_000_000_000, cacheRead: null, cacheWrite: null };

/** A model no price source knows (and no override names). */
export const UNPRICED_MODEL = 'nb-reliability-unpriced-model';

export const MODELS: readonly string[] = [...Object.keys(PRICED), UNPRICED_MODEL];

/** The same prices as config overrides, in USD per million tokens. */
export function priceOverrides(): Record<string, ModelPriceOverride> {
  const out: Record<string, ModelPriceOverride> = {};
  for (const [m, p] of Object.entries(PRICED)) {
    const o: ModelPriceOverride = { inputPerMTok: p.input / 1e9, outputPerMTok: p.output / 1e9 };
    if (p.cacheRead !== null) o.cacheReadPerMTok = p.cacheRead / 1e9;
    if (p.cacheWrite !== null) o.cacheWritePerMTok = p.cacheWrite / 1e9;
    out[m] = o;
  }
  return out;
}

/** contract §3: cost from tokens, in nano-dollars, rounded up so an estimate is never below the price. */
export function modelCost(p: NanoPrice, t: { tokensIn: number; tokensOut: number; cached?: number; cacheWrite?: number }): number {
  const cached = t.cached ?? 0;
  const written = t.cacheWrite ?? 0;
  const sum =
    BigInt(t.tokensIn - cached - written) * BigInt(p.input) +
    BigInt(cached) * BigInt(p.cacheRead ?? p.input) +
    BigInt(written) * BigInt(p.cacheWrite ?? p.input) +
    BigInt(t.tokensOut) * BigInt(p.output);
  const q = sum / 1_000_000n;
  return Number(sum % 1_000_000n === 0n ? q : q + 1n);
}
