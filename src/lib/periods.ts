import { NoburnValidationError } from './errors.js';

/**
 * Cap periods: UTC calendar windows. `minute` and `hour` are for runaway loops ("$1 a minute
 * per run"): a loop that burns fast is stopped within its minute, not at the end of the day.
 */
export const PERIODS = ['minute', 'hour', 'day', 'week', 'month', 'total'] as const;
export type Period = (typeof PERIODS)[number];

export function parsePeriod(value: string): Period {
  if ((PERIODS as readonly string[]).includes(value)) return value as Period;
  throw new NoburnValidationError(`period must be one of ${PERIODS.join(', ')} (got ${JSON.stringify(value)})`);
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * The key of the UTC calendar window that contains `ms` for a period.
 * minute: n2026-11-28T13:05, hour: h2026-11-28T13, day: d2026-11-28, week: the Monday that
 * starts the ISO week (w2026-11-23), month: m2026-11, total: total.
 * Keys sort in time order within a period.
 */
export function windowKey(period: Period, ms: number): string {
  // Every period's window holds whole UTC minutes, so one minute's keys serve every call in
  // it: a record writes its summary rows under 6 periods for each of its scopes.
  const minute = Math.floor(ms / 60_000);
  if (minute !== memo.minute) {
    memo.minute = minute;
    memo.keys = computeKeys(ms);
  }
  return memo.keys[period];
}

const memo: { minute: number; keys: Record<Period, string> } = { minute: NaN, keys: {} as Record<Period, string> };

function computeKeys(ms: number): Record<Period, string> {
  const out = {} as Record<Period, string>;
  for (const p of PERIODS) out[p] = formatKey(p, ms);
  return out;
}

function formatKey(period: Period, ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  switch (period) {
    case 'minute':
      return `n${y}-${pad(m)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    case 'hour':
      return `h${y}-${pad(m)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}`;
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

/** The window keys of every period at `ms` (what a record adds its usage under). */
export function windowKeys(ms: number): Record<Period, string> {
  const out = {} as Record<Period, string>;
  for (const p of PERIODS) out[p] = windowKey(p, ms);
  return out;
}

/** Start (inclusive, ms) of the window containing `ms`. */
export function windowStart(period: Period, ms: number): number {
  const d = new Date(ms);
  switch (period) {
    case 'minute':
      return ms - (((ms % 60_000) + 60_000) % 60_000);
    case 'hour':
      return ms - (((ms % 3_600_000) + 3_600_000) % 3_600_000);
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

/** The end (exclusive, ms) of the UTC window that starts at `start`; null for "total". */
export function windowEnd(period: Period, start: number): number | null {
  const d = new Date(start);
  switch (period) {
    case 'minute':
      return start + 60_000;
    case 'hour':
      return start + 3_600_000;
    case 'day':
      return start + 86_400_000;
    case 'week':
      return start + 7 * 86_400_000;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    case 'total':
      return null;
  }
}
