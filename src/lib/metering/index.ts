/**
 * The metering core (docs/run.md "Adding a provider"): per-provider adapters that
 * estimate a request, bound its output, and read its usage from a JSON body or a stream.
 * Used by the `noburn run` proxy, guard.fetch() and the AI SDK middleware. No HTTP server
 * or undici here: it works on parsed bodies and Uint8Array chunks.
 */
import { NoburnValidationError } from '../errors.js';
import { estimateTokens } from '../tokens.js';
import { estimateEndpoint } from './estimate.js';
import { providerById } from './providers/index.js';
import type { CountTokens, Endpoint, Json, ProviderAdapter, TokenEstimate } from './types.js';
import { isObj } from './types.js';

export type * from './types.js';
export { isObj } from './types.js';
export { PROVIDERS, providerById, FALLBACK_PROVIDER } from './providers/index.js';
export { openaiUsage, isUsageOnlyChunk } from './providers/openai.js';
export { anthropicUsage } from './providers/anthropic.js';
export { ZERO_USAGE } from './usage.js';
export { ResponseMeter, type MeterOptions } from './meter.js';
export { meterResponse, type MeteredResponse } from './fetch-meter.js';
export { SseSplitter, type SseEvent } from './sse.js';
export { blockMessage, errorResponse, refusal, type ProviderErrorResponse } from './refusal.js';
export { estimateEndpoint, modelOutputLimit, DEFAULT_MAX_OUTPUT_TOKENS, MEDIA_PART_TOKENS, PER_MESSAGE_TOKENS, REPLY_PRIMING_TOKENS } from './estimate.js';

export interface RequestEstimate extends TokenEstimate {
  model: string;
  endpoint: Endpoint;
}

/** The adapter for a provider id; throws NoburnValidationError naming the known ones. */
export function requireProvider(id: string): ProviderAdapter {
  const p = providerById(id);
  if (!p) throw new NoburnValidationError(`unknown provider ${JSON.stringify(id)}`);
  return p;
}

/**
 * Estimates one request body for a provider: input tokens with the tokenizer (loaded
 * lazily), output tokens from the request's bound or the model's limit. `path` (after the
 * API base, e.g. '/chat/completions') picks the endpoint; without it the body's shape
 * does. Returns null when the body is not a metered request (no endpoint, no model).
 */
export async function estimateRequest(
  provider: string,
  body: unknown,
  opts: { path?: string; countTokens?: CountTokens } = {},
): Promise<RequestEstimate | null> {
  if (!isObj(body)) return null;
  const adapter = requireProvider(provider);
  const endpoint = opts.path !== undefined ? adapter.endpoint(opts.path) : adapter.endpointForBody(body as Json);
  if (!endpoint) return null;
  const model = endpoint.model(body);
  if (model === null) return null;
  const e = await estimateEndpoint(endpoint, body, model, opts.countTokens ?? estimateTokens);
  return { ...e, model, endpoint };
}
