/**
 * Google Gemini API (generativelanguage.googleapis.com): models/MODEL:generateContent and
 * :streamGenerateContent (SSE with `?alt=sse`, else one JSON array sent in pieces),
 * :embedContent / :batchEmbedContents. The model is in the path, not the body.
 * Usage (usageMetadata): promptTokenCount includes cachedContentTokenCount; output is
 * candidatesTokenCount plus thoughtsTokenCount (thinking is billed as output);
 * toolUsePromptTokenCount is input too. Streams repeat usageMetadata, cumulative, in
 * every chunk: the last one seen is the call's.
 * The official @google/genai SDK reads GOOGLE_GEMINI_BASE_URL (without the API version:
 * it appends /v1beta/models/...). Vertex AI (GOOGLE_VERTEX_BASE_URL) is not metered.
 */
import { bodyModel, MEDIA_PART_TOKENS, modelOutputLimit, positiveInt, TextCollector } from '../estimate.js';
import { count, sseEvent, StreamText } from '../usage.js';
import { isObj, type Endpoint, type Json, type ProviderAdapter, type Usage } from '../types.js';

/** Usage from a Gemini usageMetadata object. */
export function geminiUsage(u: unknown): Usage | null {
  if (!isObj(u) || (typeof u['promptTokenCount'] !== 'number' && typeof u['candidatesTokenCount'] !== 'number')) return null;
  const tokensIn = count(u['promptTokenCount']) + count(u['toolUsePromptTokenCount']);
  const cached = Math.min(count(u['cachedContentTokenCount']), tokensIn);
  return { tokensIn, tokensOut: count(u['candidatesTokenCount']) + count(u['thoughtsTokenCount']), cachedTokensIn: cached, cacheWriteTokensIn: 0 };
}

/** A whole response: one object, or (streamGenerateContent without alt=sse) an array of chunks. */
function bodyUsage(b: unknown): Usage | null {
  if (Array.isArray(b)) {
    for (let i = b.length - 1; i >= 0; i--) {
      const u = isObj(b[i]) ? geminiUsage((b[i] as Json)['usageMetadata']) : null;
      if (u) return u;
    }
    return null;
  }
  return isObj(b) ? geminiUsage(b['usageMetadata']) : null;
}

export class GeminiStreamUsage extends StreamText {
  private last: Usage | null = null;

  add(d: unknown): void {
    if (!isObj(d)) return;
    const u = geminiUsage(d['usageMetadata']);
    if (u) this.last = u;
    const candidates = d['candidates'];
    if (!Array.isArray(candidates)) return;
    let finished = false;
    for (const c of candidates) {
      if (!isObj(c)) continue;
      if (typeof c['finishReason'] === 'string') finished = true;
      const content = c['content'];
      const parts = isObj(content) ? content['parts'] : undefined;
      if (!Array.isArray(parts)) continue;
      for (const p of parts) {
        if (!isObj(p)) continue;
        this.keep(p['text']);
        if (isObj(p['functionCall'])) this.keep(JSON.stringify(p['functionCall']));
      }
    }
    // The chunk that finishes the answer carries the final counts.
    if (finished && this.last) this.final = this.last;
  }

  protected override partial(): Usage | null {
    return this.last;
  }

  /** A last chunk with finishReason MAX_TOKENS and the usage, as Gemini ends an answer at its limit. */
  endAtLimit(u: Usage): string {
    const usageMetadata = { promptTokenCount: u.tokensIn, candidatesTokenCount: u.tokensOut, totalTokenCount: u.tokensIn + u.tokensOut };
    return sseEvent({ candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'MAX_TOKENS', index: 0 }], usageMetadata });
  }
}

function generationConfig(body: Json): Json | null {
  const g = body['generationConfig'] ?? body['generation_config'];
  return isObj(g) ? g : null;
}

function contentsText(c: TextCollector, contents: unknown): void {
  const list = Array.isArray(contents) ? contents : [contents];
  for (const item of list) {
    if (typeof item === 'string') {
      c.message(item);
      continue;
    }
    if (!isObj(item)) continue;
    c.extra += 4;
    parts(c, item['parts']);
  }
}

function parts(c: TextCollector, list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const p of list) {
    if (!isObj(p)) continue;
    if (typeof p['text'] === 'string') c.text(p['text']);
    else if (isObj(p['inlineData']) || isObj(p['fileData']) || isObj(p['inline_data']) || isObj(p['file_data'])) c.extra += MEDIA_PART_TOKENS;
    else c.json(p['functionCall'] ?? p['functionResponse'] ?? p['executableCode'] ?? p['codeExecutionResult']);
  }
}

