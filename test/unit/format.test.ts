import { describe, expect, it } from 'vitest';
import { table, usd } from '../../src/cli/format.js';

describe('usd display', () => {
  it('formats sums above the $1M input limit (a display is not an input)', () => {
    expect(usd(1_999_998)).toBe('$1999998.000000');
    expect(usd(0.0055)).toBe('$0.005500');
    expect(usd(null)).toBe('-');
    expect(usd(5, 2)).toBe('$5.00');
  });
  it('pads table columns', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A    BB\nxxx  y');
  });
});
