import { NoburnValidationError } from './errors.js';
import { normalizeTags } from './tags.js';
import type { CheckRequest, RecordRequest } from './types.js';

/**
 * Argument checks shared by the guard, the ledger and the server: one set of rules, so a
 * bad value gets the same message wherever it enters.
 */
export const MAX_TOKENS = 100_000_000;
export const MAX_ID = 256;

/**
 * True when every character of an id is printable: no ASCII control characters (ids end
 * up in logs and terminals) and no lone UTF-16 surrogate (JSON allows "\ud800"; it would be
 * stored as invalid UTF-8 by SQLite or U+FFFD by pg, so the id read back would differ and
 * distinct ids could collide). Shared by the library, the CLI and the HTTP schemas.
 */
export function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 127) return false;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

export function tokenCount(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TOKENS) {
    throw new NoburnValidationError(`${name} must be a whole number from 0 to ${MAX_TOKENS} (got ${JSON.stringify(v)})`);
  }
  return v;
}

export function optionalTokenCount(v: unknown, name: string): number {
  return v === undefined || v === null ? 0 : tokenCount(v, name);
}

export function idString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID || !printable(v)) {
    throw new NoburnValidationError(`${name} must be a non-empty string of at most ${MAX_ID} printable characters (no control characters or lone surrogates)`);
  }
  return v;
}

export function optionalId(v: unknown, name: string): string | null {
  return v === undefined || v === null ? null : idString(v, name);
}

export interface NormalizedCheck {
  model: string;
  tokensIn: number;
  tokensOut: number;
  userId: string | null;
  runId: string | null;
  /** Absent means false / the config default / none / 'exact' (older callers build this shape by hand). */
  clamp?: boolean;
  minTokensOut?: number | null;
  /** Absent or null: priced by the model alone. */
  provider?: string | null | undefined;
  tokensInSource?: 'exact' | 'tokenizer';
  /** Sorted `key=value` tags (tags.ts); absent: none. */
  tags?: string[];
}

export function normalizeCheck(req: CheckRequest, defaultRunId: string | null): NormalizedCheck {
  if (typeof req !== 'object' || req === null) throw new NoburnValidationError('check needs an object');
  return {
    model: idString(req.model, 'model'),
    tokensIn: tokenCount(req.estimatedTokensIn, 'estimatedTokensIn'),
    tokensOut: tokenCount(req.estimatedTokensOut, 'estimatedTokensOut'),
    userId: optionalId(req.endUserId, 'endUserId'),
    runId: req.runId === undefined ? defaultRunId : optionalId(req.runId, 'runId'),
    clamp: optionalBool(req.clamp, 'clamp'),
    minTokensOut: req.minTokensOut === undefined || req.minTokensOut === null ? null : tokenCount(req.minTokensOut, 'minTokensOut'),
    provider: optionalId(req.provider, 'provider'),
    tokensInSource: tokensInSource(req.tokensInSource),
    tags: normalizeTags(req.tags),
  };
}

function optionalBool(v: unknown, name: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new NoburnValidationError(`${name} must be a boolean`);
  return v;
}

function tokensInSource(v: unknown): 'exact' | 'tokenizer' {
  if (v === undefined || v === null || v === 'exact') return 'exact';
  if (v === 'tokenizer') return v;
  throw new NoburnValidationError(`tokensInSource must be "exact" or "tokenizer" (got ${JSON.stringify(v)})`);
}

export interface NormalizedRecord {
  model: string;
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
  costUsd: number | null;
  wasBlocked: boolean;
  userId: string | null;
  runId: string | null;
  reservationId: string | null;
  idempotencyKey: string;
  provider?: string | null | undefined;
  /** Sorted `key=value` tags (tags.ts); absent: none. */
  tags?: string[];
}

export function normalizeRecord(req: RecordRequest, defaultRunId: string | null, makeKey: () => string): NormalizedRecord {
  if (typeof req !== 'object' || req === null) throw new NoburnValidationError('record needs an object');
  const tokensIn = tokenCount(req.tokensIn, 'tokensIn');
  const cachedTokensIn = optionalTokenCount(req.cachedTokensIn, 'cachedTokensIn');
  const cacheWriteTokensIn = optionalTokenCount(req.cacheWriteTokensIn, 'cacheWriteTokensIn');
  if (cachedTokensIn + cacheWriteTokensIn > tokensIn) {
    throw new NoburnValidationError('cachedTokensIn + cacheWriteTokensIn must not exceed tokensIn (tokensIn counts all input tokens)');
  }
  let costUsd: number | null = null;
  if (req.costUsd !== undefined && req.costUsd !== null) {
    if (typeof req.costUsd !== 'number' || !Number.isFinite(req.costUsd) || req.costUsd < 0 || req.costUsd > 1_000_000) {
      throw new NoburnValidationError(`costUsd must be a number from 0 to 1000000 (got ${JSON.stringify(req.costUsd)})`);
    }
    costUsd = req.costUsd;
  }
  if (req.wasBlocked !== undefined && typeof req.wasBlocked !== 'boolean') throw new NoburnValidationError('wasBlocked must be a boolean');
  return {
    model: idString(req.model, 'model'),
    tokensIn,
    tokensOut: tokenCount(req.tokensOut, 'tokensOut'),
    cachedTokensIn,
    cacheWriteTokensIn,
    costUsd,
    wasBlocked: req.wasBlocked === true,
    userId: optionalId(req.endUserId, 'endUserId'),
    runId: req.runId === undefined ? defaultRunId : optionalId(req.runId, 'runId'),
    reservationId: optionalId(req.reservationId, 'reservationId'),
    idempotencyKey: req.idempotencyKey === undefined ? makeKey() : idString(req.idempotencyKey, 'idempotencyKey'),
    provider: optionalId(req.provider, 'provider'),
    tags: normalizeTags(req.tags),
  };
}
