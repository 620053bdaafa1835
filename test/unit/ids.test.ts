import { describe, expect, it } from 'vitest';
import { newId, newOrderedId } from '../../src/lib/ids.js';

describe('newOrderedId', () => {
  // Rule: an ordered id sorts (as SQLite's BINARY collation and JS string order do) by its time.
  it('sorts by the time it is given, whatever the random part', () => {
    const times = [0, 1, 63, 64, 65, 4095, 4096, 1_700_000_000_000, 1_700_000_000_001, 1_764_650_000_000, 2 ** 42 - 1];
    const ids = times.map((t) => newOrderedId('res', t));
    expect([...ids].sort()).toEqual(ids);
    for (let i = 0; i < 2000; i++) {
      const t = Math.floor(Math.random() * 2 ** 41);
      const d = 1 + Math.floor(Math.random() * 1000);
      expect(newOrderedId('res', t) < newOrderedId('res', t + d)).toBe(true);
    }
  });

  // Rule: ids stay opaque `prefix_` + [\w-] strings with newId's 72 random bits after the time.
  it('keeps the id alphabet and the random part of newId', () => {
    const a = newOrderedId('res', 1_764_650_000_000);
    expect(a).toMatch(/^res_[\w-]{19}$/);
    expect(newId('res')).toMatch(/^res_[\w-]{12}$/);
    const same = new Set(Array.from({ length: 1000 }, () => newOrderedId('res', 42)));
    expect(same.size).toBe(1000);
  });
});
