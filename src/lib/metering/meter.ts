import { SseSplitter } from './sse.js';
import { ZERO_USAGE } from './usage.js';
import type { CountTokens, Endpoint, StreamUsage, TokenEstimate, Usage } from './types.js';

/** A successful call whose usage cannot be read is charged as estimated (an upper bound). */
function estimated(e: TokenEstimate): Usage {
  return { tokensIn: e.tokensIn, tokensOut: e.tokensOut, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
}

// A non-streaming body larger than this is not kept for parsing (it is still forwarded);
// its usage then falls back to the estimate.
const MAX_JSON_COPY_BYTES = 32 * 1024 * 1024;

export interface MeterOptions {
  endpoint: Endpoint;
  estimate: TokenEstimate;
  countTokens: CountTokens;
  /** ensureStreamUsage changed the request: drop the usage event it added before the client sees it. */
  stripUsageChunk: boolean;
}

/**
 * Watches one upstream response on its way to the client and works out its usage.
 * Bytes are forwarded as they arrive; only when the usage event the proxy asked for must
 * be dropped does it forward whole SSE events (holding back at most one unfinished event).
 * Works on plain Uint8Array chunks: a socket's or a fetch Response body's (meterResponse).
 */
export class ResponseMeter {
  private mode: 'sse' | 'json' | 'ignore' = 'ignore';
  private readonly splitter = new SseSplitter();
  private readonly stream: StreamUsage;
  private readonly copy: Uint8Array[] = [];
  private copyBytes = 0;
  private strip = false;
  /** A successful body the meter cannot read (compressed): charged as estimated. */
  private unreadable = false;

  constructor(private readonly opts: MeterOptions) {
    this.stream = opts.endpoint.streamUsage();
  }

  /** Call once with the upstream status and headers (lower-cased values). Returns whether the body length may change. */
  start(status: number, contentType: string, contentEncoding: string): boolean {
    // Errors are not billed by the providers; a compressed body cannot be read here
    // (the proxy asks for identity, so this only happens with a misbehaving upstream).
    if (status < 200 || status >= 300) {
      this.mode = 'ignore';
      return false;
    }
    if (contentEncoding !== '' && contentEncoding !== 'identity') {
      this.unreadable = true;
      return false;
    }
    this.mode = contentType.includes('text/event-stream') ? 'sse' : 'json';
    this.strip = this.mode === 'sse' && this.opts.stripUsageChunk;
    return this.strip;
  }

  /** Takes an upstream chunk; returns what to send on to the client (possibly empty). */
  push(chunk: Uint8Array): Uint8Array | string {
    if (this.mode === 'json') {
      this.copyBytes += chunk.length;
      if (this.copyBytes <= MAX_JSON_COPY_BYTES) this.copy.push(chunk);
      return chunk;
    }
    if (this.mode !== 'sse') return chunk;
    const events = this.splitter.push(chunk);
    if (!this.strip) {
      for (const ev of events) this.feed(ev.data);
      return chunk;
    }
    let out = '';
    for (const ev of events) {
      if (!this.feed(ev.data)) out += ev.raw;
    }
    return out;
  }

  /**
   * Ends the body (normally or cut off). Returns anything still held back for the
   * client, which the caller writes if the client is still there.
   */
  endBody(): string {
    if (this.mode !== 'sse') return '';
    let out = '';
    for (const ev of this.splitter.end()) {
      if (!this.feed(ev.data) && this.strip) out += ev.raw;
    }
    return out;
  }

  /** The usage to record for this exchange. Call after endBody(). */
  async usage(): Promise<Usage> {
    const { estimate, countTokens, endpoint } = this.opts;
    if (this.mode === 'ignore') return this.unreadable ? estimated(estimate) : ZERO_USAGE;
    if (this.mode === 'sse') return this.stream.result(estimate.tokensIn, countTokens);
    if (this.copyBytes <= MAX_JSON_COPY_BYTES) {
      let body: unknown = null;
      try {
        body = JSON.parse(Buffer.concat(this.copy).toString('utf8'));
      } catch {
        // cut off or not JSON: fall through to the estimate
      }
      const u = endpoint.usage(body);
      if (u) return u;
    }
    return estimated(estimate);
  }

  /** Meters one event's data; returns true when it is the added usage event to drop. */
  private feed(data: string | null): boolean {
    if (data === null || data === '[DONE]') return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return false;
    }
    this.stream.add(parsed);
    return this.strip && this.opts.endpoint.isAddedUsageEvent(parsed);
  }
}
