import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/lib/tokens.js';
import {
  DEFAULT_MAX_OUTPUT_TOKENS,
  estimateEndpoint,
  MEDIA_PART_TOKENS,
  modelOutputLimit,
  PER_MESSAGE_TOKENS,
  REPLY_PRIMING_TOKENS,
} from '../../src/lib/metering/estimate.js';
import { MESSAGES } from '../../src/lib/metering/providers/anthropic.js';
import { CHAT, EMBEDDINGS, RESPONSES } from '../../src/lib/metering/providers/openai.js';
import type { EndpointKind, Json } from '../../src/lib/metering/types.js';

const ENDPOINTS = { chat: CHAT, responses: RESPONSES, embeddings: EMBEDDINGS, messages: MESSAGES } as const;
type Kind = keyof typeof ENDPOINTS & EndpointKind;
const estimateRequest = (kind: Kind, body: Json, model: string, count: typeof estimateTokens) => estimateEndpoint(ENDPOINTS[kind], body, model, count);
const requestText = (kind: Kind, body: Json) => ENDPOINTS[kind].requestText(body);
const estimateOutputTokens = (kind: Kind, body: Json, model: string) => ENDPOINTS[kind].outputTokens(body, model);

const PROMPT = 'Summarise the plot of Hamlet in three short sentences, please.';

describe('input estimate', () => {
  it('chat: each message text with the tokenizer, plus per-message and priming overheads', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: PROMPT }] };
    const e = await estimateRequest('chat', body, 'gpt-4o-mini', estimateTokens);
    // Each message's content on its own, as OpenAI's counting guide counts them.
    const text = (await estimateTokens('Be brief.')) + (await estimateTokens(PROMPT));
    expect(e.tokensIn).toBe(text + 2 * PER_MESSAGE_TOKENS + REPLY_PRIMING_TOKENS);
  });

  it("a prompt that contains special-token text is counted as text, not refused (and counted the same every time)", async () => {
    const prompt = 'Repeat after me: <|endoftext|> and <|endofprompt|>.';
    const n = await estimateTokens(prompt);
    // Each special token's text is several ordinary tokens, not the one special token.
    expect(n).toBeGreaterThan(await estimateTokens('Repeat after me:  and .') + 2);
    expect(await estimateTokens(prompt)).toBe(n);
  });

  it('counts tools, tool call arguments and tool results', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const base = { model: 'm', messages: [{ role: 'user', content: PROMPT }] };
    const without = await estimateRequest('chat', base, 'm', estimateTokens);
    const withTools = await estimateRequest('chat', { ...base, tools }, 'm', estimateTokens);
    expect(withTools.tokensIn - without.tokensIn).toBe(await estimateTokens(JSON.stringify(tools)));

    const anthropic = requestText('messages', {
      system: [{ type: 'text', text: 'SYS' }],
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'QUERY' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'RESULT' }] },
      ],
    });
    expect(anthropic.parts).toContain('SYS');
    expect(anthropic.parts).toContain('{"q":"QUERY"}');
    expect(anthropic.parts).toContain('RESULT');
    expect(anthropic.parts.join('\n')).not.toContain('toolu_1');
  });

  it('images count as a fixed number of tokens, never as their base64 text', () => {
    const data = 'A'.repeat(200_000);
    const chat = requestText('chat', { messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } }] }] });
    expect(chat.parts).toEqual(['What is this?']);
    expect(chat.extraTokens).toBe(PER_MESSAGE_TOKENS + MEDIA_PART_TOKENS + REPLY_PRIMING_TOKENS);
    const claude = requestText('messages', { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }] }] });
    expect(claude.parts).toEqual([]);
    expect(claude.extraTokens).toBe(PER_MESSAGE_TOKENS + MEDIA_PART_TOKENS + REPLY_PRIMING_TOKENS);
  });

  it('Responses: instructions and input (string or items)', () => {
    const r = requestText('responses', { instructions: 'INSTR', input: [{ role: 'user', content: [{ type: 'input_text', text: 'HELLO' }] }, { type: 'function_call_output', call_id: 'c1', output: 'OUT' }] });
    expect(r.parts).toEqual(['INSTR', 'HELLO', 'OUT']);
    const s = requestText('responses', { input: 'just text' });
    expect(s.parts).toEqual(['just text']);
    expect(s.extraTokens).toBe(PER_MESSAGE_TOKENS + REPLY_PRIMING_TOKENS);
  });

  it('embeddings: strings are tokenized, token-id arrays count one token per id', async () => {
    const e = await estimateRequest('embeddings', { input: ['alpha beta', [1, 2, 3], [4, 5]] }, 'text-embedding-3-small', estimateTokens);
    expect(e).toEqual({ tokensIn: (await estimateTokens('alpha beta')) + 5, tokensOut: 0 });
  });
});

describe('output estimate', () => {
  it('takes max_completion_tokens, then max_output_tokens, then max_tokens', () => {
    expect(estimateOutputTokens('chat', { max_completion_tokens: 10, max_tokens: 99 }, 'gpt-4o')).toBe(10);
    expect(estimateOutputTokens('responses', { max_output_tokens: 20 }, 'gpt-4o')).toBe(20);
    expect(estimateOutputTokens('messages', { max_tokens: 30 }, 'claude-sonnet-4-5')).toBe(30);
  });

  it("without a limit in the request, the model's output limit bounds it", () => {
    expect(estimateOutputTokens('chat', {}, 'gpt-4o-mini')).toBe(16_384);
    expect(modelOutputLimit('openai/gpt-4.1-mini')).toBe(32_768);
    expect(modelOutputLimit('claude-3-5-haiku-latest')).toBe(8_192);
    expect(modelOutputLimit('some-local-model')).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
  });

  it('n choices multiply the output bound; embeddings produce none', () => {
    expect(estimateOutputTokens('chat', { max_tokens: 50, n: 3 }, 'gpt-4o')).toBe(150);
    expect(estimateOutputTokens('embeddings', { max_tokens: 50 }, 'x')).toBe(0);
  });
});

describe('output bound rewrite (what a clamp writes into the request)', () => {
  it('sets every limit field the request uses, else the endpoint own field; n choices share the bound', () => {
    const a: Json = { max_tokens: 900, max_completion_tokens: 800 };
    CHAT.outputBound!.set(a, 300);
    expect(a).toEqual({ max_tokens: 300, max_completion_tokens: 300 });
    const b: Json = { n: 3 };
    CHAT.outputBound!.set(b, 300);
    expect(b).toEqual({ n: 3, max_completion_tokens: 100 });
    expect(CHAT.outputTokens(b, 'gpt-5')).toBe(300);
    const r: Json = {};
    RESPONSES.outputBound!.set(r, 256);
    expect(r).toEqual({ max_output_tokens: 256 });
    const m: Json = { max_tokens: 20_000 };
    MESSAGES.outputBound!.set(m, 512);
    expect(m).toEqual({ max_tokens: 512 });
    expect(EMBEDDINGS.outputBound).toBeNull();
    expect(CHAT.outputBound!.fieldOf({ max_tokens: 5 })).toBe('max_tokens');
    expect(CHAT.outputBound!.fieldOf({})).toBe('max_completion_tokens');
  });
});
