import { NoburnValidationError } from '../errors.js';

/**
 * Alert thresholds of a cap: whole percents of the cap (`--alert-at 50,80,100`), stored with
 * the cap as text ("50,80,100") and compared in exact integer arithmetic against the
 * window's recorded spend (never its holds).
 */
export const MAX_THRESHOLDS = 10;
/** Above 100: spend can pass a cap by what records cost beyond their holds. */
export const MAX_THRESHOLD = 1000;

/** Validates thresholds (1..1000 whole percents, at most 10); returns them distinct and sorted. */
export function parseThresholds(v: unknown, name = 'alertAt'): number[] {
  const list = typeof v === 'string' ? (v.trim() === '' ? [] : v.split(',').map((s) => s.trim())) : v;
  if (!Array.isArray(list)) throw new NoburnValidationError(`${name} must be a list of percents (e.g. 50,80,100)`);
  const out = new Set<number>();
  for (const x of list as unknown[]) {
    const n = typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_THRESHOLD) {
      throw new NoburnValidationError(`${name}: each threshold must be a whole percent from 1 to ${MAX_THRESHOLD} (got ${JSON.stringify(x)})`);
    }
    out.add(n);
  }
  if (out.size > MAX_THRESHOLDS) throw new NoburnValidationError(`${name}: at most ${MAX_THRESHOLDS} thresholds`);
  return [...out].sort((a, b) => a - b);
}

/** The column value: null when there is none. */
export function thresholdsText(t: readonly number[] | null | undefined): string | null {
  return t && t.length > 0 ? t.join(',') : null;
}

/** The stored column back as numbers (trusted: written by thresholdsText). */
export function thresholdsOf(text: string | null | undefined): number[] {
  return text ? text.split(',').map(Number) : [];
}

/** The thresholds reached: spent * 100 >= cap * t, in exact BigInt arithmetic (nano-dollars * 1000 passes 2^53). */
export function reached(spentNano: number, capNano: number, thresholds: readonly number[]): number[] {
  if (spentNano <= 0) return [];
  const s = BigInt(spentNano) * 100n;
  const c = BigInt(capNano);
  return thresholds.filter((t) => s >= c * BigInt(t));
}
