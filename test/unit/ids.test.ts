import { describe, expect, it } from 'vitest';
import { newId, newIdempotencyKey, newOrderedId } from '../../src/lib/ids.js';

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

describe('newIdempotencyKey', () => {
  // Rule: a default idempotency key is a UUIDv7 (RFC 9562), version 7 and variant 10 bits set.
  it('is a version-7 UUID, distinct on every call', () => {
    const keys = Array.from({ length: 2000 }, () => newIdempotencyKey());
    for (const k of keys) expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(Array.from({ length: 1000 }, () => newIdempotencyKey(42))).size).toBe(1000);
  });

  // Rule: the random part comes from a pool of CSPRNG bytes refilled every 256 keys; no slice is
  // handed out twice, across refills too: at one millisecond only the random part tells keys apart.
  it('keys of one millisecond stay distinct across many pool refills', () => {
    const random = (k: string) => k.replace(/-/g, '').slice(12);
    const keys = Array.from({ length: 256 * 40 + 7 }, () => random(newIdempotencyKey(7)));
    expect(new Set(keys).size).toBe(keys.length);
  });

  // Rule: keys sort by the millisecond they are made in (the ledger's unique index grows at its end).
  it('sorts by the time it is given, whatever the random part', () => {
    const times = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 1_700_000_000_000, 1_764_650_000_000, 2 ** 48 - 1];
    const keys = times.map((t) => newIdempotencyKey(t));
    expect([...keys].sort()).toEqual(keys);
    expect(keys[0]?.slice(0, 13)).toBe('00000000-0000');
    expect(keys[keys.length - 1]?.slice(0, 13)).toBe('ffffffff-ffff');
    for (let i = 0; i < 2000; i++) {
      const t = Math.floor(Math.random() * 2 ** 47);
      const d = 1 + Math.floor(Math.random() * 1000);
      expect(newIdempotencyKey(t) < newIdempotencyKey(t + d)).toBe(true);
    }
  });
});
