/**
 * Input-token estimation from text with gpt-tokenizer (o200k_base, the encoding of
 * current OpenAI models; for other providers it is an estimate, which is what a hold is).
 * The tokenizer is large: it is imported only when text is actually estimated.
 */
let encoder: Promise<(text: string) => number> | undefined;

/**
 * Special-token text in a prompt is counted as text, not refused. One options object for
 * every count: a new Set per call cost more than counting a short prompt.
 */
const COUNT_OPTIONS = { disallowedSpecial: new Set<string>() };

/** The synchronous counter, once loaded (for per-chunk counting on a stream's hot path). */
export function loadTokenCounter(): Promise<(text: string) => number> {
  encoder ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => (t: string) => m.countTokens(t, COUNT_OPTIONS));
  return encoder;
}

export async function estimateTokens(text: string): Promise<number> {
  const count = await loadTokenCounter();
  return count(text);
}
