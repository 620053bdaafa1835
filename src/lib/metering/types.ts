/**
 * The shapes of the metering core: what a provider adapter gives (src/lib/metering/providers)
 * and what the proxy, guard.fetch() and the AI SDK middleware consume. Nothing here knows
 * HTTP servers or undici: an adapter works on parsed JSON bodies and SSE `data:` payloads,
 * so it serves a `fetch` Response as well as the proxy's sockets.
 */
export type Json = Record<string, unknown>;

export function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The request shapes that are metered; anything else is passed through unmetered. */
export type EndpointKind = 'chat' | 'completions' | 'responses' | 'embeddings' | 'messages' | 'generate';

/** Token usage as the ledger wants it: cached reads and cache writes are parts of tokensIn. */
export interface Usage {
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
}

/** Counts tokens in text with a real tokenizer (src/lib/tokens.ts in production). */
export type CountTokens = (text: string) => Promise<number> | number;

export interface TokenEstimate {
  tokensIn: number;
  tokensOut: number;
}

/** The text of a request to tokenize, and the tokens that are counted without tokenizing. */
export interface RequestText {
  /** Each piece of text (a message's content, a tool's schema...), counted on its own. */
  parts: readonly string[];
  /** Per-message framing, reply priming, media parts. */
  extraTokens: number;
  /** Inputs given as token ids (one number = one token). */
  tokenIds: number;
}

/**
 * Follows the usage of one streamed response, event by event (each parsed `data:` payload).
 * When the stream ends without its final usage (cut off, aborted), what was seen still
 * counts.
 */
export interface StreamUsage {
  /** Feeds one parsed `data:` payload. */
  add(data: unknown): void;
  /** True once the event carrying the final usage has been seen. */
  readonly complete: boolean;
  /** The usage to record: the final one, else what the partial stream shows. */
  result(estimatedTokensIn: number, count: CountTokens): Promise<Usage>;
  /** Called with each piece of output text as it is seen (set by a meter that cuts streams at the hold). */
  onText: ((text: string) => void) | null;
  /** The usage of a stream cut after `tokensOut` output tokens: the input as far as the stream showed it, else the estimate. */
  cutUsage(estimatedTokensIn: number, tokensOut: number): Usage;
  /**
   * The SSE text that ends the stream, after the events seen so far, the way the provider
   * ends an answer that reached its output limit. `hideUsage`: the client did not ask
   * for a usage event (so none is added).
   */
  endAtLimit(usage: Usage, hideUsage: boolean): string;
}

/** The request's output limit, in the field this endpoint's API uses. */
export interface OutputBound {
  /** The field written when the request sets none (e.g. `max_completion_tokens`). */
  readonly field: string;
  /** The limit the request sets (per choice), or null when it sets none. */
  get(body: Json): number | null;
  /** The field the request sets its limit in, else `field`: the name to use when telling the caller. */
  fieldOf(body: Json): string;
  /**
   * Bounds the call's whole output to `tokens` (what outputTokens counts: per choice times
   * `n` choices): sets the limit in the field(s) the request already uses, else in `field`.
   */
  set(body: Json, tokens: number): void;
}

/** One metered endpoint of a provider: everything needed to estimate, bound and read a call. */
export interface Endpoint {
  readonly kind: EndpointKind;
  /** The model the call is priced by, or null when the request names none. */
  model(body: Json): string | null;
  /** The text to tokenize and the fixed extras for one request body. */
  requestText(body: Json): RequestText;
  /** The output tokens a call may produce: the request's own bound, else the model's limit (times `n` choices). */
  outputTokens(body: Json, model: string): number;
  /** null for endpoints that produce no output tokens (embeddings). */
  readonly outputBound: OutputBound | null;
  /** Whether the request asks for a streamed answer. */
  isStream(body: Json): boolean;
  /**
   * Makes a streamed request report its usage when the API only does so on request.
   * Returns true when it changed the body: the usage event the API then adds must be
   * hidden from a client that did not ask for it (see isAddedUsageEvent).
   */
  ensureStreamUsage(body: Json): boolean;
  /** The usage-only event that ensureStreamUsage made the API add. */
  isAddedUsageEvent(data: unknown): boolean;
  /** Usage from a whole (non-streamed) JSON response body, or null when it has none. */
  usage(body: unknown): Usage | null;
  /** A fresh follower for one streamed response. */
  streamUsage(): StreamUsage;
}

/** A provider's error body for a status, an error code and a message (its official SDKs parse it). */
export type ErrorBody = (status: number, code: string, message: string) => unknown;

/**
 * One provider, as the proxy and the library see it. Adding a provider is one file that
 * exports one of these, plus one line in providers/index.ts (docs/run.md).
 */
export interface ProviderAdapter {
  /** 'openai', 'anthropic', ...: the name passed to check/record and the upstream's key. */
  readonly id: string;
  /** The proxy's path prefix for this provider (e.g. '/openai/v1'); what follows it is appended to the upstream base. */
  readonly prefix: string;
  /**
   * The base-URL variables the provider's official SDKs read: noburn run takes the
   * upstream from the first one set, and gives the child all of them pointing at the proxy.
   */
  readonly baseUrlEnv: readonly string[];
  /**
   * The API key variables its SDKs read: with one set (and no base URL), noburn run opens a
   * connection to the default upstream while the child starts (the child will likely call it).
   */
  readonly apiKeyEnv?: readonly string[];
  /** The upstream base when none of baseUrlEnv is set, with the same path convention as the SDKs. */
  readonly defaultUpstream: string;
  /** The metered endpoint for a path after the base (e.g. '/chat/completions'), or null: passed through. */
  endpoint(path: string): Endpoint | null;
  /** The endpoint a body alone looks like, for callers that have no path (estimateRequest without one). */
  endpointForBody(body: Json): Endpoint | null;
  readonly errorBody: ErrorBody;
  /** The end user a request body names in this provider's own field (OpenAI `user`), or null. */
  endUser?(body: Json): string | null;
  /**
   * POST paths (after the prefix) that cost nothing (token counting, moderation, file
   * upload): passed through unmetered even when unmetered calls are refused. Other POSTs
   * that match no metered endpoint (images, audio...) are refused unless allowed.
   */
  freeEndpoint?(path: string): boolean;
  /**
   * POST paths (a tail of the URL's path) this provider bills but noburn cannot price
   * (OpenAI images, audio): guard.fetch() refuses them on any host, as the proxy does
   * every unmetered POST under its prefix. Only paths no other API would use.
   */
  unpricedEndpoint?(path: string): boolean;
  /**
   * The path at the upstream for a path after the prefix, when an SDK's base-URL shape
   * differs from the upstream's (Anthropic with or without /v1). Absent: unchanged.
   * endpoint() and freeEndpoint() see the mapped path.
   */
  upstreamPath?(path: string): string;
}
