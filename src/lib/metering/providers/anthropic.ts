/**
 * Anthropic Messages. Usage: input_tokens EXCLUDES cache_read_input_tokens and
 * cache_creation_input_tokens, so the three are added (reads are cached input, creations
 * cache writes). Streams: message_start gives the input counts, message_delta the
 * output count.
 */
import { bodyModel, modelOutputLimit, positiveInt, TextCollector } from '../estimate.js';
import { count, hasNumber, sseEvent, StreamText, stripNulls } from '../usage.js';
import { isObj, type Endpoint, type Json, type ProviderAdapter, type Usage } from '../types.js';

/** Usage from an Anthropic usage object. */
export function anthropicUsage(u: unknown): Usage | null {
  if (!isObj(u) || (!hasNumber(u, 'input_tokens') && !hasNumber(u, 'output_tokens'))) return null;
  const read = count(u['cache_read_input_tokens']);
  const write = count(u['cache_creation_input_tokens']);
  return { tokensIn: count(u['input_tokens']) + read + write, tokensOut: count(u['output_tokens']), cachedTokensIn: read, cacheWriteTokensIn: write };
}

export class MessagesStreamUsage extends StreamText {
  /** The usage of message_start, updated by message_delta (cumulative totals). */
  private seen: Json | null = null;
  /** The content block started and not yet stopped, which an end at the limit must close. */
  private openBlock: number | null = null;

  add(d: unknown): void {
    if (!isObj(d)) return;
    const type = d['type'];
    if (type === 'content_block_start' && typeof d['index'] === 'number') this.openBlock = d['index'];
    else if (type === 'content_block_stop') this.openBlock = null;
    if (type === 'message_start') {
      const m = d['message'];
      if (isObj(m) && isObj(m['usage'])) this.seen = { ...m['usage'] };
    } else if (type === 'message_delta' && isObj(d['usage'])) {
      // message_delta's counters are cumulative totals for the whole message (not
      // increments): they replace message_start's, as the official SDK does.
      this.seen = { ...(this.seen ?? {}), ...stripNulls(d['usage']) };
      this.final = anthropicUsage(this.seen);
    } else if (type === 'content_block_delta' && isObj(d['delta'])) {
      const delta = d['delta'];
      this.keep(delta['text']);
      this.keep(delta['partial_json']);
      this.keep(delta['thinking']);
    }
  }

  protected override partial(): Usage | null {
    return this.seen ? anthropicUsage(this.seen) : null;
  }

  /** content_block_stop for an open block, message_delta with stop_reason "max_tokens", message_stop. */
  endAtLimit(u: Usage): string {
    let out = this.openBlock === null ? '' : sseEvent({ type: 'content_block_stop', index: this.openBlock }, 'content_block_stop');
    out += sseEvent({ type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: u.tokensOut } }, 'message_delta');
    return out + sseEvent({ type: 'message_stop' }, 'message_stop');
  }
}

export const MESSAGES: Endpoint = {
  kind: 'messages',
  model: bodyModel,
  requestText(body) {
    const c = new TextCollector();
    c.content(body['system']);
    c.messages(body['messages']);
    c.json(body['tools']);
    return c.result();
  },
  outputTokens: (body, model) => positiveInt(body['max_tokens']) ?? modelOutputLimit(model),
  outputBound: {
    field: 'max_tokens',
    get: (body) => positiveInt(body['max_tokens']),
    fieldOf: () => 'max_tokens',
    set(body, tokens) {
      body['max_tokens'] = tokens;
    },
  },
  isStream: (body) => body['stream'] === true,
  // Anthropic streams always carry their usage.
  ensureStreamUsage: () => false,
  isAddedUsageEvent: () => false,
  usage: (b) => (isObj(b) ? anthropicUsage(b['usage']) : null),
  streamUsage: () => new MessagesStreamUsage(),
};

// The error types Anthropic uses for these statuses.
function errorType(status: number): string {
  if (status === 402) return 'billing_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export const anthropic: ProviderAdapter = {
  id: 'anthropic',
  // The Anthropic SDKs expect a base without the version and append "/v1/messages".
  prefix: '/anthropic',
  baseUrlEnv: ['ANTHROPIC_BASE_URL'],
  apiKeyEnv: ['ANTHROPIC_API_KEY'],
  defaultUpstream: 'https://api.anthropic.com',
  // The official SDK appends "/v1/messages" to a base without the version; @ai-sdk/anthropic
  // appends "/messages" to one with it. Both shapes reach the same upstream path.
  upstreamPath: (path) => (path === '/v1' || path.startsWith('/v1/') ? path : `/v1${path}`),
  endpoint: (path) => (path.replace(/\/+$/, '') === '/v1/messages' ? MESSAGES : null),
  freeEndpoint: (path) => /^\/v1\/(messages\/count_tokens|files)\/?$/.test(path),
  endpointForBody: (body) => ('messages' in body ? MESSAGES : null),
  errorBody: (status, _code, message) => ({ type: 'error', error: { type: errorType(status), message } }),
  endUser(body) {
    const m = body['metadata'];
    const id = isObj(m) ? m['user_id'] : undefined;
    return typeof id === 'string' && id !== '' ? id : null;
  },
};
