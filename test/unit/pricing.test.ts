import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costNano } from '../../src/lib/pricing/cost.js';
import { PRICE_DATA_VERSION, PRICE_PACKAGE_VERSION, lookupGenaiPrice } from '../../src/lib/pricing/price-data.js';

describe('costNano', () => {
  const p = { inputNanoPerMTok: 2_500_000_000, outputNanoPerMTok: 10_000_000_000, cacheReadNanoPerMTok: 1_250_000_000, cacheWriteNanoPerMTok: null };
  it('prices input, output and cached input separately', () => {
    // 1000 in ($2.50/M) + 300 out ($10/M) = 0.0025 + 0.003
    expect(costNano(p, { tokensIn: 1000, tokensOut: 300 })).toBe(5_500_000);
    // 400 of the 1000 were cache reads at $1.25/M: saves 400 * 1.25/M = 0.0005
    expect(costNano(p, { tokensIn: 1000, tokensOut: 300, cachedTokensIn: 400 })).toBe(5_000_000);
    // cache writes without a cache-write price are charged as input
    expect(costNano(p, { tokensIn: 1000, tokensOut: 300, cacheWriteTokensIn: 400 })).toBe(5_500_000);
  });
  it('rounds up to the next nano-dollar and stays exact past 2^53', () => {
    expect(costNano({ ...p, inputNanoPerMTok: 1 }, { tokensIn: 1, tokensOut: 0 })).toBe(1);
    const big = costNano({ inputNanoPerMTok: 999_999_999_999, outputNanoPerMTok: 0, cacheReadNanoPerMTok: null, cacheWriteNanoPerMTok: null }, { tokensIn: 100_000_000, tokensOut: 0 });
    expect(big).toBe(99_999_999_999_900);
  });
  it('rejects cached tokens that exceed the input', () => {
    expect(() => costNano(p, { tokensIn: 10, tokensOut: 0, cachedTokensIn: 11 })).toThrow(/must not exceed/);
  });
});

describe('price data', () => {
  it('PRICE_DATA_VERSION matches the installed @pydantic/genai-prices (so the ledger cache is invalidated on upgrade)', () => {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve('@pydantic/genai-prices'));
    while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
    const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    expect(PRICE_PACKAGE_VERSION).toBe(`@pydantic/genai-prices@${version}`);
    expect(PRICE_DATA_VERSION.startsWith(PRICE_PACKAGE_VERSION)).toBe(true);
  });
  it('looks up known models with cache prices, and reports unknown ones as unknown', async () => {
    const known = await lookupGenaiPrice('gpt-4o');
    expect(known.source).toBe('genai-prices');
    expect(known.inputNanoPerMTok).toBeGreaterThan(0);
    expect(known.cacheReadNanoPerMTok).not.toBeNull();
    expect(known.cacheReadNanoPerMTok).toBeLessThan(known.inputNanoPerMTok);
    const byProvider = await lookupGenaiPrice('anthropic:claude-sonnet-4-20250514');
    expect(byProvider.matched).toMatch(/^anthropic:/);
    expect((await lookupGenaiPrice('surely-not-a-model-xyz')).source).toBe('unknown');
  });
});
