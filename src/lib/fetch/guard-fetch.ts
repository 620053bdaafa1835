import { NoburnValidationError } from '../errors.js';
import type { NoburnGuard } from '../guard.js';
import { estimateEndpoint } from '../metering/estimate.js';
import { meterResponse } from '../metering/fetch-meter.js';
import { errorResponse, refusal, type ProviderErrorResponse } from '../metering/refusal.js';
import { isObj, type Json } from '../metering/types.js';
import { providerForUrl } from '../pricing/price-data.js';
import { releaseHold } from '../release-hold.js';
import { estimateTokens, loadTokenCounter } from '../tokens.js';
import { TAGS_HEADER, mergeTags } from '../tags.js';
import { matchEndpoint } from './match.js';

export interface GuardFetchOptions {
  /** The end user every call through this fetch is charged to; a request's `x-noburn-user` header overrides it. */
  endUserId?: string | undefined;
  /** The run the calls belong to; defaults to the guard's (NOBURN_RUN_ID). null: no run. */
  runId?: string | null | undefined;
  /** Tags of every call through this fetch (`{ feature: 'search' }`); a request's `x-noburn-tags` header adds to them (its value wins per key). */
  tags?: Record<string, string> | undefined;
  /** The fetch that sends the requests (default: the global fetch), e.g. one with a proxy agent. */
  fetch?: typeof fetch | undefined;
}

/** Per-request attribution header: read, then removed before the request leaves. */
export const USER_HEADER = 'x-noburn-user';

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = Parameters<typeof fetch>[1];

/**
 * A fetch that meters the LLM calls passing through it exactly as `noburn run`'s proxy
 * does, with the same metering core: estimate the request, check it against every cap,
 * forward it, record the usage the provider reports (a stream's included; a stream cut
 * or aborted is charged for what arrived), free the hold when the call fails. A refused
 * call is answered with the provider-shaped 402 that the official SDKs do not retry.
 * Anything that is not a metered LLM request passes through untouched.
 */
