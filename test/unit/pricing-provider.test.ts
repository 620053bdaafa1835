import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import type { CachedPrice } from '../../src/lib/pricing/price-cache.js';
import { PRICE_DATA_VERSION, lookupGenaiPrice, providerForUrl } from '../../src/lib/pricing/price-data.js';
import { Pricer, type PriceCache } from '../../src/lib/pricing/pricer.js';

const NANO_PER_USD = 1e9;

function memoryCache(seed: CachedPrice[] = []): PriceCache & { map: Map<string, CachedPrice> } {
  const map = new Map(seed.map((p) => [p.model, p]));
  return {
    map,
    getCachedPrice: (m) => Promise.resolve(map.get(m) ?? null),
    putCachedPrice: (p) => {
      map.set(p.model, p);
      return Promise.resolve();
    },
  };
}

describe('price data by kind: input-only prices', () => {
  it('prices embeddings from input tokens ($0.02/MTok for text-embedding-3-small), output free', async () => {
    const p = await lookupGenaiPrice('text-embedding-3-small', 'openai');
    expect(p.source).toBe('genai-prices');
    expect(p.inputNanoPerMTok).toBe(0.02 * NANO_PER_USD);
    expect(p.outputNanoPerMTok).toBe(0);
    expect(p.matched).toBe('openai:text-embedding-3-small');
  });

  it('finds an embedding model without a provider too (the price data alone misses it)', async () => {
    const p = await lookupGenaiPrice('text-embedding-3-small');
    expect(p.source).toBe('genai-prices');
    expect(p.inputNanoPerMTok).toBe(0.02 * NANO_PER_USD);
  });

  it('Gemini embeddings are known under google', async () => {
    const p = await lookupGenaiPrice('gemini-embedding-001', 'google');
    expect(p.source).toBe('genai-prices');
    expect(p.inputNanoPerMTok).toBeGreaterThan(0);
  });
});

describe('price data by provider', () => {
  it.each([
    ['groq', 'llama-3.3-70b-versatile'],
    ['openrouter', 'openai/gpt-4o'],
    ['mistral', 'mistral-large-latest'],
    ['deepseek', 'deepseek-chat'],
  ])('%s: %s is priced from that provider\'s entry', async (provider, model) => {
    const p = await lookupGenaiPrice(model, provider);
    expect(p.source).toBe('genai-prices');
    expect(p.matched?.startsWith(`${provider}:`)).toBe(true);
    expect(p.model).toBe(`${provider}:${model}`);
  });

  it('a model the provider does not list falls back to the price data\'s own matching', async () => {
    const p = await lookupGenaiPrice('gpt-4o', 'groq');
    expect(p.source).toBe('genai-prices');
    expect(p.matched).toBe('openai:gpt-4o');
  });

  it('an unknown provider id is not an error, only not a match', async () => {
    expect((await lookupGenaiPrice('surely-not-a-model-xyz', 'no-such-provider')).source).toBe('unknown');
  });

  it('knows the providers of the usual OpenAI-compatible base URLs, and not a local server', async () => {
    expect(await providerForUrl('https://api.groq.com/openai/v1')).toBe('groq');
    expect(await providerForUrl('https://openrouter.ai/api/v1')).toBe('openrouter');
    expect(await providerForUrl('https://api.mistral.ai/v1')).toBe('mistral');
    expect(await providerForUrl('https://api.deepseek.com')).toBe('deepseek');
    expect(await providerForUrl('https://api.openai.com/v1')).toBe('openai');
    expect(await providerForUrl('http://127.0.0.1:8000/v1')).toBeNull();
  });
});

describe('Pricer', () => {
  it('keys the cache by provider:model, and a config price under provider:model wins over the bare model', async () => {
    const cache = memoryCache();
    const pricer = new Pricer(
      { prices: { 'groq:my-model': { inputPerMTok: 1, outputPerMTok: 2 }, 'my-model': { inputPerMTok: 5, outputPerMTok: 6 } }, fallbackPrice: null },
      cache,
    );
    expect((await pricer.resolve('my-model', 'groq')).inputNanoPerMTok).toBe(NANO_PER_USD);
    expect((await pricer.resolve('my-model', 'openai')).inputNanoPerMTok).toBe(5 * NANO_PER_USD);
    expect((await pricer.resolve('my-model')).inputNanoPerMTok).toBe(5 * NANO_PER_USD);
    await pricer.resolve('llama-3.3-70b-versatile', 'groq');
    expect(cache.map.get('groq:llama-3.3-70b-versatile')?.source).toBe('genai-prices');
  });

  it('looks an entry an older lookup cached as unknown up again (the cache version changed)', async () => {
    const stale: CachedPrice = {
      model: 'text-embedding-3-small', inputNanoPerMTok: 0, outputNanoPerMTok: 0, cacheReadNanoPerMTok: null, cacheWriteNanoPerMTok: null,
      source: 'unknown', matched: null, dataVersion: '@pydantic/genai-prices@0.1.8',
    };
    const cache = memoryCache([stale]);
    const p = await new Pricer({ prices: {}, fallbackPrice: null }, cache).resolve('text-embedding-3-small');
    expect(p.source).toBe('genai-prices');
    expect(cache.map.get('text-embedding-3-small')?.dataVersion).toBe(PRICE_DATA_VERSION);
  });
});

describe('the ledger prices checks and records by provider', () => {
  let home: string | null = null;
  afterEach(() => {
    if (home) rmSync(home, { recursive: true, force: true });
    home = null;
  });

  it('an embeddings call is allowed and charged its input tokens at the provider price', async () => {
    home = mkdtempSync(join(tmpdir(), 'noburn-pricing-'));
    const guard = new NoburnGuard({ home, env: {} });
    try {
      const run = await guard.startRun({ budgetCapUsd: 1 });
      const d = await guard.check({ model: 'text-embedding-3-small', provider: 'openai', estimatedTokensIn: 1_000_000, estimatedTokensOut: 0, runId: run.runId });
      expect(d).toMatchObject({ blocked: false, unpriced: false });
      expect(d.estimatedCostUsd).toBeCloseTo(0.02, 12);
      guard.record({ model: 'text-embedding-3-small', provider: 'openai', tokensIn: 500_000, tokensOut: 0, runId: run.runId, reservationId: d.reservationId });
      await guard.flush();
      const info = await guard.getRun(run.runId);
      expect(info.spendUsd).toBeCloseTo(0.01, 12);
      expect(info.unpricedCalls).toBe(0);
    } finally {
      await guard.close();
    }
  });

  it('the same model name is priced differently by provider (groq vs openrouter entry)', async () => {
    home = mkdtempSync(join(tmpdir(), 'noburn-pricing-'));
    const guard = new NoburnGuard({ home, env: {} });
    try {
      const groq = await guard.check({ model: 'llama-3.3-70b-versatile', provider: 'groq', estimatedTokensIn: 1_000_000, estimatedTokensOut: 0, runId: null });
      expect(groq.blocked).toBe(false);
      const expected = (await lookupGenaiPrice('llama-3.3-70b-versatile', 'groq')).inputNanoPerMTok / NANO_PER_USD;
      expect(groq.estimatedCostUsd).toBeCloseTo(expected, 12);
      // Without the provider the price data does not match this name: unknown, refused.
      const bare = await guard.check({ model: 'llama-3.3-70b-versatile', estimatedTokensIn: 10, estimatedTokensOut: 0, runId: null });
      expect(bare).toMatchObject({ blocked: true, blockReason: 'unknown_model_price' });
    } finally {
      await guard.close();
    }
  });
});
