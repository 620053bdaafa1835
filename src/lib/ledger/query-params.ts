/**
 * The ledger's query parameters as users write them (`--by`, `--since`, `--kind`, ...):
 * parsed strictly, refused with a message that names the choices.
 */
import { NoburnValidationError } from '../errors.js';
import { tagGroupKey } from '../tags.js';
import { SPEND_GROUPS } from '../types.js';
import type { SpendGroupBy } from '../types.js';

// Only ISO forms: Date.parse alone also takes "1" (2001-01-01), "March 5" and 2026-02-30 (March 2).
const ISO_DATE = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

/** Refuses a value outside a vocabulary, naming the choices ("by must be user, run, model or day"). */
export function oneOf<T extends string>(list: readonly T[], v: string, name: string): T {
  if ((list as readonly string[]).includes(v)) return v as T;
  throw new NoburnValidationError(`${name} must be ${list.slice(0, -1).join(', ')} or ${list[list.length - 1] ?? ''}`);
}

/** A spend grouping: one of SPEND_GROUPS, or tag:KEY (a valid tag key). */
export function spendGroup(v: string): SpendGroupBy {
  if (typeof v === 'string' && v.startsWith('tag:')) {
    tagGroupKey(v);
    return v as SpendGroupBy;
  }
  try {
    return oneOf(SPEND_GROUPS, v, 'by');
  } catch {
    throw new NoburnValidationError(`by must be ${SPEND_GROUPS.join(', ')} or tag:KEY`);
  }
}

export function parseDate(v: string | undefined, name: string): number | null {
  if (v === undefined) return null;
  const day = ISO_DATE.exec(v)?.[1];
  const ms = day === undefined || !isCalendarDay(day) ? NaN : v === day ? Date.parse(`${v}T00:00:00Z`) : Date.parse(v);
  if (Number.isNaN(ms)) throw new NoburnValidationError(`${name} must be a date (YYYY-MM-DD) or an ISO date-time (got ${JSON.stringify(v)})`);
  return ms;
}