export function createGuardFetch(guard: NoburnGuard, opts: GuardFetchOptions = {}): typeof fetch {
  const send = opts.fetch ?? globalThis.fetch;
  // The price data's provider for each upstream (an OpenAI-compatible API may be Groq's...), looked up once.
  const priceProviders = new Map<string, Promise<string | undefined>>();
  const priceProvider = (url: URL, adapter: { id: string; defaultUpstream: string }): Promise<string | undefined> => {
    let p = priceProviders.get(url.origin);
    if (!p) {
      p = providerForUrl(url.href).then(
        (known) => known ?? (url.host === new URL(adapter.defaultUpstream).host ? adapter.id : undefined),
        () => undefined,
      );
      priceProviders.set(url.origin, p);
    }
    return p;
  };
  return async (input: FetchInput, init?: FetchInit): Promise<Response> => {
    const request = input instanceof Request ? input : null;
    const url = new URL(request ? request.url : String(input));
    const headers = new Headers(init?.headers ?? request?.headers);
    const user = headers.get(USER_HEADER);
    const tagHeader = headers.get(TAGS_HEADER);
    const stripped = user !== null || tagHeader !== null;
    headers.delete(USER_HEADER);
    headers.delete(TAGS_HEADER);
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const passThrough = () => (stripped ? send(input, { ...init, headers }) : send(input, init));

    const match = method === 'POST' ? matchEndpoint(url, headers) : null;
    if (!match) return passThrough();
    const raw = await bodyText(request, init);
    if (raw === null) return passThrough();
    let body: unknown = null;
    try {
      body = JSON.parse(raw);
    } catch {
      // not JSON: the provider will refuse it; nothing to meter
    }
    const model = isObj(body) ? match.endpoint.model(body) : null;
    if (!isObj(body) || model === null) return passThrough();

    const { provider, endpoint } = match;
    // As the proxy: the header, else the provider's own field in the body (OpenAI `user` /
    // `safety_identifier`, Anthropic `metadata.user_id`), else this fetch's endUserId.
    const endUserId = user ?? provider.endUser?.(body as Json) ?? opts.endUserId;
    const estimate = await estimateEndpoint(endpoint, body, model, estimateTokens);
    const pricedBy = await priceProvider(url, provider);
    let decision;
    let tags: Record<string, string> | undefined;
    try {
      tags = mergeTags(opts.tags, tagHeader);
      // clamp: when the request's output bound does not fit, hold the largest one that does
      // (down to minTokensOut) and send the request with it, instead of refusing.
      decision = await guard.check({
        model,
        estimatedTokensIn: estimate.tokensIn,
        estimatedTokensOut: estimate.tokensOut,
        endUserId,
        runId: opts.runId,
        provider: pricedBy,
        clamp: endpoint.outputBound !== null,
        tokensInSource: 'tokenizer',
        tags,
      });
    } catch (e) {
      // As the proxy: a bad end-user id (too long, control characters) or bad tags are the caller's error.
      const bad = e instanceof NoburnValidationError;
      const msg = `noburn could not check this request: ${e instanceof Error ? e.message : String(e)}`;
      return answer(errorResponse(provider, bad ? 400 : 500, bad ? 'noburn_bad_request' : 'noburn_check_failed', msg, false));
    }
    // The refusal carries the figures (cap, spent, held, left, estimate, hint) under `noburn`.
    if (decision.blocked) return answer(refusal(provider, decision, model, endpoint.outputBound?.fieldOf(body as Json)));

    // Some APIs (OpenAI chat) report a stream's usage only when asked: ask, and hide the
    // answer from a caller that did not ask itself.
    // The output held: what was asked, or less when the check clamped it; a clamped bound is
    // written into the request (added when it set none), as the proxy does.
    const heldOut = Math.min(decision.tokensOut, estimate.tokensOut);
    const clamped = heldOut < estimate.tokensOut && endpoint.outputBound !== null;
    if (clamped) endpoint.outputBound?.set(body as Json, heldOut);
    const strip = endpoint.ensureStreamUsage(body as Json);
    headers.delete('content-length');
    let upstream: Response;
    try {
      upstream = await send(url, {
        ...(request ? { signal: request.signal } : {}),
        ...init,
        method,
        headers,
        body: strip || clamped ? JSON.stringify(body) : raw,
      });
    } catch (e) {
      // Never answered (network error, aborted before the response): nothing to charge.
      releaseHold(guard, decision.reservationId);
      throw e;
    }
    if (!upstream.ok) {
      // The providers do not bill a refused or failed request.
      releaseHold(guard, decision.reservationId);
      return upstream;
    }
    // The output held bounds what a stream may pass on, whatever the upstream does with the bound (as in the proxy).
    const cutAt = endpoint.outputBound !== null && endpoint.isStream(body as Json) ? { tokens: heldOut, count: await loadTokenCounter() } : null;
    // Usage the response does not report is charged at the input estimate and the output held.
    const metered = meterResponse(upstream, { endpoint, estimate: { tokensIn: estimate.tokensIn, tokensOut: heldOut }, countTokens: estimateTokens, stripUsageChunk: strip, cutAt });
    void metered.usage.then((u) =>
      guard.record({ model, ...u, wasBlocked: false, endUserId, runId: opts.runId, reservationId: decision.reservationId, provider: pricedBy, tags }),
    );
    return metered.response;
  };
}

/** The request body as text, or null when it is not text we can read without consuming it (a stream, a form). */
async function bodyText(request: Request | null, init: FetchInit): Promise<string | null> {
  const b = init?.body;
  if (b === undefined || b === null) return request && request.body !== null ? request.clone().text() : null;
  if (typeof b === 'string') return b;
  if (b instanceof ArrayBuffer) return new TextDecoder().decode(b);
  if (ArrayBuffer.isView(b)) return new TextDecoder().decode(b);
  return null;
}

function answer(r: ProviderErrorResponse): Response {
  return new Response(r.body, { status: r.status, headers: r.headers });
}
