/**
 * A hand-checked fast path for the common, well-formed POST /v1/check body, tried before
 * the zod schema (schemas.ts CheckBody): it answers only "this body is valid as it is" or
 * "not sure" (null). Anything it does not accept goes to zod, so every refusal keeps zod's
 * exact message and code; a property test holds that it never accepts what zod refuses
 * and that what it accepts equals zod's output.
 */
import type { CheckBody } from './schemas.js';
import { MAX_ID, MAX_TOKENS, printable } from '../validate.js';

const isId = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID && printable(v);
const isTokens = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS;

/** Checks one optional field; false when it is present, not null, and not of its type. */
const OPTIONAL: Readonly<Record<string, (v: unknown) => boolean>> = {
  endUserId: isId,
  runId: isId,
  clamp: (v) => typeof v === 'boolean',
  minTokensOut: isTokens,
  provider: isId,
  tokensInSource: (v) => v === 'exact' || v === 'tokenizer',
  tags: isPlainTags,
};

/** A tags object of string values (the ledger checks their syntax); odd keys go to zod. */
function isPlainTags(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k of Object.keys(v)) {
    if (k === '__proto__' || typeof (v as Record<string, unknown>)[k] !== 'string') return false;
  }
  return true;
}

/** The body as CheckBody when it is plainly valid (a parsed JSON object), else null: ask zod. */
export function fastCheckBody(v: unknown): CheckBody | null {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return null;
  const o = v as Record<string, unknown>;
  if (!isId(o['model']) || !isTokens(o['estimatedTokensIn']) || !isTokens(o['estimatedTokensOut'])) return null;
  for (const k of Object.keys(o)) {
    if (k === 'model' || k === 'estimatedTokensIn' || k === 'estimatedTokensOut') continue;
    const check = Object.hasOwn(OPTIONAL, k) ? OPTIONAL[k] : undefined;
    if (check === undefined) return null;
    const x = o[k];
    if (x !== null && !check(x)) return null;
  }
  return o as CheckBody;
}
