/**
 * The pre-call estimate checked against the caps. Input: the request's text (messages,
 * system/instructions, tools, schemas) counted with the tokenizer, plus small fixed
 * overheads. Output: the request's own limit, else the model's output limit, because a
 * call may produce up to that much and the check must bound it. The provider adapters
 * say which parts of a body are text; the pieces they share are here.
 */
import { countParts } from './part-counts.js';
import { isObj, type CountTokens, type Endpoint, type Json, type RequestText, type TokenEstimate } from './types.js';

/** Per message/item framing tokens, and the reply priming, as in OpenAI's counting guide. */
export const PER_MESSAGE_TOKENS = 4;
export const REPLY_PRIMING_TOKENS = 3;
/** Non-text inputs cannot be tokenized as text; each counts as this many tokens. */
export const MEDIA_PART_TOKENS = 1600;
/** Output bound used when neither the request nor the model table gives one. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

// Output limits of the common models, first match wins. Only used when the request sets
// no max_tokens / max_completion_tokens / max_output_tokens (Anthropic requires one).
const OUTPUT_LIMITS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^gpt-5/, 128_000],
  [/^o[1-9]/, 100_000],
  [/^gpt-4\.1/, 32_768],
  [/^(chatgpt-)?gpt-4o/, 16_384],
  [/^gpt-4-turbo|^gpt-4-\d{4}-preview/, 4_096],
  [/^gpt-4/, 8_192],
  [/^gpt-3\.5/, 4_096],
  [/^claude-(opus-4|sonnet-4|3-7-sonnet)/, 64_000],
  [/^claude-3-5/, 8_192],
  [/^claude-/, 4_096],
];

export function modelOutputLimit(model: string): number {
  const name = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  for (const [re, limit] of OUTPUT_LIMITS) if (re.test(name)) return limit;
  return DEFAULT_MAX_OUTPUT_TOKENS;
}

/** A non-negative number as whole tokens (rounded up), else null. */
export function positiveInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.ceil(v) : null;
}

/** The body's `model` string, or null. */
export function bodyModel(body: Json): string | null {
  const m = body['model'];
  return typeof m === 'string' && m !== '' ? m : null;
}

/** Collects the text of a request and the count of fixed-cost pieces (messages, media). */
export class TextCollector {
  readonly parts: string[] = [];
  extra = 0;
  tokenIds = 0;

  text(v: unknown): void {
    if (typeof v === 'string' && v !== '') this.parts.push(v);
  }

  json(v: unknown): void {
    if (v !== undefined && v !== null) this.parts.push(JSON.stringify(v));
  }

  /** Walks message content of any shape: strings, content parts, tool calls. */
  content(v: unknown): void {
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) {
      for (const item of v) this.content(item);
      return;
    }
    if (!isObj(v)) return;
    const type = typeof v['type'] === 'string' ? v['type'] : '';
    if (MEDIA_TYPES.has(type)) {
      // A text document given inline is still text.
      const src = v['source'];
      if (isObj(src) && src['type'] === 'text') this.text(src['data']);
      else this.extra += MEDIA_PART_TOKENS;
      return;
    }
    for (const [key, value] of Object.entries(v)) {
      if (SKIP_KEYS.has(key)) continue;
      if (JSON_KEYS.has(key) && typeof value !== 'string') this.json(value);
      else this.content(value);
    }
  }

  message(m: unknown): void {
    this.extra += PER_MESSAGE_TOKENS;
    this.content(m);
  }

  messages(list: unknown): void {
    if (!Array.isArray(list)) return this.content(list);
    for (const m of list) this.message(m);
    this.extra += REPLY_PRIMING_TOKENS;
  }

  /** Strings, or lists of strings, or token ids (one number = one token). */
  textsOrTokenIds(input: unknown): void {
    const items = Array.isArray(input) ? input : [input];
    for (const item of items) {
      if (typeof item === 'string') this.text(item);
      else if (typeof item === 'number') this.tokenIds += 1;
      else if (Array.isArray(item)) this.tokenIds += item.length;
    }
  }

  result(): RequestText {
    return { parts: this.parts, extraTokens: this.extra, tokenIds: this.tokenIds };
  }
}

const MEDIA_TYPES = new Set(['image', 'image_url', 'input_image', 'document', 'file', 'input_file', 'input_audio', 'audio']);
// Identifiers, roles and binary payloads are not prompt text.
const SKIP_KEYS = new Set([
  'type', 'role', 'id', 'call_id', 'tool_call_id', 'tool_use_id', 'cache_control', 'signature', 'status', 'data', 'encrypted_content',
]);
// Structured arguments are sent as JSON, so count them as JSON.
const JSON_KEYS = new Set(['input', 'arguments', 'parameters', 'input_schema', 'schema']);

/** Input and output tokens of one request body at one endpoint. */
export async function estimateEndpoint(endpoint: Endpoint, body: Json, model: string, count: CountTokens): Promise<TokenEstimate> {
  const { parts, extraTokens, tokenIds } = endpoint.requestText(body);
  return { tokensIn: (await countParts(parts, count)) + extraTokens + tokenIds, tokensOut: endpoint.outputTokens(body, model) };
}
