import type { CountTokens, Json, StreamUsage, Usage } from './types.js';

/**
 * Pieces shared by the adapters' usage readers. The ledger wants tokensIn to be the whole
 * input, with cached reads and cache writes as parts of it, so that they are priced at
 * their own rates; each adapter maps its API's counters onto that.
 */
export const ZERO_USAGE: Usage = { tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 };

/** A positive count, rounded; anything else is 0. */
export function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

export function hasNumber(o: Json, key: string): boolean {
  return typeof o[key] === 'number';
}

export function stripNulls(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

// Past this much streamed text we stop keeping it; the rest is counted at 4 chars a token.
const MAX_TEXT_CHARS = 4 * 1024 * 1024;

/**
 * The common part of a stream follower: the final usage once seen, and the streamed
 * output text, kept so that a stream cut off before its usage is still charged for the
 * output it passed on (tokenized at the end). Adapters subclass it and feed `keep`.
 */
export abstract class StreamText implements StreamUsage {
  /** The final usage, once the event that carries it has been seen. */
  protected final: Usage | null = null;
  private readonly text: string[] = [];
  private textChars = 0;
  private droppedChars = 0;

  onText: ((text: string) => void) | null = null;

  abstract add(data: unknown): void;
  abstract endAtLimit(usage: Usage, hideUsage: boolean): string;

  cutUsage(estimatedTokensIn: number, tokensOut: number): Usage {
    const partial = this.partial();
    return partial ? { ...partial, tokensOut } : { tokensIn: estimatedTokensIn, tokensOut, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
  }

  get complete(): boolean {
    return this.final !== null;
  }

  /** The usage a partial stream shows without its final event (e.g. Anthropic's message_start), or null. */
  protected partial(): Usage | null {
    return null;
  }

  async result(estimatedTokensIn: number, countTokens: CountTokens): Promise<Usage> {
    if (this.final) return this.final;
    const seenOut = this.text.length === 0 ? 0 : await countTokens(this.text.join(''));
    const textOut = seenOut + Math.ceil(this.droppedChars / 4);
    const partial = this.partial();
    if (partial) return { ...partial, tokensOut: Math.max(partial.tokensOut, textOut) };
    return { tokensIn: estimatedTokensIn, tokensOut: textOut, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
  }

  protected keep(v: unknown): void {
    if (typeof v !== 'string' || v === '' || this.final) return;
    this.onText?.(v);
    if (this.textChars + v.length > MAX_TEXT_CHARS) {
      this.droppedChars += v.length;
      return;
    }
    this.text.push(v);
    this.textChars += v.length;
  }
}

/** One SSE event as text: an optional `event:` line and one `data:` line. */
export function sseEvent(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
