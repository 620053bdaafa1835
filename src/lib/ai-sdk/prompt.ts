/**
 * Input estimate of an AI SDK call (the LanguageModel prompt format the SDK hands its
 * providers, the same in ai v5, v6 and v7): the prompt's text, tool definitions and the
 * response schema counted with the library's tokenizer, plus the fixed framing tokens the
 * proxy counts for a provider request (per message, reply priming, media parts). As in the
 * proxy, each piece is counted on its own and a piece counted before is looked up: an agent
 * loop sends its history again with every step. The ledger then scales a tokenizer count
 * to cover the provider's own (margin + calibration).
 */
import { MEDIA_PART_TOKENS, PER_MESSAGE_TOKENS, REPLY_PRIMING_TOKENS } from '../metering/estimate.js';
import { countParts } from '../metering/part-counts.js';
import { estimateTokens } from '../tokens.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Collector {
  readonly parts: string[] = [];
  extra = 0;
  text(v: unknown): void {
    if (typeof v === 'string' && v !== '') this.parts.push(v);
  }
  json(v: unknown): void {
    if (v === undefined || v === null) return;
    if (typeof v === 'string') this.text(v);
    else this.parts.push(JSON.stringify(v));
  }
  part(p: unknown): void {
    if (typeof p === 'string') return this.text(p);
    if (!isObj(p)) return;
    switch (p['type']) {
      case 'text':
      case 'reasoning':
        return this.text(p['text']);
      case 'file':
      case 'image': {
        // A text file given inline is still text.
        const media = String(p['mediaType'] ?? p['mimeType'] ?? '');
        if (media.startsWith('text/') && typeof p['data'] === 'string') this.text(p['data']);
        else this.extra += MEDIA_PART_TOKENS;
        return;
      }
      case 'tool-call':
        this.text(p['toolName']);
        // v5/v6 carry the arguments as `input` (a JSON string from providers, an object from users).
        return this.json(p['input'] ?? p['args']);
      case 'tool-result':
        this.text(p['toolName']);
        return this.json(p['output'] ?? p['result']);
      default:
        // Parts of later versions (approvals, sources...): count whatever text they carry.
        for (const [k, v] of Object.entries(p)) if (k !== 'type' && k !== 'providerOptions' && typeof v === 'string') this.text(v);
    }
  }
}

/** The text pieces and fixed extra tokens of a call's prompt, tools and response format. */
export function promptText(params: { prompt?: unknown; tools?: unknown; responseFormat?: unknown }): { parts: readonly string[]; extraTokens: number } {
  const c = new Collector();
  const prompt = Array.isArray(params.prompt) ? params.prompt : [];
  for (const m of prompt) {
    c.extra += PER_MESSAGE_TOKENS;
    if (!isObj(m)) continue;
    const content = m['content'];
    if (Array.isArray(content)) for (const p of content) c.part(p);
    else c.text(content);
  }
  c.extra += REPLY_PRIMING_TOKENS;
  if (Array.isArray(params.tools)) {
    for (const t of params.tools) {
      if (!isObj(t)) continue;
      c.text(t['name']);
      c.text(t['description']);
      c.json(t['inputSchema'] ?? t['parameters'] ?? t['args']);
    }
  }
  const rf = params.responseFormat;
  if (isObj(rf) && rf['type'] === 'json') c.json(rf['schema']);
  return { parts: c.parts, extraTokens: c.extra };
}

/** Tokens of the call's input, as a local tokenizer count. */
export async function estimatePromptTokens(params: { prompt?: unknown; tools?: unknown; responseFormat?: unknown }): Promise<number> {
  const { parts, extraTokens } = promptText(params);
  return (await countParts(parts, estimateTokens)) + extraTokens;
}
