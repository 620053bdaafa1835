import type { BlockReason, CheckRequest, Decision, RecordRequest } from '../lib/types.js';

/**
 * What the proxy needs from the guard. NoburnGuard satisfies it; keeping the proxy to
 * these two calls makes the decision and the settlement the library's job, not ours.
 */
export interface ProxyGuard {
  check(req: CheckRequest): Promise<Decision>;
  /** Returns at once and never throws (the guard delivers in the background). */
  record(req: RecordRequest): void;
}

export type Provider = 'openai' | 'anthropic';

/** The request shapes the proxy meters; anything else is passed through unmetered. */
export type EndpointKind = 'chat' | 'completions' | 'responses' | 'embeddings' | 'messages';

/** Token usage as the ledger wants it: cached reads and cache writes are parts of tokensIn. */
export interface Usage {
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
}

/** Counts tokens in text with a real tokenizer (src/lib/tokens.ts in production). */
export type CountTokens = (text: string) => Promise<number> | number;

export interface Upstreams {
  /** Includes the API version path, like OPENAI_BASE_URL: https://api.openai.com/v1 */
  openai: string;
  /** Without the version path, like ANTHROPIC_BASE_URL: https://api.anthropic.com */
  anthropic: string;
}

/** Per-model figures the proxy saw, for the wrapper's summary. */
export interface ModelStats {
  model: string;
  calls: number;
  blockedCalls: number;
  tokensIn: number;
  tokensOut: number;
  cachedTokensIn: number;
  cacheWriteTokensIn: number;
}

export interface ProxyOptions {
  guard: ProxyGuard;
  /** The run every request is checked against and recorded to. */
  runId: string;
  upstreams: Upstreams;
  countTokens: CountTokens;
  /** Called for each request the guard refused (before the 402 is sent). */
  onBlocked?: ((reason: BlockReason | null, model: string) => void) | undefined;
  /** Largest request body the proxy reads to meter (default 64 MiB); larger ones get 413. */
  maxBodyBytes?: number | undefined;
}

export interface RunningProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The values to give the child: OPENAI_BASE_URL and ANTHROPIC_BASE_URL. */
  readonly env: { OPENAI_BASE_URL: string; ANTHROPIC_BASE_URL: string };
  stats(): ModelStats[];
  /** Stops listening, waits (up to timeoutMs) for requests in flight to be recorded, then closes the upstream pool. */
  close(timeoutMs?: number): Promise<void>;
}
