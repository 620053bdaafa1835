/**
 * OpenAI and the OpenAI-compatible APIs (Azure, OpenRouter, Groq, Mistral, vLLM...):
 * Chat Completions, Responses, legacy Completions and Embeddings.
 * Usage: Chat/Completions/Embeddings report prompt_tokens (which includes
 * prompt_tokens_details.cached_tokens); Responses report input_tokens (which includes
 * input_tokens_details.cached_tokens). OpenAI has no cache-write count.
 */
import { bodyModel, modelOutputLimit, positiveInt, TextCollector, REPLY_PRIMING_TOKENS } from '../estimate.js';
import { count, hasNumber, sseEvent, StreamText } from '../usage.js';
import { isObj, type Endpoint, type EndpointKind, type Json, type OutputBound, type ProviderAdapter, type Usage } from '../types.js';

/** Usage from an OpenAI-style object (prompt_tokens/completion_tokens or input_tokens/output_tokens). */
export function openaiUsage(u: unknown): Usage | null {
  if (!isObj(u)) return null;
  if (hasNumber(u, 'prompt_tokens') || hasNumber(u, 'completion_tokens')) {
    const details = u['prompt_tokens_details'];
    const cached = isObj(details) ? count(details['cached_tokens']) : 0;
    const tokensIn = count(u['prompt_tokens']);
    return { tokensIn, tokensOut: count(u['completion_tokens']), cachedTokensIn: Math.min(cached, tokensIn), cacheWriteTokensIn: 0 };
  }
  if (hasNumber(u, 'input_tokens') || hasNumber(u, 'output_tokens')) {
    const details = u['input_tokens_details'];
    const cached = isObj(details) ? count(details['cached_tokens']) : 0;
    const tokensIn = count(u['input_tokens']);
    return { tokensIn, tokensOut: count(u['output_tokens']), cachedTokensIn: Math.min(cached, tokensIn), cacheWriteTokensIn: 0 };
  }
  return null;
}

/** An OpenAI chat chunk that only carries usage: the one the proxy asked for on the client's behalf. */
export function isUsageOnlyChunk(chunk: unknown): boolean {
  return isObj(chunk) && Array.isArray(chunk['choices']) && chunk['choices'].length === 0 && isObj(chunk['usage']);
}

/** The usage object of a chat/completions answer, from ledger terms. */
function chatUsageJson(u: Usage): Json {
  return { prompt_tokens: u.tokensIn, completion_tokens: u.tokensOut, total_tokens: u.tokensIn + u.tokensOut, prompt_tokens_details: { cached_tokens: u.cachedTokensIn } };
}

/** Chat and legacy completions streams: the usage chunk is final; deltas carry the text. */
export class ChatStreamUsage extends StreamText {
  /** id, object, created, model... of the first chunk, repeated in the chunks noburn adds. */
  private head: Json | null = null;
  private readonly choiceIndexes = new Set<number>();
  /** The chunks carry a `usage` key: the stream was asked to report its usage. */
  private usageAsked = false;

