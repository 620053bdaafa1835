import { MAX_TOKENS } from '../validate.js';
import type { StoreLimit } from './store.js';

/**
 * The clamp arithmetic, shared by the SQLite decision (run inside its transaction) and
 * mirrored in PL/pgSQL (postgres/functions.ts). Everything is exact integer arithmetic:
 * a hold is ceil((tokensIn * inPrice + tokensOut * outPrice) / 1e6) nano-dollars (the
 * same rounding as costNano), so with `room` integer nano-dollars
 *   hold <= room  <=>  tokensIn * inPrice + tokensOut * outPrice <= room * 1e6
 * and the largest output that fits is floor((room * 1e6 - tokensIn * inPrice) / outPrice).
 * Rounding therefore never lets a clamped hold exceed the room.
 */
const MILLION = 1_000_000n;

export interface PlainPrices {
  inNanoPerMTok: number;
  outNanoPerMTok: number;
}

/** The hold for tokensIn/tokensOut at plain prices (equals costNano without cache tokens). */
export function holdNano(p: PlainPrices, tokensIn: number, tokensOut: number): number {
  const sum = BigInt(tokensIn) * BigInt(p.inNanoPerMTok) + BigInt(tokensOut) * BigInt(p.outNanoPerMTok);
  return Number((sum + MILLION - 1n) / MILLION);
}

/** Largest output bound whose hold fits `roomNano` with this input (0 when even the input does not fit). */
export function maxOutputFor(p: PlainPrices, tokensIn: number, roomNano: number): number {
  if (roomNano <= 0) return 0;
  const left = BigInt(roomNano) * MILLION - BigInt(tokensIn) * BigInt(p.inNanoPerMTok);
  if (left < 0n) return 0;
  if (p.outNanoPerMTok === 0) return MAX_TOKENS;
  const n = left / BigInt(p.outNanoPerMTok);
  return n > BigInt(MAX_TOKENS) ? MAX_TOKENS : Number(n);
}

/** The cap with the least room among those that apply (first one on ties: project, user, run). */
export function tightest(caps: readonly StoreLimit[]): StoreLimit | null {
  let best: StoreLimit | null = null;
  for (const c of caps) {
    if (best === null || c.capNano - c.spentNano - c.heldNano < best.capNano - best.spentNano - best.heldNano) best = c;
  }
  return best;
}

export interface OutputChoice {
  /** Output tokens to hold (the requested bound, or the clamped one). */
  tokensOut: number;
  clamped: boolean;
  /** The amount to hold (or that was evaluated, when it does not fit). */
  estimateNano: number;
  maxTokensOut: number | null;
}

/**
 * Picks the output bound: the requested one when it fits (or when not clamping), else the
 * largest that fits if it is at least the floor (min(minTokensOut, requested)). A result
 * that does not fit is then refused by the caller's cap checks, exactly as without clamp.
 */
export function chooseOutput(
  p: PlainPrices | null,
  tokensIn: number,
  requestedOut: number,
  estimateNano: number,
  limit: StoreLimit | null,
  clamp: boolean,
  minTokensOut: number,
): OutputChoice {
  if (p === null || limit === null) return { tokensOut: requestedOut, clamped: false, estimateNano, maxTokensOut: null };
  const room = limit.capNano - limit.spentNano - limit.heldNano;
  const maxOut = maxOutputFor(p, tokensIn, room);
  if (!clamp || requestedOut <= maxOut) return { tokensOut: requestedOut, clamped: false, estimateNano, maxTokensOut: maxOut };
  const floor = Math.min(minTokensOut, requestedOut);
  if (maxOut < floor || holdNano(p, tokensIn, maxOut) > room) return { tokensOut: requestedOut, clamped: false, estimateNano, maxTokensOut: maxOut };
  return { tokensOut: maxOut, clamped: true, estimateNano: holdNano(p, tokensIn, maxOut), maxTokensOut: maxOut };
}
