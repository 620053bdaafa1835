import type { BlockReason } from '../types.js';
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

/** The 402 for a request the guard refused. */
export function refusal(provider: ProviderAdapter, reason: BlockReason | null, model: string): ProviderErrorResponse {
  return errorResponse(provider, 402, reason ?? 'blocked', blockMessage(reason, model), false);
}

/**
 * An error noburn itself produces (check failed, upstream unreachable, bad path).
 * `retry` says whether the SDK may retry it.
 */
export function errorResponse(provider: ProviderAdapter, status: number, code: string, message: string, retry: boolean): ProviderErrorResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-should-retry': retry ? 'true' : 'false', 'x-noburn-error': code },
    body: JSON.stringify(provider.errorBody(status, code, message)),
  };
}
