import { NoburnValidationError } from '../errors.js';

/** A model's prices in nano-dollars per million tokens (integers, exact). */
export interface NanoPrices {
  inputNanoPerMTok: number;
  outputNanoPerMTok: number;
  cacheReadNanoPerMTok: number | null;
  cacheWriteNanoPerMTok: number | null;
}

export interface TokenCounts {
  /** All input tokens, cached ones included. */
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn?: number;
  cacheWriteTokensIn?: number;
}

/**
 * Cost in nano-dollars, rounded up to the next nano-dollar so that an estimate never
 * comes out below the true price. BigInt keeps tokens x price exact past 2^53.
 * Cached reads/writes use their own price where the model has one, else the input price.
 */
export function costNano(p: NanoPrices, t: TokenCounts): number {
  const cached = t.cachedTokensIn ?? 0;
  const written = t.cacheWriteTokensIn ?? 0;
  if (cached + written > t.tokensIn) {
    throw new NoburnValidationError('cachedTokensIn + cacheWriteTokensIn must not exceed tokensIn (tokensIn counts all input tokens)');
  }
  const plain = t.tokensIn - cached - written;
  const sum =
    BigInt(plain) * BigInt(p.inputNanoPerMTok) +
    BigInt(cached) * BigInt(p.cacheReadNanoPerMTok ?? p.inputNanoPerMTok) +
    BigInt(written) * BigInt(p.cacheWriteNanoPerMTok ?? p.inputNanoPerMTok) +
    BigInt(t.tokensOut) * BigInt(p.outputNanoPerMTok);
  const million = 1_000_000n;
  return Number((sum + million - 1n) / million);
}
