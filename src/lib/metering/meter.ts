import { SseSplitter, type SseEvent } from './sse.js';
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
  /**
   * Cut a stream once its output reaches `tokens` (the output held for the call): the
   * stream is then ended the way the provider ends a length-limited answer, and `cut`
   * turns true (the caller stops reading the upstream). `count` is the synchronous
   * tokenizer (lib/tokens loadTokenCounter), used only once the output is near the hold.
   */
  cutAt?: { tokens: number; count: (text: string) => number } | null | undefined;
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
  private readonly cutter: HoldCounter | null;
  /** The stream was ended at its hold: the caller must stop reading the upstream and close the client's body. */
  cut = false;

  constructor(private readonly opts: MeterOptions) {
    this.stream = opts.endpoint.streamUsage();
    this.cutter = opts.cutAt ? new HoldCounter(opts.cutAt.tokens, opts.cutAt.count) : null;
    if (this.cutter) {
      const c = this.cutter;
      this.stream.onText = (t) => c.text(t);
    }
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
    if (this.mode !== 'sse' || this.cut) return this.cut ? '' : chunk;
    if (this.cutter) return this.pushCutting(chunk);
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
    if (this.mode !== 'sse' || this.cut) return '';
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
    if (this.mode === 'sse') {
      if (this.cut && this.cutter) return this.stream.cutUsage(estimate.tokensIn, this.cutter.passed);
      return this.stream.result(estimate.tokensIn, countTokens);
    }
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

  /**
   * The push of a stream that may be cut: whole events are forwarded, and the event whose
   * output would pass the hold is replaced by the provider's end of a length-limited
   * answer. When a chunk is whole events and nothing is dropped (the usual case: upstreams
   * flush event by event), the chunk itself is returned, uncopied.
   */
  private pushCutting(chunk: Uint8Array): Uint8Array | string {
    const cutter = this.cutter as HoldCounter;
    const aligned = this.splitter.tail === '' && (chunk[chunk.length - 1] === 0x0a || chunk[chunk.length - 1] === 0x0d);
    const events = this.splitter.push(chunk);
    const kept: SseEvent[] = [];
    for (const ev of events) {
      cutter.startEvent();
      const drop = this.feed(ev.data);
      if (cutter.over) {
        this.cut = true;
        const usage = this.stream.cutUsage(this.opts.estimate.tokensIn, cutter.passed);
        return kept.map((e) => e.raw).join('') + this.stream.endAtLimit(usage, this.opts.stripUsageChunk);
      }
      if (!drop) kept.push(ev);
    }
    if (aligned && this.splitter.tail === '' && kept.length === events.length) return chunk;
    return kept.map((e) => e.raw).join('');
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

/**
 * Counts a stream's output against its hold without tokenizing on the hot path: a token
 * is at least one UTF-8 byte, so while the output's bytes stay within the hold it cannot
 * have passed it. Past that, the text seen is tokenized once, then each new piece.
 */
class HoldCounter {
  private bytes = 0;
  /** null until the bytes pass the hold; then the tokens counted. */
  private tokens: number | null = null;
  private readonly texts: string[] = [];
  /** Where the current event's text starts in `texts` (before counting began). */
  private eventStart = 0;
  /** Output tokens in the events already passed on. */
  passed = 0;
  over = false;

  constructor(
    private readonly hold: number,
    private readonly count: (text: string) => number,
  ) {}

  /** Called before each event: what was counted so far has been passed on. */
  startEvent(): void {
    if (this.tokens !== null) this.passed = this.tokens;
    this.eventStart = this.texts.length;
  }

  text(t: string): void {
    if (this.tokens !== null) {
      this.tokens += this.count(t);
    } else {
      this.texts.push(t);
      this.bytes += Buffer.byteLength(t, 'utf8');
      if (this.bytes <= this.hold) return;
      // Tokenize what came before this event apart, so `passed` is exactly what was passed on.
      this.passed = this.count(this.texts.slice(0, this.eventStart).join(''));
      this.tokens = this.passed + this.count(this.texts.slice(this.eventStart).join(''));
      this.texts.length = 0;
    }
    if (this.tokens > this.hold) this.over = true;
  }
}
