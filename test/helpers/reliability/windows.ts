/**
 * UTC calendar windows computed independently of src/lib/periods.ts (plain day arithmetic
 * instead of Date fields), so the reference model does not inherit a bug from the code
 * under test. A window is named by (period, index): minute / hour = minutes / hours since
 * the epoch, day = days since the epoch, week =
 * Monday-based weeks since the epoch, month = year * 12 + month, total = 0.
 */
import type { Period } from '../../../src/lib/periods.js';

export const DAY_MS = 86_400_000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export function dayIndex(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** 1970-01-01 was a Thursday: three days after the Monday that starts its week. */
export function weekIndex(ms: number): number {
  return Math.floor((dayIndex(ms) + 3) / 7);
}

export function monthIndex(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

export function windowIndex(period: Period, ms: number): number {
  switch (period) {
    case 'minute':
      return Math.floor(ms / MINUTE_MS);
    case 'hour':
      return Math.floor(ms / HOUR_MS);
    case 'day':
      return dayIndex(ms);
    case 'week':
      return weekIndex(ms);
    case 'month':
      return monthIndex(ms);
    case 'total':
      return 0;
  }
}

export function sameWindow(period: Period, a: number, b: number): boolean {
  return windowIndex(period, a) === windowIndex(period, b);
}

/** The first millisecond of the next window of `period` after `ms` (total: never). */
export function nextWindowStart(period: Exclude<Period, 'total'>, ms: number): number {
  switch (period) {
    case 'minute':
      return (Math.floor(ms / MINUTE_MS) + 1) * MINUTE_MS;
    case 'hour':
      return (Math.floor(ms / HOUR_MS) + 1) * HOUR_MS;
    case 'day':
      return (dayIndex(ms) + 1) * DAY_MS;
    case 'week':
      return ((weekIndex(ms) + 1) * 7 - 3) * DAY_MS;
    case 'month': {
      const m = monthIndex(ms) + 1;
      return Date.UTC(Math.floor(m / 12), m % 12, 1);
    }
  }
}

const DAY_KEY = /^d(\d{4})-(\d{2})-(\d{2})$/;
const WEEK_KEY = /^w(\d{4})-(\d{2})-(\d{2})$/;
const MONTH_KEY = /^m(\d{4})-(\d{2})$/;
const HOUR_KEY = /^h(\d{4})-(\d{2})-(\d{2})T(\d{2})$/;
const MINUTE_KEY = /^n(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** Reads a stored window key (the usage table) as (period, index); throws on a malformed key. */
export function parseWindowKey(key: string): { period: Period; index: number } {
  if (key === 'total') return { period: 'total', index: 0 };
  let m = DAY_KEY.exec(key);
  if (m) return { period: 'day', index: dayIndex(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) };
  m = WEEK_KEY.exec(key);
  if (m) {
    const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    if ((dayIndex(start) + 3) % 7 !== 0) throw new Error(`week window ${key} does not start on a Monday`);
    return { period: 'week', index: weekIndex(start) };
  }
  m = HOUR_KEY.exec(key);
  if (m) return { period: 'hour', index: Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])) / HOUR_MS };
  m = MINUTE_KEY.exec(key);
  if (m) return { period: 'minute', index: Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])) / MINUTE_MS };
  m = MONTH_KEY.exec(key);
  if (m) return { period: 'month', index: Number(m[1]) * 12 + Number(m[2]) - 1 };
  throw new Error(`unknown window key ${JSON.stringify(key)}`);
}

/** YYYY-MM-DD of a UTC instant (the spend report's `day` grouping). */
export function isoDay(ms: number): string {
  return new Date(dayIndex(ms) * DAY_MS).toISOString().slice(0, 10);
}

/** The first millisecond of the window of `period` that contains `ms`. */
export function windowStartMs(period: Period, ms: number): number {
  switch (period) {
    case 'minute':
      return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
    case 'hour':
      return Math.floor(ms / HOUR_MS) * HOUR_MS;
    case 'day':
      return dayIndex(ms) * DAY_MS;
    case 'week':
      return (weekIndex(ms) * 7 - 3) * DAY_MS;
    case 'month': {
      const m = monthIndex(ms);
      return Date.UTC(Math.floor(m / 12), m % 12, 1);
    }
    case 'total':
      return 0;
  }
}
