import type { CountTokens } from '../lib/metering/types.js';
import type { BlockReason, CheckRequest, Decision, PriceInfo, RecordRequest } from '../lib/types.js';

/**
 * What the proxy needs from the guard. NoburnGuard satisfies it; keeping the proxy to
 * these two calls makes the decision and the settlement the library's job, not ours.
 */
export interface ProxyGuard {
  check(req: CheckRequest): Promise<Decision>;
  /** Returns at once and never throws (the guard delivers in the background). */
  record(req: RecordRequest): void;
  /** Frees an allowed call's hold without counting a call (a failed upstream call). Absent: the hold expires. */
  release?(reservationId: string): void;
  /** Warms the guard's own path for the run before the first call, changing nothing (warm.ts). Absent: not warmed. */
  warmUp?(runId: string, like?: { endUserId?: string | null | undefined; tags?: Readonly<Record<string, string>> | undefined }): Promise<void>;
  /** The price the ledger uses for a model (`provider:model` accepted); used only with --allow-unmetered. */
  price?(model: string): Promise<PriceInfo>;
}

export type { CountTokens, Usage } from '../lib/metering/types.js';

/**
 * The upstream base per provider id (src/lib/metering/providers), with the path
 * convention of that provider's SDKs (OpenAI: with /v1; Anthropic: without). A provider
 * left out uses its adapter's default upstream.
 */
export type Upstreams = Readonly<Record<string, string>>;

/** Per-model figures the proxy saw, for the wrapper's summary. */
export interface ModelStats {
  model: string;
  calls: number;
  blockedCalls: number;
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
  /** Allowed calls the upstream failed (4xx/5xx, unreachable): not billed, not in `calls`. */
  errors: number;
  /** Streams the proxy ended at their hold (the upstream went on past the output bound). */
  cutStreams: number;
  /** Answers that reported more output than was held (a non-streamed answer from an upstream that ignored the bound). */
  overHolds: number;
}

export interface ProxyOptions {
  guard: ProxyGuard;
  /** The run every request is checked against and recorded to. */
  runId: string;
  upstreams: Upstreams;
  countTokens: CountTokens;
  /** Called for each request the guard refused (before the 402 is sent). */
  onBlocked?: ((reason: BlockReason | null, model: string) => void) | undefined;
  /**
   * true (the default): a call whose output bound does not fit is clamped (the largest
   * output that fits is held and the request's bound rewritten to it) rather than refused.
   * false (`noburn run --no-clamp`): strict refusal.
   */
  clamp?: boolean | undefined;
  /** Largest request body the proxy reads to meter (default 64 MiB); larger ones get 413. */
  maxBodyBytes?: number | undefined;
  /** `noburn run --user`: the end user of calls that name none (x-noburn-user header, body fields). */
  defaultUser?: string | null | undefined;
  /** `noburn run --tag`: tags of every call (a request's x-noburn-tags header adds to them, winning per key). */
  defaultTags?: Readonly<Record<string, string>> | undefined;
  /** Forward calls that cannot be priced (unknown endpoint or model, unreadable body) instead of refusing them. */
  allowUnmetered?: boolean | undefined;
  /** Azure deployment name -> the model it serves. */
  azureDeployments?: Readonly<Record<string, string>> | undefined;
  /**
   * Load the tokenizer and take a call through the request path (against a stub, nothing
   * checked or recorded) before startProxy resolves, so the first real call is not the
   * one that pays for it (warm.ts). `noburn run` does; default false.
   */
  warmUp?: boolean | undefined;
  /**
   * Upstream origins to open one connection to at once (no request is sent), handed to the
   * first call to each (preconnect.ts). `noburn run` passes routes.preconnectOrigins.
   */
  preconnect?: readonly string[] | undefined;
}

export interface RunningProxy {
  /** http://127.0.0.1:PORT/SECRET: the proxy's base, the per-run secret included (secret.ts). */
  readonly url: string;
  /** http://127.0.0.1:PORT, without the secret (what reports show). */
  readonly origin: string;
  /** The values to give the child: every adapter's base-URL variables, pointing at the proxy. */
  readonly env: Readonly<Record<string, string>>;
  stats(): ModelStats[];
  /** Calls noburn could not price: forwarded (--allow-unmetered) and refused. */
  unmetered(): { forwarded: number; refused: number };
  /** Stops listening, waits (up to timeoutMs) for requests in flight to be recorded, then closes the upstream pool. */
  close(timeoutMs?: number): Promise<void>;
}
