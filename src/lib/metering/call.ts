/**
 * One metered call, the part the `noburn run` proxy and guard.fetch() share: estimate the
 * request, check it against every cap, clamp its output bound when that is what does not
 * fit, prepare the body and the response meter, and settle afterwards (record the usage,
 * or free the hold of a call that was not billed). The callers keep only their transport:
 * the proxy its sockets and undici, guard.fetch its Request/Response. Written once so the
 * two cannot drift (the meter's fallback is the clamped bound, not the one asked for).
 */
import { NoburnValidationError } from '../errors.js';
import { mergeTags } from '../tags.js';
import { loadTokenCounter } from '../tokens.js';
import type { CheckRequest, Decision, PriceInfo, RecordRequest } from '../types.js';
import { estimateEndpoint } from './estimate.js';
import type { MeterOptions } from './meter.js';
import { errorResponse, refusal, type ProviderErrorResponse } from './refusal.js';
import type { CountTokens, Endpoint, Json, ProviderAdapter, TokenEstimate, Usage } from './types.js';

/** What a metered call needs from the guard (NoburnGuard satisfies it). */
export interface CallGuard {
  check(req: CheckRequest): Promise<Decision>;
  /** Returns at once and never throws (the guard delivers in the background). */
  record(req: RecordRequest): void;
  /** Frees an allowed call's hold without counting a call. Absent: a zero record marked not-made frees it. */
  release?(reservationId: string): void;
  /** The price the ledger uses for a model (`provider:model` accepted). */
  price?(model: string): Promise<PriceInfo>;
}

export interface CallRequest {
  guard: CallGuard;
  provider: ProviderAdapter;
  endpoint: Endpoint;
  /** The parsed request body; a clamped bound and a stream-usage request are written into it. */
  body: Json;
  model: string;
  countTokens: CountTokens;
  /** Hold the largest output bound that fits instead of refusing (the proxy's --no-clamp turns it off). */
  clamp: boolean;
  endUserId: string | undefined;
  runId: string | null | undefined;
  /** The price data's provider of the upstream (undefined: priced by model alone). */
  priceProvider: string | undefined;
  /** Tags of every call (`noburn run --tag`, guard.fetch({ tags })). */
  defaultTags?: Readonly<Record<string, string>> | undefined;
  /** The request's x-noburn-tags header (adds to defaultTags, winning per key); malformed: a 400. */
  tagHeader?: string | null | undefined;
}

/** An allowed call, ready to be sent. */
export interface AllowedCall {
  decision: Decision;
  estimate: TokenEstimate;
  /** The output held: what was asked, or less when the check clamped it. */
  heldOut: number;
  /** The request's bound was lowered to heldOut (written into the body). */
  clamped: boolean;
  /** The body to send when it was changed (clamped, stream usage asked for), else null: send the original bytes. */
  rewritten: string | null;
  /** For the ResponseMeter: usage it cannot read is charged at the input estimate and the output held. */
  meter: MeterOptions;
  /** What to charge when the meter itself fails: the input estimate and the output held. */
  fallback: Usage;
  /** After the call: `usage` is recorded; null (not answered, or an error status) frees the hold. */
  settle(usage: Usage | null): void;
}

export type CallStart =
  | { allowed: true; call: AllowedCall }
  /** Refused (`blocked` is the decision) or not checkable (`blocked` null): answer `response` and call nothing. */
  | { allowed: false; response: ProviderErrorResponse; blocked: Decision | null };

