import { describe, expect, it } from 'vitest';
import { formatUsd, nanoToUsd, usdToNano } from '../../src/lib/money.js';

describe('usdToNano', () => {
  it.each([
    ['0.50', 500_000_000],
    ['$2.5', 2_500_000_000],
    ['1', 1_000_000_000],
    ['0.000000001', 1],
    ['0.0000000015', 2], // half up past the ninth decimal
    ['0.0000000014', 1],
    ['1000000', 1_000_000_000_000_000],
  ])('parses %s exactly', (text, nano) => {
    expect(usdToNano(text)).toBe(nano);
  });

  it.each([[0.005, 5_000_000], [0.1, 100_000_000], [1e-7, 100], [0.3, 300_000_000], [2.675, 2_675_000_000]])('converts the number %s without float error', (n, nano) => {
    expect(usdToNano(n)).toBe(nano);
  });

  it.each(['abc', '-1', '1e3', '0.1.2', '', ' ', '1000001', '1e999', 'NaN'])('rejects %j', (bad) => {
    expect(() => usdToNano(bad)).toThrow(/USD amount|too large/);
  });

  it.each([Number.NaN, Infinity, -0.01])('rejects the number %s', (bad) => {
    expect(() => usdToNano(bad)).toThrow();
  });
});

describe('formatUsd', () => {
  it('formats without float rounding and rounds half up', () => {
    expect(formatUsd(1_500_000)).toBe('0.001500');
    expect(formatUsd(1_000_000_000)).toBe('1.000000');
    expect(formatUsd(999_999_999)).toBe('1.000000');
    expect(formatUsd(999_999_499)).toBe('0.999999');
    expect(formatUsd(123_456_789, 9)).toBe('0.123456789');
    expect(formatUsd(5_000_000_000, 2)).toBe('5.00');
  });
  it('nanoToUsd is the inverse for whole nano amounts', () => {
    for (const n of [0, 1, 5_500_000, 123_456_789_012]) expect(usdToNano(nanoToUsd(n))).toBe(n);
  });
});
