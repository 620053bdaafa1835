import type { EndpointKind, Usage } from './types.js';

/**
 * Reading the real usage out of provider responses. The ledger wants tokensIn to be the
 * whole input, with cached reads and cache writes as parts of it, so that they are priced
 * at their own rates:
 * - OpenAI Chat/Completions/Embeddings: prompt_tokens (includes prompt_tokens_details.cached_tokens).
 * - OpenAI Responses: input_tokens (includes input_tokens_details.cached_tokens).
 * - Anthropic Messages: input_tokens EXCLUDES cache_read_input_tokens and
 *   cache_creation_input_tokens, so the three are added.
 */
type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

function has(o: Json, key: string): boolean {
  return typeof o[key] === 'number';
}

export const ZERO_USAGE: Usage = { tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 };

/** Usage from an OpenAI-style object (prompt_tokens/completion_tokens or input_tokens/output_tokens). */
export function openaiUsage(u: unknown): Usage | null {
  if (!isObj(u)) return null;
  if (has(u, 'prompt_tokens') || has(u, 'completion_tokens')) {
    const details = u['prompt_tokens_details'];
    const cached = isObj(details) ? n(details['cached_tokens']) : 0;
    const tokensIn = n(u['prompt_tokens']);
    return { tokensIn, tokensOut: n(u['completion_tokens']), cachedTokensIn: Math.min(cached, tokensIn), cacheWriteTokensIn: 0 };
  }
  if (has(u, 'input_tokens') || has(u, 'output_tokens')) {
    const details = u['input_tokens_details'];
    const cached = isObj(details) ? n(details['cached_tokens']) : 0;
    const tokensIn = n(u['input_tokens']);
    return { tokensIn, tokensOut: n(u['output_tokens']), cachedTokensIn: Math.min(cached, tokensIn), cacheWriteTokensIn: 0 };
  }
  return null;
}

/** Usage from an Anthropic usage object. */
export function anthropicUsage(u: unknown): Usage | null {
  if (!isObj(u) || (!has(u, 'input_tokens') && !has(u, 'output_tokens'))) return null;
  const read = n(u['cache_read_input_tokens']);
  const write = n(u['cache_creation_input_tokens']);
  return { tokensIn: n(u['input_tokens']) + read + write, tokensOut: n(u['output_tokens']), cachedTokensIn: read, cacheWriteTokensIn: write };
}

/** Usage from a whole (non-streaming) JSON response body. */
export function usageFromBody(kind: EndpointKind, body: unknown): Usage | null {
  if (!isObj(body)) return null;
  return kind === 'messages' ? anthropicUsage(body['usage']) : openaiUsage(body['usage']);
}

/** An OpenAI chat chunk that only carries usage: the one the proxy asked for on the client's behalf. */
export function isUsageOnlyChunk(chunk: unknown): boolean {
  return isObj(chunk) && Array.isArray(chunk['choices']) && chunk['choices'].length === 0 && isObj(chunk['usage']);
}

// Past this much streamed text we stop keeping it; the rest is counted at 4 chars a token.
const MAX_TEXT_CHARS = 4 * 1024 * 1024;

/**
 * Follows the usage of one streamed response, event by event. When the stream ends
 * without its final usage (cut off, aborted), what was seen still counts: Anthropic's
 * message_start usage, and the streamed output text, tokenized at the end.
 */
export class StreamUsage {
  /** The final usage, once the event that carries it has been seen. */
  private final: Usage | null = null;
  /** Anthropic: the usage of message_start, updated by message_delta (cumulative totals). */
  private anthropic: Json | null = null;
  private readonly text: string[] = [];
  private textChars = 0;
  private droppedChars = 0;

  constructor(private readonly kind: EndpointKind) {}

  /** Feeds one parsed `data:` payload. */
  add(data: unknown): void {
    if (!isObj(data)) return;
    if (this.kind === 'messages') this.addAnthropic(data);
    else if (this.kind === 'responses') this.addResponses(data);
    else this.addChat(data);
  }

  get complete(): boolean {
    return this.final !== null;
  }

  /** The usage to record: the final one, else what the partial stream shows. */
  async result(estimatedTokensIn: number, count: (text: string) => Promise<number> | number): Promise<Usage> {
    if (this.final) return this.final;
    const seenOut = this.text.length === 0 ? 0 : await count(this.text.join(''));
    const textOut = seenOut + Math.ceil(this.droppedChars / 4);
    const partial = this.anthropic ? anthropicUsage(this.anthropic) : null;
    if (partial) return { ...partial, tokensOut: Math.max(partial.tokensOut, textOut) };
    return { tokensIn: estimatedTokensIn, tokensOut: textOut, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
  }

  private keep(v: unknown): void {
    if (typeof v !== 'string' || v === '' || this.final) return;
    if (this.textChars + v.length > MAX_TEXT_CHARS) {
      this.droppedChars += v.length;
      return;
    }
    this.text.push(v);
    this.textChars += v.length;
  }

  private addChat(d: Json): void {
    const usage = openaiUsage(d['usage']);
    if (usage) this.final = usage;
    const choices = d['choices'];
    if (!Array.isArray(choices)) return;
    for (const c of choices) {
      if (!isObj(c)) continue;
      this.keep(c['text']);
      const delta = c['delta'];
      if (!isObj(delta)) continue;
      this.keep(delta['content']);
      this.keep(delta['refusal']);
      this.keep(delta['reasoning_content']);
      const calls = delta['tool_calls'];
      if (Array.isArray(calls)) {
        for (const call of calls) {
          if (!isObj(call) || !isObj(call['function'])) continue;
          this.keep(call['function']['name']);
          this.keep(call['function']['arguments']);
        }
      }
    }
  }

  private addResponses(d: Json): void {
    const type = d['type'];
    if (typeof type !== 'string') return;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      const r = d['response'];
      const usage = isObj(r) ? openaiUsage(r['usage']) : null;
      if (usage) this.final = usage;
    } else if (type.endsWith('.delta')) {
      this.keep(d['delta']);
    }
  }

  private addAnthropic(d: Json): void {
    const type = d['type'];
    if (type === 'message_start') {
      const m = d['message'];
      if (isObj(m) && isObj(m['usage'])) this.anthropic = { ...m['usage'] };
    } else if (type === 'message_delta' && isObj(d['usage'])) {
      // message_delta's counters are cumulative totals for the whole message (not
      // increments): they replace message_start's, as the official SDK does.
      this.anthropic = { ...(this.anthropic ?? {}), ...stripNulls(d['usage']) };
      this.final = anthropicUsage(this.anthropic);
    } else if (type === 'content_block_delta' && isObj(d['delta'])) {
      const delta = d['delta'];
      this.keep(delta['text']);
      this.keep(delta['partial_json']);
      this.keep(delta['thinking']);
    }
  }
}

function stripNulls(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}
