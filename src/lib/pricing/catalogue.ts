import type * as GenaiPrices from '@pydantic/genai-prices';
import type { PriceInfo } from '../types.js';
import { nanoToUsd } from '../money.js';
import { nearest } from '../nearest.js';
import { perMTok } from './price-data.js';
import type { PriceValue } from './price-data.js';

/**
 * The whole price data as a list (`noburn prices list`) and the known model names nearest
 * to an unknown one ("did you mean" of `check` and `prices`). Both load the price package;
 * only those two commands, and only on those paths, call this module.
 *
 * The package exports no list of its providers, so they are named here; a test checks
 * that every name is in the installed package (a provider added by a later version is
 * left out of the list and the suggestions until it is named here, and still priced).
 */
export const PRICE_DATA_PROVIDERS = [
  'openai', 'anthropic', 'google', 'arcee', 'avian', 'aws', 'azure', 'baseten', 'cerebras', 'cloudflare', 'cohere', 'cursor', 'deepseek',
  'doubleword', 'fireworks', 'github-copilot', 'groq', 'huggingface_cerebras', 'huggingface_fireworks-ai', 'huggingface_groq',
  'huggingface_hyperbolic', 'huggingface_nebius', 'huggingface_novita', 'huggingface_nscale', 'huggingface_ovhcloud', 'huggingface_publicai',
  'huggingface_sambanova', 'huggingface_together', 'minimax', 'mistral', 'modal', 'moonshotai', 'novita', 'openrouter', 'ovhcloud',
  'perplexity', 'quicksilverpro', 'together', 'typesafe', 'voyageai', 'x-ai', 'zai', 'zhipuai',
] as const;

/** Providers whose models a lookup finds by the bare model name (price-data.ts tries them). */
const FIRST_PARTY: ReadonlySet<string> = new Set(['openai', 'anthropic', 'google']);

type Prices = Record<string, PriceValue>;

/** One model of the price data with its price now (a dated price: the one in force today). */
function currentPrices(calc: typeof GenaiPrices.calcPrice, providerId: string, model: { id: string; prices: unknown }): Prices | null {
  if (!Array.isArray(model.prices)) return model.prices as Prices;
  try {
    const res = calc({ input_tokens: 1 }, model.id, { providerId });
    return res && res.model.id === model.id ? (res.model_price as Prices) : null;
  } catch {
    return null;
  }
}

/**
 * Every model of the price data that noburn can price (it has an input price), as
 * `provider:model`, in the order of PRICE_DATA_PROVIDERS then the data's own order.
 */
export async function priceDataList(): Promise<PriceInfo[]> {
  const { calcPrice, findProvider } = await import('@pydantic/genai-prices');
  const usd = (v: PriceValue): number | null => {
    const n = perMTok(v);
    return n === null ? null : nanoToUsd(n);
  };
  const out: PriceInfo[] = [];
  for (const id of PRICE_DATA_PROVIDERS) {
    const provider = findProvider({ providerId: id });
    for (const model of provider?.models ?? []) {
      const p = currentPrices(calcPrice, id, model);
      const input = p ? usd(p['input_mtok']) : null;
      if (!p || input === null) continue;
      const key = `${id}:${model.id}`;
      out.push({ model: key, inputPerMTok: input, outputPerMTok: usd(p['output_mtok']) ?? 0, cacheReadPerMTok: usd(p['cache_read_mtok']), cacheWritePerMTok: usd(p['cache_write_mtok']), source: 'genai-prices', matched: key });
    }
  }
  return out;
}

/** A name to suggest and the text it is compared as (the model without its `provider:` prefix). */
interface Known {
  name: string;
  bare: string;
}

/** The model names the price data knows: first-party models bare (a lookup finds them so), the others as `provider:model`. */
async function knownModels(): Promise<Known[]> {
  const { findProvider } = await import('@pydantic/genai-prices');
  const out: Known[] = [];
  for (const id of PRICE_DATA_PROVIDERS) {
    for (const model of findProvider({ providerId: id })?.models ?? []) out.push({ name: FIRST_PARTY.has(id) ? model.id : `${id}:${model.id}`, bare: model.id });
  }
  return out;
}

/** A configured price's key without a known provider prefix (`groq:my-model` -> `my-model`). */
function bareKey(key: string): string {
  const colon = key.indexOf(':');
  return colon > 0 && (PRICE_DATA_PROVIDERS as readonly string[]).includes(key.slice(0, colon)) ? key.slice(colon + 1) : key;
}

/**
 * Up to `limit` known model names nearest to `model` by edit distance, closest first; on a
 * tie the configured prices' names, then first-party models, then the other providers'.
 * Names are compared without their `provider:` prefix, and a model several providers
 * serve is suggested once (under the first of them).
 */
export async function similarModels(model: string, configured: readonly string[], limit = 3): Promise<string[]> {
  const known: Known[] = [...configured.map((k) => ({ name: k, bare: bareKey(k) })), ...(await knownModels())];
  const seen = new Set<string>();
  const byName = new Map<string, string>();
  for (const k of known) {
    if (seen.has(k.bare) || k.name === model) continue;
    seen.add(k.bare);
    byName.set(k.name, k.bare);
  }
  return nearest(bareKey(model), byName.keys(), { limit, compareAs: (n) => byName.get(n) ?? n });
}

/** The stderr line for an unknown model, or null when nothing known is close. */
export function didYouMean(names: readonly string[]): string | null {
  return names.length === 0 ? null : `did you mean ${names.join(', ')}?`;
}

/**
 * The "did you mean" line `check` and `prices` print on stderr for a model with no price
 * (null when no known name is close): the configured prices' names and the price data's.
 * Never throws: a hint must not turn an answer into an error.
 */
export async function didYouMeanLine(model: string, configured: readonly string[]): Promise<string | null> {
  try {
    return didYouMean(await similarModels(model, configured));
  } catch {
    return null;
  }
}
