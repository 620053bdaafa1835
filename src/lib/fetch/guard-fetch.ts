import type { NoburnGuard } from '../guard.js';
import { callModel, deploymentOf, priceKnown, startCall, unmeteredRefusal, type CallGuard } from '../metering/call.js';
import { meterResponse } from '../metering/fetch-meter.js';
import type { ProviderErrorResponse } from '../metering/refusal.js';
import { isObj, type ProviderAdapter } from '../metering/types.js';
import { providerForUrl } from '../pricing/price-data.js';
import { TAGS_HEADER } from '../tags.js';
import { estimateTokens } from '../tokens.js';
import { matchEndpoint, unmeteredProviderApi } from './match.js';

export interface GuardFetchOptions {
  /** The end user every call through this fetch is charged to; a request's `x-noburn-user` header overrides it. */
  endUserId?: string | undefined;
  /** The run the calls belong to; defaults to the guard's (NOBURN_RUN_ID). null: no run. */
  runId?: string | null | undefined;
  /** Tags of every call through this fetch (`{ feature: 'search' }`); a request's `x-noburn-tags` header adds to them (its value wins per key). */
  tags?: Record<string, string> | undefined;
  /** The fetch that sends the requests (default: the global fetch), e.g. one with a proxy agent. */
  fetch?: typeof fetch | undefined;
  /**
   * Forward LLM requests noburn cannot price (an endpoint it does not meter, a body it
   * cannot read, no model, a model with no price) instead of refusing them with a 402
   * `unmetered_request`; they are counted (`unmetered()`). Default: config `allowUnmetered` (false).
   */
  allowUnmetered?: boolean | undefined;
  /** Azure deployment name -> the model it serves, for deployment paths whose body names no model (added to config `azureDeployments`). */
  azureDeployments?: Readonly<Record<string, string>> | undefined;
}

/** guard.fetch()'s fetch, with the count of the LLM calls it could not price. */
export type GuardFetch = typeof fetch & {
  /** Calls noburn could not price: forwarded (allowUnmetered) and refused. */
  unmetered(): UnmeteredCounts;
};

export interface UnmeteredCounts {
  forwarded: number;
  refused: number;
}

/** What createGuardFetch needs of the guard. */
export type FetchGuard = CallGuard & Pick<NoburnGuard, 'config'>;

/** Per-request attribution header: read, then removed before the request leaves. */
export const USER_HEADER = 'x-noburn-user';

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = Parameters<typeof fetch>[1];

/**
 * A fetch that meters the LLM calls passing through it exactly as `noburn run`'s proxy
 * does, with the same metering core (lib/metering/call.ts): estimate the request, check it
 * against every cap, forward it, record the usage the provider reports (a stream's
 * included; a stream cut or aborted is charged for what arrived), free the hold when the
 * call fails. A refused call is answered with the provider-shaped 402 that the official
 * SDKs do not retry; so is an LLM call noburn cannot price, unless allowUnmetered.
 * Anything that is not an LLM request passes through untouched.
 */
export function createGuardFetch(guard: FetchGuard, opts: GuardFetchOptions = {}, counts: UnmeteredCounts = { forwarded: 0, refused: 0 }): typeof fetch {
  const send = opts.fetch ?? globalThis.fetch;
  const allowUnmetered = opts.allowUnmetered ?? guard.config.allowUnmetered;
  const deployments: Readonly<Record<string, string>> = { ...guard.config.azureDeployments, ...opts.azureDeployments };
  const knownPrices = new Map<string, boolean>();
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
    // An LLM call noburn cannot price: refused in the provider's shape (402, not retried)
    // unless allowUnmetered, which forwards it and counts it, as the proxy does.
    const unmetered = (provider: ProviderAdapter, why: string): Promise<Response> => {
      if (allowUnmetered) {
        counts.forwarded += 1;
        return passThrough();
      }
      counts.refused += 1;
      return Promise.resolve(answer(unmeteredRefusal(provider, why, 'guard.fetch({ allowUnmetered: true })')));
    };

    if (method !== 'POST') return passThrough();
    const match = matchEndpoint(url, headers);
    if (!match) {
      // A provider's API that costs but that noburn does not meter (images, audio...); other requests pass.
      const paid = unmeteredProviderApi(url);
      return paid ? unmetered(paid, `POST ${url.pathname} is not an endpoint noburn can price`) : passThrough();
    }
    const { provider, endpoint } = match;
    const raw = await bodyText(request, init);
    if (raw === null) return unmetered(provider, 'the request body is not one noburn can read (a stream or a form)');
    let body: unknown = null;
    try {
      body = JSON.parse(raw);
    } catch {
      // not JSON: nothing to price
    }
    if (!isObj(body)) return unmetered(provider, 'the request body is not a JSON object');
    const deployment = deploymentOf(url.pathname);
    const model = callModel(endpoint, body, deployment, deployments);
    if (model === null) {
      const why = deployment === null ? 'the request names no model' : `the Azure deployment "${deployment}" is not mapped to a model (guard.fetch({ azureDeployments: { "${deployment}": MODEL } }), or config azureDeployments)`;
      return unmetered(provider, why);
    }
    const pricedBy = await priceProvider(url, provider);
    // With allowUnmetered a model without a price is forwarded unmetered (counted), not refused.
    if (allowUnmetered && !(await priceKnown(guard, knownPrices, model, pricedBy))) return unmetered(provider, `the model ${model} has no price`);

    // Estimate, check, clamp, settle: the metering core's, as the proxy. The end user, as in
    // the proxy: the header, else the provider's own field in the body (OpenAI `user` /
    // `safety_identifier`, Anthropic `metadata.user_id`), else this fetch's endUserId.
    const start = await startCall({
      guard,
      provider,
      endpoint,
      body,
      model,
      countTokens: estimateTokens,
      // When the request's output bound does not fit, hold the largest one that does.
      clamp: endpoint.outputBound !== null,
      endUserId: user ?? provider.endUser?.(body) ?? opts.endUserId,
      runId: opts.runId,
      priceProvider: pricedBy,
      defaultTags: opts.tags,
      tagHeader,
    });
    if (!start.allowed) return answer(start.response);
    const { call } = start;
    headers.delete('content-length');
    let upstream: Response;
    try {
      upstream = await send(url, {
        ...(request ? { signal: request.signal } : {}),
        ...init,
        method,
        headers,
        body: call.rewritten ?? raw,
      });
    } catch (e) {
      // Never answered (network error, aborted before the response): nothing to charge.
      call.settle(null);
      throw e;
    }
    if (!upstream.ok) {
      // The providers do not bill a refused or failed request.
      call.settle(null);
      return upstream;
    }
    // Usage the response does not report is charged at the input estimate and the output held.
    const metered = meterResponse(upstream, call.meter);
    void metered.usage.then((u) => call.settle(u));
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
  if (b instanceof URLSearchParams) return b.toString();
  if (b instanceof Blob && !(b instanceof File)) return b.text();
  return null;
}

function answer(r: ProviderErrorResponse): Response {
  return new Response(r.body, { status: r.status, headers: r.headers });
}
