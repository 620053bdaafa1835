/** "Did you mean": edit distance, the nearest-names rule, and the price data's provider list (src/lib/nearest.ts, pricing/catalogue.ts). */
import { describe, expect, it } from 'vitest';
import { findProvider } from '@pydantic/genai-prices';
import { closeEnough, editDistance, nearest } from '../../src/lib/nearest.js';
import { PRICE_DATA_PROVIDERS, similarModels } from '../../src/lib/pricing/catalogue.js';
import { suggest } from '../../src/lib/config-values.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['gpt-4o-mni', 'gpt-4o-mini', 1],
    ['gpt4o', 'gpt-4o', 1],
    ['kitten', 'sitting', 3],
  ])('%j -> %j is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('nearest', () => {
  it('closest first, ties in the order given, at most `limit`, none farther than closeEnough', () => {
    // distances from gpt-4o-mni: 4 (beyond 3 for 10 letters), 1, 3, 1, 2
    const known = ['gpt-4o', 'gpt-4o-mi', 'gpt-4o-nan', 'gpt-4o-mini', 'gpt-4o-min'];
    expect(known.map((k) => editDistance('gpt-4o-mni', k))).toEqual([4, 1, 3, 1, 2]);
    expect(nearest('gpt-4o-mni', known)).toEqual(['gpt-4o-mi', 'gpt-4o-mini', 'gpt-4o-min']);
    expect(nearest('gpt-4o-mni', known, { limit: 4 })).toEqual(['gpt-4o-mi', 'gpt-4o-mini', 'gpt-4o-min', 'gpt-4o-nan']);
    expect(nearest('gpt-4o-mni', known, { limit: 1 })).toEqual(['gpt-4o-mi']);
    expect(nearest('zzzzzzzzzz', known)).toEqual([]);
    expect(closeEnough('abc')).toBe(2);
    expect(closeEnough('claude-sonnet-4-5-xyz')).toBe(7);
  });

  it('compares case-insensitively, and through compareAs', () => {
    expect(nearest('GPT-4O', ['gpt-4o'])).toEqual(['gpt-4o']);
    expect(nearest('llama-3', ['groq:llama-3'], { compareAs: (n) => n.split(':')[1] ?? n })).toEqual(['groq:llama-3']);
  });

  it('config keys keep their suggestion rule (one name, same threshold)', () => {
    expect(suggest('onErorr', ['onError', 'store'])).toBe('onError');
    expect(suggest('zzzzzzzz', ['onError', 'store'])).toBeNull();
  });
});

describe('the price data catalogue', () => {
  it('every provider named in PRICE_DATA_PROVIDERS is in the installed price package', () => {
    for (const id of PRICE_DATA_PROVIDERS) expect(findProvider({ providerId: id })?.id, id).toBe(id);
  });

  it('suggests first-party models bare, others as provider:model, a model two providers serve once, configured names first on a tie', async () => {
    expect((await similarModels('gpt-4o-mni', []))[0]).toBe('gpt-4o-mini');
    const groq = await similarModels('llama-3.3-70b-versatil', []);
    expect(groq[0]).toBe('groq:llama-3.3-70b-versatile');
    expect(new Set(groq.map((n) => n.slice(n.indexOf(':') + 1))).size).toBe(groq.length);
    expect((await similarModels('gpt-4o-mni', ['gpt-4o-mini']))).toEqual(expect.arrayContaining(['gpt-4o-mini']));
    expect((await similarModels('my-fientune', ['my-finetune']))[0]).toBe('my-finetune');
  });
});
