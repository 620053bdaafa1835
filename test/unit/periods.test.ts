import { describe, expect, it } from 'vitest';
import { PERIODS, parsePeriod, windowEnd, windowKey, windowStart } from '../../src/lib/periods.js';

const t = (iso: string) => Date.parse(iso);

describe('UTC period windows', () => {
  it('day rolls at UTC midnight', () => {
    expect(windowKey('day', t('2026-11-28T23:59:59.999Z'))).toBe('d2026-11-28');
    expect(windowKey('day', t('2026-11-29T00:00:00.000Z'))).toBe('d2026-11-29');
  });
  it('week starts on Monday (ISO) and crosses month and year ends', () => {
    expect(windowKey('week', t('2026-11-29T12:00:00Z'))).toBe('w2026-11-23'); // Sunday
    expect(windowKey('week', t('2026-11-30T00:00:00Z'))).toBe('w2026-11-30'); // Monday
    expect(windowKey('week', t('2027-01-01T00:00:00Z'))).toBe('w2026-12-28');
    expect(windowStart('week', t('2027-01-01T10:00:00Z'))).toBe(t('2026-12-28T00:00:00Z'));
  });
  it('month rolls on the first, total never rolls', () => {
    expect(windowKey('month', t('2026-11-30T23:59:59Z'))).toBe('m2026-11');
    expect(windowKey('month', t('2026-12-01T00:00:00Z'))).toBe('m2026-12');
    expect(windowKey('total', t('1999-01-01T00:00:00Z'))).toBe(windowKey('total', t('2099-01-01T00:00:00Z')));
  });
  it('minute and hour roll on UTC minute and hour boundaries', () => {
    expect(windowKey('minute', t('2026-11-28T13:05:59.999Z'))).toBe('n2026-11-28T13:05');
    expect(windowKey('minute', t('2026-11-28T13:06:00.000Z'))).toBe('n2026-11-28T13:06');
    expect(windowKey('hour', t('2026-11-28T13:59:59.999Z'))).toBe('h2026-11-28T13');
    expect(windowKey('hour', t('2026-11-28T14:00:00.000Z'))).toBe('h2026-11-28T14');
    expect(windowStart('minute', t('2026-11-28T13:05:42.123Z'))).toBe(t('2026-11-28T13:05:00.000Z'));
    expect(windowStart('hour', t('2026-11-28T13:05:42.123Z'))).toBe(t('2026-11-28T13:00:00.000Z'));
  });
  it('every window key is distinct across periods, and a window ends where the next starts', () => {
    const ms = t('2026-12-31T23:59:59.999Z');
    const keys = PERIODS.map((p) => windowKey(p, ms));
    expect(new Set(keys).size).toBe(PERIODS.length);
    for (const p of PERIODS) {
      const end = windowEnd(p, windowStart(p, ms));
      if (p === 'total') expect(end).toBeNull();
      else expect(windowKey(p, end as number)).not.toBe(windowKey(p, ms));
      if (end !== null) expect(windowKey(p, end - 1)).toBe(windowKey(p, ms));
    }
  });
  it('rejects an unknown period', () => {
    expect(parsePeriod('week')).toBe('week');
    expect(parsePeriod('minute')).toBe('minute');
    expect(() => parsePeriod('year')).toThrow(/period must be one of/);
  });
});
