/**
 * Usage of an AI SDK call, from doGenerate's result or the stream's `finish` part.
 * ai v5 (LanguageModelV2) reports flat counts: inputTokens (cache reads included),
 * outputTokens, cachedInputTokens. ai v6 and v7 (LanguageModelV3) report nested ones:
 * inputTokens { total, noCache, cacheRead, cacheWrite }, outputTokens { total, text, reasoning }.
 */
export interface CallUsage {
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined);

/**
 * Reads either shape. A count the provider did not report is undefined, so the caller
 * charges its estimate for it (an upper bound) rather than zero.
 */
export function readUsage(usage: unknown, v5Anthropic?: { cacheCreationInputTokens?: unknown }): { tokensIn?: number | undefined; tokensOut?: number | undefined; cachedTokensIn: number; cacheWriteTokensIn: number } | null {
  if (!isObj(usage)) return null;
  const input = usage['inputTokens'];
  const output = usage['outputTokens'];
  if (isObj(input) || isObj(output)) {
    const i = isObj(input) ? input : {};
    const o = isObj(output) ? output : {};
    const cacheRead = count(i['cacheRead']) ?? 0;
    const cacheWrite = count(i['cacheWrite']) ?? 0;
    const noCache = count(i['noCache']);
    const total = count(i['total']) ?? (noCache === undefined ? undefined : noCache + cacheRead + cacheWrite);
    const outTotal = count(o['total']) ?? (count(o['text']) === undefined ? undefined : (count(o['text']) ?? 0) + (count(o['reasoning']) ?? 0));
    return { tokensIn: total, tokensOut: outTotal, cachedTokensIn: cacheRead, cacheWriteTokensIn: cacheWrite };
  }
  const cached = count(usage['cachedInputTokens']) ?? 0;
  if (v5Anthropic) {
    // @ai-sdk/anthropic v2 reports Anthropic's own input_tokens (cache reads and writes
    // NOT included) and the cache-write count in provider metadata: add them back.
    const write = count(v5Anthropic.cacheCreationInputTokens) ?? 0;
    const base = count(input);
    return { tokensIn: base === undefined ? undefined : base + cached + write, tokensOut: count(output), cachedTokensIn: cached, cacheWriteTokensIn: write };
  }
  // v5 elsewhere: inputTokens includes the cache reads; no cache-write count.
  return { tokensIn: count(input), tokensOut: count(output), cachedTokensIn: cached, cacheWriteTokensIn: 0 };
}

/** The usage to record: what the provider reported, the estimate for what it did not. */
export function usageToRecord(usage: unknown, estimate: { tokensIn: number; tokensOut: number }, v5Anthropic?: { cacheCreationInputTokens?: unknown }): CallUsage {
  const u = readUsage(usage, v5Anthropic);
  const tokensIn = u?.tokensIn ?? estimate.tokensIn;
  return {
    tokensIn,
    tokensOut: u?.tokensOut ?? estimate.tokensOut,
    cachedTokensIn: Math.min(u?.cachedTokensIn ?? 0, tokensIn),
    cacheWriteTokensIn: Math.min(u?.cacheWriteTokensIn ?? 0, tokensIn),
  };
}