  add(d: unknown): void {
    if (!isObj(d)) return;
    if (this.head === null) {
      const { choices: _c, usage: _u, ...head } = d;
      this.head = head;
    }
    if ('usage' in d) this.usageAsked = true;
    const usage = openaiUsage(d['usage']);
    if (usage) this.final = usage;
    const choices = d['choices'];
    if (!Array.isArray(choices)) return;
    for (const c of choices) {
      if (!isObj(c)) continue;
      if (typeof c['index'] === 'number') this.choiceIndexes.add(c['index']);
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

  /** A last chunk with finish_reason "length" for every choice, the usage chunk if the client asked for it, and [DONE]. */
  endAtLimit(usage: Usage, hideUsage: boolean): string {
    const head = this.head ?? { object: 'chat.completion.chunk' };
    const legacy = head['object'] === 'text_completion';
    const indexes = this.choiceIndexes.size > 0 ? [...this.choiceIndexes].sort((a, b) => a - b) : [0];
    const choices = indexes.map((index) => (legacy ? { index, text: '', logprobs: null, finish_reason: 'length' } : { index, delta: {}, logprobs: null, finish_reason: 'length' }));
    const withUsage = this.usageAsked && !hideUsage;
    let out = sseEvent({ ...head, choices, ...(withUsage ? { usage: null } : {}) });
    if (withUsage) out += sseEvent({ ...head, choices: [], usage: chatUsageJson(usage) });
    return out + sseEvent('[DONE]');
  }
}

/** Responses streams: response.completed (or .incomplete / .failed) carries the usage. */
export class ResponsesStreamUsage extends StreamText {
  /** The response object of response.created / .in_progress, for the response.incomplete noburn adds. */
  private response: Json | null = null;
  private sequence = -1;
  /** The output items so far (text and arguments accumulated), for the response.incomplete noburn adds. */
  private readonly items: Json[] = [];
  private pending: Json | null = null;

  add(d: unknown): void {
    if (!isObj(d)) return;
    const type = d['type'];
    if (typeof type !== 'string') return;
    if (typeof d['sequence_number'] === 'number') this.sequence = d['sequence_number'];
    if ((type === 'response.created' || type === 'response.in_progress') && isObj(d['response'])) this.response = d['response'];
    // Applied one event late: an event that takes a stream past its hold is not passed on,
    // so the output an end at the limit reports must not include it.
    if (this.pending) this.accumulate(this.pending);
    this.pending = d;
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      const r = d['response'];
      const usage = isObj(r) ? openaiUsage(r['usage']) : null;
      if (usage) this.final = usage;
    } else if (type.endsWith('.delta')) {
      this.keep(d['delta']);
    }
  }

  /** Keeps the output as the SDK's accumulator would (messages' text parts, function call arguments). */
  private accumulate(d: Json): void {
    const type = d['type'];
    const i = typeof d['output_index'] === 'number' ? d['output_index'] : -1;
    if ((type === 'response.output_item.added' || type === 'response.output_item.done') && isObj(d['item'])) {
      this.items[i] = structuredClone(d['item']);
      return;
    }
    const item = this.items[i];
    if (!item) return;
    const content = Array.isArray(item['content']) ? (item['content'] as unknown[]) : null;
    const j = typeof d['content_index'] === 'number' ? d['content_index'] : -1;
    if (type === 'response.content_part.added' && content && isObj(d['part'])) content[j] = structuredClone(d['part']);
    else if (type === 'response.output_text.delta' && content && isObj(content[j]) && typeof d['delta'] === 'string') {
      const part = content[j] as Json;
      part['text'] = `${typeof part['text'] === 'string' ? part['text'] : ''}${d['delta']}`;
    } else if (type === 'response.function_call_arguments.delta' && typeof d['delta'] === 'string') {
      item['arguments'] = `${typeof item['arguments'] === 'string' ? item['arguments'] : ''}${d['delta']}`;
    }
  }

  /** response.incomplete with incomplete_details.reason "max_output_tokens", as the API ends a capped answer. */
  endAtLimit(u: Usage): string {
    const usage = {
      input_tokens: u.tokensIn,
      input_tokens_details: { cached_tokens: u.cachedTokensIn },
      output_tokens: u.tokensOut,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: u.tokensIn + u.tokensOut,
    };
    const output = this.items.filter(isObj).map((item) => (item['status'] === 'in_progress' ? { ...item, status: 'incomplete' } : item));
    const response = { ...(this.response ?? { object: 'response' }), status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output, usage };
    return sseEvent({ type: 'response.incomplete', sequence_number: this.sequence + 1, response }, 'response.incomplete');
  }
}

// The output limit fields, in the order they take precedence when a request sets several.
const LIMIT_FIELDS = ['max_completion_tokens', 'max_output_tokens', 'max_tokens'] as const;

function limitOf(body: Json): number | null {
  for (const f of LIMIT_FIELDS) {
    const v = positiveInt(body[f]);
    if (v !== null) return v;
  }
  return null;
}

/**
 * Sets the limit in every limit field the request uses (so none is left larger), else in
 * `field`; with `n` choices each gets an equal share of the bound.
 */
function bound(field: string, perChoice: boolean): OutputBound {
  return {
    field,
    get: limitOf,
    fieldOf: (body) => LIMIT_FIELDS.find((f) => positiveInt(body[f]) !== null) ?? field,
    set(body, total) {
      const tokens = perChoice ? Math.floor(total / choices(body)) : total;
      let found = false;
      for (const f of LIMIT_FIELDS) {
        if (positiveInt(body[f]) !== null) {
          body[f] = tokens;
          found = true;
        }
      }
      if (!found) body[field] = tokens;
    },
  };
}

function choices(body: Json): number {
  return Math.max(1, positiveInt(body['n']) ?? 1);
}

const streamed = (body: Json): boolean => body['stream'] === true;

/** Chat/legacy completions report a stream's usage only when asked: ask, and hide the answer from a client that did not. */
function askStreamUsage(body: Json): boolean {
  if (body['stream'] !== true) return false;
  const so = body['stream_options'];
  if (isObj(so) && so['include_usage'] === true) return false;
  body['stream_options'] = { ...(isObj(so) ? so : {}), include_usage: true };
  return true;
}

const never = (): boolean => false;

function endpointOf(kind: EndpointKind, spec: Pick<Endpoint, 'requestText'> & Partial<Endpoint>): Endpoint {
  return {
    kind,
    model: bodyModel,
    outputTokens: (body, model) => (limitOf(body) ?? modelOutputLimit(model)) * (kind === 'chat' || kind === 'completions' ? choices(body) : 1),
    // Chat: max_completion_tokens (the field reasoning models accept); legacy completions: max_tokens.
    outputBound: bound(kind === 'responses' ? 'max_output_tokens' : kind === 'completions' ? 'max_tokens' : 'max_completion_tokens', kind === 'chat' || kind === 'completions'),
    isStream: streamed,
    ensureStreamUsage: never,
    isAddedUsageEvent: never,
    usage: (b) => (isObj(b) ? openaiUsage(b['usage']) : null),
    streamUsage: () => new ChatStreamUsage(),
    ...spec,
  };
}

export const CHAT = endpointOf('chat', {
  requestText(body) {
    const c = new TextCollector();
    c.messages(body['messages']);
    c.json(body['tools']);
    c.json(body['functions']);
    c.json(body['response_format']);
    return c.result();
  },
  ensureStreamUsage: askStreamUsage,
  isAddedUsageEvent: isUsageOnlyChunk,
});

export const COMPLETIONS = endpointOf('completions', {
  requestText(body) {
    const c = new TextCollector();
    c.textsOrTokenIds(body['prompt']);
    return c.result();
  },
  ensureStreamUsage: askStreamUsage,
  isAddedUsageEvent: isUsageOnlyChunk,
});

export const RESPONSES = endpointOf('responses', {
  requestText(body) {
    const c = new TextCollector();
    c.text(body['instructions']);
    if (typeof body['input'] === 'string') {
      c.message(body['input']);
      c.extra += REPLY_PRIMING_TOKENS;
    } else c.messages(body['input']);
    c.json(body['tools']);
    c.json(isObj(body['text']) ? body['text']['format'] : undefined);
    return c.result();
  },
  streamUsage: () => new ResponsesStreamUsage(),
});

export const EMBEDDINGS = endpointOf('embeddings', {
  requestText(body) {
    const c = new TextCollector();
    c.textsOrTokenIds(body['input']);
    return c.result();
  },
  outputTokens: () => 0,
  outputBound: null,
  isStream: never,
});

/** Azure-style deployment paths (…/deployments/NAME/chat/completions) end the same way. */
function endpoint(path: string): Endpoint | null {
  const p = path.replace(/\/+$/, '');
  if (p === '/chat/completions' || p.endsWith('/chat/completions')) return CHAT;
  if (p === '/responses') return RESPONSES;
  if (p === '/embeddings' || p.endsWith('/embeddings')) return EMBEDDINGS;
  if (p === '/completions' || p.endsWith('/completions')) return COMPLETIONS;
  return null;
}

// POSTs that cost nothing: moderation, file uploads, token counting, cancelling.
const FREE = /^\/(moderations|files|uploads(\/[^/]+\/(parts|complete|cancel))?|responses\/input_tokens|responses\/[^/]+\/cancel)\/?$/;

// POSTs that are billed but not by tokens noburn can count: images and audio.
const UNPRICED = /^\/(images\/(generations|edits|variations)|audio\/(speech|transcriptions|translations))\/?$/;

function endpointForBody(body: Json): Endpoint | null {
  if ('messages' in body) return CHAT;
  if ('prompt' in body) return COMPLETIONS;
  if ('input' in body) return /embed/i.test(bodyModel(body) ?? '') ? EMBEDDINGS : RESPONSES;
  return null;
}

// The error types OpenAI uses for these statuses.
function errorType(status: number): string {
  if (status === 402) return 'insufficient_quota';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const openai: ProviderAdapter = {
  id: 'openai',
  // The OpenAI SDKs expect the API version in their base URL and append "/chat/completions".
  prefix: '/openai/v1',
  baseUrlEnv: ['OPENAI_BASE_URL'],
  apiKeyEnv: ['OPENAI_API_KEY'],
  defaultUpstream: 'https://api.openai.com/v1',
  endpoint,
  endpointForBody,
  freeEndpoint: (path) => FREE.test(path),
  unpricedEndpoint: (path) => UNPRICED.test(path),
  errorBody: (status, code, message) => ({ error: { message, type: errorType(status), param: null, code } }),
  // `user` is deprecated in favour of `safety_identifier`; either names the end user.
  endUser: (body) => nonEmpty(body['safety_identifier']) ?? nonEmpty(body['user']),
};

function nonEmpty(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
