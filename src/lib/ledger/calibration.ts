/**
 * Input calibration: a check whose input count comes from a local tokenizer
 * (tokensInSource 'tokenizer') holds more input than it counted, so that the hold covers
 * the provider's own count (its tokenizer, hidden system tokens, images):
 *
 *   held = ceil(local * factor),  factor = max(margin(provider, model), learnt ratio * headroom)
 *
 * The margin is configured (`inputMargin`) with defaults below. The learnt ratio is what
 * the provider really reported divided by the local estimate, averaged over the settled
 * records of this ledger (one row per provider and model, updated when a record settles
 * a hold that carried a local estimate). See docs/semantics.md.
 */
import type { Calibration } from './store.js';

/** Built-in margins, by provider. OpenAI models use the tokenizer noburn ships (o200k/cl100k); others do not. */
export const DEFAULT_INPUT_MARGINS: Readonly<Record<string, number>> = {
  default: 1.3,
  openai: 1.2,
  azure: 1.2,
  anthropic: 1.35,
  google: 1.35,
};

/** The learnt ratio is applied with this headroom (the average hides the spread). */
export const RATIO_HEADROOM = 1.1;
/** Ratios outside this range are not learnt from (a truncated prompt, a cached reply...). */
export const MIN_RATIO = 0.25;
export const MAX_RATIO = 4;
/** Estimates below this many tokens are too noisy to learn from. */
export const MIN_LEARN_TOKENS = 16;

export type InputMargins = number | Readonly<Record<string, number>>;

/** The margin for a provider and model: `provider/model` > `model` > `provider` > `default`, configured then built in. */
export function marginFor(cfg: InputMargins | undefined, provider: string | null, model: string): number {
  const keys = [provider !== null ? `${provider}/${model}` : null, model, provider, 'default'].filter((k): k is string => k !== null);
  if (typeof cfg === 'number') return cfg;
  for (const k of keys) {
    const v = cfg?.[k];
    if (v !== undefined) return v;
  }
  for (const k of keys) {
    const v = DEFAULT_INPUT_MARGINS[k];
    if (v !== undefined) return v;
  }
  return DEFAULT_INPUT_MARGINS['default'] as number;
}

export function inputFactor(margin: number, cal: Calibration | null): number {
  if (cal === null) return margin;
  return Math.max(margin, Math.min(MAX_RATIO, cal.ratio * RATIO_HEADROOM));
}

/** Input tokens to hold for a local estimate. */
export function scaledTokensIn(local: number, factor: number): number {
  // Rounded to 1e-9 first so that 1000 * 1.2 is 1200, not 1201 (1.2 is not exact in binary).
  return Math.ceil(Math.round(local * factor * 1e9) / 1e9);
}

/** The ratio a settled record teaches, or null when it teaches nothing. */
export function learntRatio(localEstimate: number | null, reportedIn: number): number | null {
  if (localEstimate === null || localEstimate < MIN_LEARN_TOKENS || reportedIn <= 0) return null;
  const r = reportedIn / localEstimate;
  return r < MIN_RATIO || r > MAX_RATIO ? null : r;
}

/** A record whose real cost exceeds its hold. */
export function isOverHold(holdNano: number, costNano: number): boolean {
  return costNano > holdNano;
}
