import { formatUsd, usdToNano } from '../money.js';
import type { BlockReason, Decision, DecisionLimit } from '../types.js';
import type { ProviderAdapter } from './types.js';

/**
 * Error responses in each provider's own shape (the adapter's errorBody), so the
 * official SDKs turn them into their usual error classes with a readable message. A
 * refusal is HTTP 402, which no official SDK retries; `x-should-retry: false` (honoured
 * by the OpenAI and Anthropic SDKs) makes that explicit. Plain data: the proxy writes it
 * to a socket, guard.fetch() can build a Response from it.
 */
export interface ProviderErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const MESSAGES: Record<BlockReason, string> = {
  run_budget_exceeded: 'the run budget cap would be exceeded by this request',
  project_budget_exceeded: 'the project budget cap would be exceeded by this request',
  user_budget_exceeded: "the end user's budget cap would be exceeded by this request",
  model_budget_exceeded: 'the budget cap for this model would be exceeded by this request',
  tag_budget_exceeded: 'the budget cap for a tag of this request would be exceeded by it',
  run_not_found: 'the noburn run was not found',
  run_ended: 'the noburn run has ended',
  unknown_model_price: 'the model has no known price (set a price in noburn config.json, or unknownModel: "allow")',
  local_budget_exceeded: 'the local fallback budget cap would be exceeded by this request',
  noburn_unreachable: 'the noburn authority is unreachable and onError is "block"',
};

export function blockMessage(reason: BlockReason | null, model: string): string {
  const why = reason ? MESSAGES[reason] : 'the request was blocked';
  return `Blocked by noburn (${reason ?? 'blocked'}): ${why} [model ${model}]`;
}

/**
 * The figures of a refusal, under `noburn` in the provider's error object (docs/run.md).
 * Field names are stable; amounts in USD.
 */
export interface RefusalFigures {
  reason: BlockReason | null;
  model: string;
  /** The cap with the least room (the one that blocked), or null when no cap was the reason. */
  scope: DecisionLimit['scope'] | null;
  capUsd: number | null;
  spentUsd: number | null;
  /** Held by other calls in flight. */
  heldUsd: number | null;
  /** Room before this call. */
  leftUsd: number | null;
  /** This call's estimate (what would have been held). */
  estimate: { inputUsd: number; outputUsd: number; tokensIn: number; tokensOut: number };
  /** The largest output bound that fits every cap with this input; null when no cap applies. */
  maxTokensOut: number | null;
  /** What to change, e.g. "set max_completion_tokens <= 1234"; null when nothing in the request would help. */
  hint: string | null;
}

/** The parts of a decision a refusal reports (all of Decision in practice). */
export type RefusedDecision = Pick<Decision, 'blockReason' | 'tokensIn' | 'tokensOut' | 'estimate' | 'limit' | 'maxTokensOut' | 'hint'>;

export function refusalFigures(d: RefusedDecision, model: string, boundField?: string): RefusalFigures {
  const l = d.limit;
  // The ledger names the bound max_tokens whatever the API calls it; the caller knows the field.
  const hint = d.hint !== null && boundField !== undefined ? d.hint.replace(/\bmax_tokens\b/g, boundField) : d.hint;
  return {
    reason: d.blockReason,
    model,
    scope: l?.scope ?? null,
    capUsd: l?.capUsd ?? null,
    spentUsd: l?.spentUsd ?? null,
    heldUsd: l?.heldUsd ?? null,
    leftUsd: l?.leftUsd ?? null,
    estimate: { inputUsd: d.estimate.inputUsd, outputUsd: d.estimate.outputUsd, tokensIn: d.tokensIn, tokensOut: d.tokensOut },
    maxTokensOut: d.maxTokensOut,
    hint,
  };
}

const usd = (v: number): string => `$${formatUsd(usdToNano(Math.max(0, v)))}`;

/** The message with its figures, for people reading an SDK's exception. */
export function figuresMessage(f: RefusalFigures): string {
  let m = blockMessage(f.reason, f.model);
  if (f.capUsd !== null && f.scope !== null) {
    m += `: ${f.scope} cap ${usd(f.capUsd)}, spent ${usd(f.spentUsd ?? 0)}, held ${usd(f.heldUsd ?? 0)}, left ${usd(f.leftUsd ?? 0)}`;
    m += `; this call ${usd(f.estimate.inputUsd + f.estimate.outputUsd)} (input ${usd(f.estimate.inputUsd)}, output ${usd(f.estimate.outputUsd)})`;
  }
  return f.hint ? `${m}; ${f.hint}` : m;
}

/**
 * The 402 for a request the guard refused. Given the decision, the error carries the
 * figures (`noburn` in the error object) and says them in its message; `boundField`
 * names the request's output-bound field in the hint. A bare reason still works.
 */
export function refusal(provider: ProviderAdapter, decision: RefusedDecision | BlockReason | null, model: string, boundField?: string): ProviderErrorResponse {
  if (decision === null || typeof decision === 'string') return errorResponse(provider, 402, decision ?? 'blocked', blockMessage(decision, model), false);
  const figures = refusalFigures(decision, model, boundField);
  return errorResponse(provider, 402, decision.blockReason ?? 'blocked', figuresMessage(figures), false, figures);
}

/**
 * An error noburn itself produces (check failed, upstream unreachable, bad path).
 * `retry` says whether the SDK may retry it. `figures` go under `noburn` in the
 * provider's error object (where its SDKs expose it: openai `err.error.noburn`,
 * @anthropic-ai/sdk `err.error.error.noburn`).
 */
export function errorResponse(provider: ProviderAdapter, status: number, code: string, message: string, retry: boolean, figures?: RefusalFigures): ProviderErrorResponse {
  const body = provider.errorBody(status, code, message);
  if (figures) attachFigures(body, figures);
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-should-retry': retry ? 'true' : 'false', 'x-noburn-error': code },
    body: JSON.stringify(body),
  };
}

/** Puts the figures in the body's `error` object (both providers have one), else at the top. */
function attachFigures(body: unknown, figures: RefusalFigures): void {
  if (typeof body !== 'object' || body === null) return;
  const b = body as Record<string, unknown>;
  const err = b['error'];
  if (typeof err === 'object' && err !== null) (err as Record<string, unknown>)['noburn'] = figures;
  else b['noburn'] = figures;
}
