import { NoburnValidationError } from './errors.js';

export const PERIODS = ['day', 'week', 'month', 'total'] as const;
export type Period = (typeof PERIODS)[number];

export function parsePeriod(value: string): Period {
  if ((PERIODS as readonly string[]).includes(value)) return value as Period;
  throw new NoburnValidationError(`period must be one of ${PERIODS.join(', ')} (got ${JSON.stringify(value)})`);
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * The key of the UTC calendar window that contains `ms` for a period.
 * day: 2026-11-28, week: the Monday that starts the ISO week (w2026-11-23), month: 2026-11, total: total.
 * Keys sort in time order within a period.
 */
export function windowKey(period: Period, ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  switch (period) {
    case 'day':
      return `d${y}-${pad(m)}-${pad(d.getUTCDate())}`;
    case 'week': {
      const dow = (d.getUTCDay() + 6) % 7; // Monday = 0
      const monday = new Date(Date.UTC(y, d.getUTCMonth(), d.getUTCDate() - dow));
      return `w${monday.getUTCFullYear()}-${pad(monday.getUTCMonth() + 1)}-${pad(monday.getUTCDate())}`;
    }
    case 'month':
      return `m${y}-${pad(m)}`;
    case 'total':
      return 'total';
  }
}

/** Start (inclusive, ms) of the window containing `ms`. */
export function windowStart(period: Period, ms: number): number {
  const d = new Date(ms);
  switch (period) {
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'week': {
      const dow = (d.getUTCDay() + 6) % 7;
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - dow);
    }
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'total':
      return 0;
  }
}