function systemText(c: TextCollector, s: unknown): void {
  if (typeof s === 'string') c.text(s);
  else if (isObj(s)) parts(c, s['parts']);
}

function generate(model: string | null, streamed: boolean): Endpoint {
  return {
    kind: 'generate',
    model: (body) => model ?? bodyModel(body),
    requestText(body) {
      const c = new TextCollector();
      systemText(c, body['systemInstruction'] ?? body['system_instruction']);
      contentsText(c, body['contents']);
      c.json(body['tools']);
      const g = generationConfig(body);
      if (g) c.json(g['responseSchema'] ?? g['responseJsonSchema']);
      return c.result();
    },
    outputTokens(body, m) {
      const g = generationConfig(body);
      const max = (g ? positiveInt(g['maxOutputTokens']) : null) ?? modelOutputLimit(m);
      return max * Math.max(1, (g ? positiveInt(g['candidateCount']) : null) ?? 1);
    },
    outputBound: {
      field: 'generationConfig.maxOutputTokens',
      get: (body) => {
        const g = generationConfig(body);
        return g ? positiveInt(g['maxOutputTokens']) : null;
      },
      fieldOf: () => 'generationConfig.maxOutputTokens',
      // `tokens` bounds the whole output: split between the candidates asked for.
      set(body, tokens) {
        const g = generationConfig(body);
        const per = Math.max(1, Math.floor(tokens / Math.max(1, (g ? positiveInt(g['candidateCount']) : null) ?? 1)));
        if (g) g['maxOutputTokens'] = per;
        else body['generationConfig'] = { maxOutputTokens: per };
      },
    },
    isStream: () => streamed,
    ensureStreamUsage: () => false,
    isAddedUsageEvent: () => false,
    usage: bodyUsage,
    streamUsage: () => new GeminiStreamUsage(),
  };
}

function embed(model: string | null): Endpoint {
  return {
    kind: 'embeddings',
    model: (body) => model ?? bodyModel(body),
    requestText(body) {
      const c = new TextCollector();
      const requests = Array.isArray(body['requests']) ? body['requests'] : [body];
      for (const r of requests) if (isObj(r) && isObj(r['content'])) parts(c, r['content']['parts']);
      return c.result();
    },
    outputTokens: () => 0,
    outputBound: null,
    isStream: () => false,
    ensureStreamUsage: () => false,
    isAddedUsageEvent: () => false,
    usage: bodyUsage,
    streamUsage: () => new GeminiStreamUsage(),
  };
}

// /v1beta/models/gemini-2.5-flash:generateContent (also v1, v1alpha; tuned models too).
const ACTION = /^\/v1[a-z0-9]*\/(?:models|tunedModels)\/([^/:]+):([A-Za-z]+)$/;

function endpoint(path: string): Endpoint | null {
  const m = ACTION.exec(path.replace(/\/+$/, ''));
  if (!m) return null;
  const model = decodeURIComponent(m[1] as string);
  switch (m[2]) {
    case 'generateContent':
      return generate(model, false);
    case 'streamGenerateContent':
      return generate(model, true);
    case 'embedContent':
    case 'batchEmbedContents':
      return embed(model);
    default:
      return null;
  }
}

// Google's status names for the HTTP statuses noburn answers with.
function statusName(status: number): string {
  if (status === 402 || status === 429) return 'RESOURCE_EXHAUSTED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413 || status === 400) return 'INVALID_ARGUMENT';
  if (status === 502 || status === 503) return 'UNAVAILABLE';
  return status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
}

export const google: ProviderAdapter = {
  id: 'google',
  // @google/genai appends the API version itself ("/v1beta/models/...").
  prefix: '/google',
  baseUrlEnv: ['GOOGLE_GEMINI_BASE_URL'],
  apiKeyEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
  defaultUpstream: 'https://generativelanguage.googleapis.com',
  endpoint,
  endpointForBody: (body) => ('contents' in body ? generate(null, false) : null),
  errorBody: (status, code, message) => ({ error: { code: status, message, status: statusName(status), details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: code, domain: 'noburn' }] } }),
  freeEndpoint: (path) => /:countTokens\/?$/.test(path),
};
