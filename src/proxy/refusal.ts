import type { BlockReason } from '../lib/types.js';
import type { Provider } from './types.js';

/**
 * Error responses in each provider's own shape, so the official SDKs turn them into
 * their usual error classes with a readable message. A refusal is HTTP 402, which
 * neither SDK retries; `x-should-retry: false` (honoured by both) makes that explicit.
 */
export interface ProxyErrorResponse {
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
export function refusal(provider: Provider, reason: BlockReason | null, model: string): ProxyErrorResponse {
  return errorResponse(provider, 402, reason ?? 'blocked', blockMessage(reason, model), false);
}

/**
 * An error the proxy itself produces (check failed, upstream unreachable, bad path).
 * `retry` says whether the SDK may retry it.
 */
export function errorResponse(provider: Provider, status: number, code: string, message: string, retry: boolean): ProxyErrorResponse {
  const body =
    provider === 'anthropic'
      ? { type: 'error', error: { type: anthropicType(status), message } }
      : { error: { message, type: openaiType(status), param: null, code } };
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-should-retry': retry ? 'true' : 'false', 'x-noburn-error': code },
    body: JSON.stringify(body),
  };
}

// The error types each API uses for these statuses.
function anthropicType(status: number): string {
  if (status === 402) return 'billing_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function openaiType(status: number): string {
  if (status === 402) return 'insufficient_quota';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