export async function startCall(r: CallRequest): Promise<CallStart> {
  const { guard, provider, endpoint, body, model } = r;
  const estimate = await estimateEndpoint(endpoint, body, model, r.countTokens);
  let decision: Decision;
  let tags: Record<string, string> | undefined;
  try {
    tags = mergeTags(r.defaultTags, r.tagHeader);
    // The input is the tokenizer's count, which the ledger scales to cover the provider's;
    // the output asked for is the request's bound (or the model's limit), clamped to fit.
    decision = await guard.check({
      model,
      estimatedTokensIn: estimate.tokensIn,
      estimatedTokensOut: estimate.tokensOut,
      runId: r.runId,
      endUserId: r.endUserId,
      provider: r.priceProvider,
      clamp: r.clamp,
      tokensInSource: 'tokenizer',
      tags,
    });
  } catch (e) {
    // A bad end-user id (too long, control characters) or bad tags are the caller's error, not noburn's.
    const bad = e instanceof NoburnValidationError;
    const msg = `noburn could not check this request: ${e instanceof Error ? e.message : String(e)}`;
    return { allowed: false, response: errorResponse(provider, bad ? 400 : 500, bad ? 'noburn_bad_request' : 'noburn_check_failed', msg, false), blocked: null };
  }
  // The refusal carries the figures (cap, spent, held, left, estimate, hint) under `noburn`.
  if (decision.blocked) return { allowed: false, response: refusal(provider, decision, model, endpoint.outputBound?.fieldOf(body)), blocked: decision };

  // A clamped bound is written into the request (added when the request set none).
  const heldOut = Math.min(decision.tokensOut, estimate.tokensOut);
  const clamped = heldOut < estimate.tokensOut && endpoint.outputBound !== null;
  if (clamped) endpoint.outputBound?.set(body, heldOut);
  // Some APIs (OpenAI chat) report a stream's usage only when asked: ask, and hide the
  // answer from a caller that did not ask itself.
  const strip = endpoint.ensureStreamUsage(body);
  // The held output also bounds what a stream may pass on, whatever the upstream does with the bound.
  const cutAt = endpoint.outputBound !== null && endpoint.isStream(body) ? { tokens: heldOut, count: await loadTokenCounter() } : null;
  const held: TokenEstimate = { tokensIn: estimate.tokensIn, tokensOut: heldOut };
  const fallback: Usage = { ...held, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
  let settled = false;
  const settle = (usage: Usage | null): void => {
    if (settled) return;
    settled = true;
    // A call the upstream refused or never answered is not billed: its hold is freed.
    if (usage === null) return releaseHold(r, decision.reservationId);
    guard.record({
      model,
      tokensIn: usage.tokensIn,
      tokensOut: usage.tokensOut,
      cachedTokensIn: usage.cachedTokensIn,
      cacheWriteTokensIn: usage.cacheWriteTokensIn,
      wasBlocked: false,
      runId: r.runId,
      reservationId: decision.reservationId,
      endUserId: r.endUserId,
      provider: r.priceProvider,
      tags,
    });
  };
  return {
    allowed: true,
    call: {
      decision,
      estimate,
      heldOut,
      clamped,
      rewritten: strip || clamped ? JSON.stringify(body) : null,
      meter: { endpoint, estimate: held, countTokens: r.countTokens, stripUsageChunk: strip, cutAt },
      fallback,
      settle,
    },
  };
}

/**
 * The model a request is priced by: on an Azure `…/deployments/NAME/…` path whose
 * deployment is mapped, the mapped model (Azure serves the deployment's model whatever the
 * body names), else the body's. `deployment` is the name in the path, or null.
 */
export function callModel(endpoint: Endpoint, body: Json, deployment: string | null, deployments: Readonly<Record<string, string>>): string | null {
  const mapped = deployment === null ? null : (deployments[deployment] ?? null);
  return mapped ?? endpoint.model(body);
}

/** The Azure deployment a path names (…/deployments/NAME/chat/completions), or null. */
export function deploymentOf(path: string): string | null {
  const m = /\/deployments\/([^/]+)\//.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1] as string);
  } catch {
    return null;
  }
}

/**
 * Frees the hold of a call that was not billed. Without the guard's release (older
 * guards), a zero record marked not-made frees it: no call and no spend, though the
 * ledger then counts it among the blocked calls.
 */
function releaseHold(r: CallRequest, reservationId: string | null): void {
  if (reservationId === null) return;
  if (r.guard.release) return r.guard.release(reservationId);
  r.guard.record({ model: r.model, tokensIn: 0, tokensOut: 0, wasBlocked: true, runId: r.runId, reservationId, endUserId: r.endUserId, provider: r.priceProvider });
}

/** Whether the ledger can price `model` (looked up once per model and provider in `memo`); a guard without price() is trusted. */
export async function priceKnown(guard: CallGuard, memo: Map<string, boolean>, model: string, provider: string | null | undefined): Promise<boolean> {
  const key = provider ? `${provider}:${model}` : model;
  let known = memo.get(key);
  if (known === undefined) {
    known = guard.price ? await guard.price(key).then((p) => p.source !== 'unknown', () => true) : true;
    memo.set(key, known);
  }
  return known;
}

/** The 402 for a call noburn cannot price (provider-shaped, not retried); `allowHow` names the switch that forwards such calls. */
export function unmeteredRefusal(provider: ProviderAdapter, why: string, allowHow: string): ProviderErrorResponse {
  const msg = `Refused by noburn (unmetered_request): ${why}, so this call cannot be checked against the caps (${allowHow} forwards such calls)`;
  return errorResponse(provider, 402, 'unmetered_request', msg, false);
}
