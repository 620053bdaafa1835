import { describe, expect, it } from 'vitest';
import { parsePeriod, windowKey, windowStart } from '../../src/lib/periods.js';

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
  it('rejects an unknown period', () => {
    expect(parsePeriod('week')).toBe('week');
    expect(() => parsePeriod('year')).toThrow(/period must be one of/);
  });
});
