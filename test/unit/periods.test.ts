import fc from 'fast-check';
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
  // Keys are reused within a UTC minute (periods.ts): in any order of instants, each key must
  // still be the one of its own instant, read here from toISOString and day arithmetic.
  it('every key is its own instant\'s, whatever instants came before', () => {
    const day = 86_400_000;
    const expected = (ms: number) => {
      const iso = new Date(ms).toISOString();
      const monday = Math.floor(ms / day) * day - ((Math.floor(ms / day) + 3) % 7) * day; // 1970-01-01 was a Thursday
      return { minute: `n${iso.slice(0, 16)}`, hour: `h${iso.slice(0, 13)}`, day: `d${iso.slice(0, 10)}`, week: `w${new Date(monday).toISOString().slice(0, 10)}`, month: `m${iso.slice(0, 7)}`, total: 'total' };
    };
    const base = fc.integer({ min: 0, max: Date.UTC(2199, 0, 1) });
    // Instants close together (same minute, the next one, across a boundary) as well as far apart.
    const instants = base.chain((b) => fc.array(fc.oneof(fc.constant(b), fc.integer({ min: b - 120_000, max: b + 120_000 }).filter((x) => x >= 0), base), { minLength: 1, maxLength: 30 }));
    fc.assert(
      fc.property(instants, (ms) => {
        for (const x of ms) for (const p of PERIODS) expect(windowKey(p, x)).toBe(expected(x)[p]);
      }),
      { numRuns: 300 },
    );
  });
  it('rejects an unknown period', () => {
    expect(parsePeriod('week')).toBe('week');
    expect(parsePeriod('minute')).toBe('minute');
    expect(() => parsePeriod('year')).toThrow(/period must be one of/);
  });
});
