import { describe, expect, it } from 'vitest';
import { NoburnValidationError } from '../../src/lib/errors.js';
import { normalizeCheck, normalizeRecord, printable } from '../../src/lib/validate.js';

describe('ids', () => {
  it.each([
    ['plain', 'user_123', true],
    ['emoji (a surrogate pair)', 'u-\u{1F600}', true],
    ['control character', 'a\nb', false],
    ['DEL', 'a\u007f', false],
    ['lone high surrogate', 'a\ud800', false],
    ['lone low surrogate', '\udc00b', false],
    ['reversed pair', '\udc00\ud800', false],
  ])('%s', (_name, id, ok) => {
    expect(printable(id)).toBe(ok);
    const check = () => normalizeCheck({ model: 'm', estimatedTokensIn: 1, estimatedTokensOut: 1, endUserId: id }, null);
    if (ok) expect(check().userId).toBe(id);
    else expect(check).toThrow(NoburnValidationError);
  });
});

describe('normalize', () => {
  it('defaults the run to NOBURN_RUN_ID unless runId is null', () => {
    expect(normalizeCheck({ model: 'm', estimatedTokensIn: 1, estimatedTokensOut: 1 }, 'run_env').runId).toBe('run_env');
    expect(normalizeCheck({ model: 'm', estimatedTokensIn: 1, estimatedTokensOut: 1, runId: null }, 'run_env').runId).toBeNull();
  });
  it.each([
    [{ estimatedTokensIn: -1 }],
    [{ estimatedTokensIn: 1.5 }],
    [{ estimatedTokensIn: Number.NaN }],
    [{ estimatedTokensOut: 1e12 }],
    [{ model: '' }],
  ])('rejects %j', (bad) => {
    expect(() => normalizeCheck({ model: 'm', estimatedTokensIn: 1, estimatedTokensOut: 1, ...bad }, null)).toThrow(NoburnValidationError);
  });
  it('rejects cached tokens beyond tokensIn, bad costs and non-boolean wasBlocked', () => {
    const base = { model: 'm', tokensIn: 10, tokensOut: 1 };
    const key = () => 'k';
    expect(() => normalizeRecord({ ...base, cachedTokensIn: 11 }, null, key)).toThrow(/must not exceed/);
    expect(() => normalizeRecord({ ...base, costUsd: -0.01 }, null, key)).toThrow(NoburnValidationError);
    expect(() => normalizeRecord({ ...base, wasBlocked: 'yes' as unknown as boolean }, null, key)).toThrow(NoburnValidationError);
    expect(normalizeRecord(base, null, key).idempotencyKey).toBe('k');
  });
});
