import { describe, expect, it } from 'vitest';
import { anthropicUsage, MESSAGES, MessagesStreamUsage } from '../../src/lib/metering/providers/anthropic.js';
import { CHAT, ChatStreamUsage, EMBEDDINGS, isUsageOnlyChunk, openaiUsage, RESPONSES, ResponsesStreamUsage } from '../../src/lib/metering/providers/openai.js';

const ENDPOINTS = { chat: CHAT, responses: RESPONSES, embeddings: EMBEDDINGS, messages: MESSAGES } as const;
const usageFromBody = (kind: keyof typeof ENDPOINTS, body: unknown) => ENDPOINTS[kind].usage(body);

const count = (t: string) => t.length; // a stand-in tokenizer: 1 token per character, easy to reason about

describe('usage from non-streaming bodies', () => {
  it('OpenAI chat: prompt_tokens includes the cached tokens', () => {
    const body = { usage: { prompt_tokens: 100, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 40 } } };
    expect(usageFromBody('chat', body)).toEqual({ tokensIn: 100, tokensOut: 7, cachedTokensIn: 40, cacheWriteTokensIn: 0 });
  });

  it('OpenAI Responses: input_tokens includes input_tokens_details.cached_tokens', () => {
    const body = { usage: { input_tokens: 50, output_tokens: 9, input_tokens_details: { cached_tokens: 10 } } };
    expect(usageFromBody('responses', body)).toEqual({ tokensIn: 50, tokensOut: 9, cachedTokensIn: 10, cacheWriteTokensIn: 0 });
  });

  it('embeddings: prompt_tokens only', () => {
    expect(usageFromBody('embeddings', { usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({ tokensIn: 8, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('Anthropic: input_tokens excludes cache reads and writes, so they are added', () => {
    const u = { input_tokens: 10, cache_read_input_tokens: 30, cache_creation_input_tokens: 5, output_tokens: 4 };
    expect(usageFromBody('messages', { usage: u })).toEqual({ tokensIn: 45, tokensOut: 4, cachedTokensIn: 30, cacheWriteTokensIn: 5 });
    expect(anthropicUsage({ input_tokens: 3, output_tokens: 1, cache_read_input_tokens: null })).toEqual({ tokensIn: 3, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('no usage, or garbage in it, gives null (the caller falls back to the estimate)', () => {
    expect(usageFromBody('chat', { id: 'x' })).toBeNull();
    expect(usageFromBody('chat', null)).toBeNull();
    expect(openaiUsage({ prompt_tokens: 'many' })).toBeNull();
    expect(openaiUsage({ prompt_tokens: -5, completion_tokens: 2 })).toEqual({ tokensIn: 0, tokensOut: 2, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });
});

describe('StreamUsage', () => {
  it('OpenAI chat: the usage chunk is final', async () => {
    const s = new ChatStreamUsage();
    s.add({ choices: [{ delta: { content: 'Hello' } }], usage: null });
    expect(s.complete).toBe(false);
    s.add({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } } });
    expect(s.complete).toBe(true);
    expect(await s.result(999, count)).toEqual({ tokensIn: 12, tokensOut: 2, cachedTokensIn: 4, cacheWriteTokensIn: 0 });
  });

  it('OpenAI chat cut off before usage: input estimated, output counted from the text seen (tool call arguments too)', async () => {
    const s = new ChatStreamUsage();
    s.add({ choices: [{ delta: { content: 'abc' } }] });
    s.add({ choices: [{ delta: { tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }] } }] });
    expect(await s.result(77, count)).toEqual({ tokensIn: 77, tokensOut: 3 + 1 + 7, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('Responses: response.completed carries the usage; deltas count when cut off', async () => {
    const done = new ResponsesStreamUsage();
    done.add({ type: 'response.output_text.delta', delta: 'hi' });
    done.add({ type: 'response.completed', response: { usage: { input_tokens: 5, output_tokens: 1, input_tokens_details: { cached_tokens: 2 } } } });
    expect(await done.result(0, count)).toEqual({ tokensIn: 5, tokensOut: 1, cachedTokensIn: 2, cacheWriteTokensIn: 0 });

    const cut = new ResponsesStreamUsage();
    cut.add({ type: 'response.output_text.delta', delta: 'four' });
    expect(await cut.result(9, count)).toEqual({ tokensIn: 9, tokensOut: 4, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('Anthropic: input from message_start, output from message_delta (a cumulative total, not added twice)', async () => {
    const s = new MessagesStreamUsage();
    s.add({ type: 'message_start', message: { usage: { input_tokens: 10, cache_read_input_tokens: 6, cache_creation_input_tokens: 2, output_tokens: 1 } } });
    s.add({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'Hello' } });
    s.add({ type: 'message_delta', usage: { output_tokens: 15 } });
    expect(await s.result(999, count)).toEqual({ tokensIn: 18, tokensOut: 15, cachedTokensIn: 6, cacheWriteTokensIn: 2 });
  });

  it('Anthropic: message_delta counters replace message_start ones when present', async () => {
    const s = new MessagesStreamUsage();
    s.add({ type: 'message_start', message: { usage: { input_tokens: 10, output_tokens: 1 } } });
    s.add({ type: 'message_delta', usage: { input_tokens: 12, cache_read_input_tokens: null, output_tokens: 3 } });
    expect(await s.result(0, count)).toEqual({ tokensIn: 12, tokensOut: 3, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('Anthropic cut off after message_start: its input usage counts, output is the larger of its count and the text seen', async () => {
    const s = new MessagesStreamUsage();
    s.add({ type: 'message_start', message: { usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 } } });
    s.add({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'abcdef' } });
    expect(await s.result(999, count)).toEqual({ tokensIn: 15, tokensOut: 6, cachedTokensIn: 5, cacheWriteTokensIn: 0 });
  });

  it('isUsageOnlyChunk matches only the empty-choices chunk that carries usage', () => {
    expect(isUsageOnlyChunk({ choices: [], usage: { prompt_tokens: 1 } })).toBe(true);
    expect(isUsageOnlyChunk({ choices: [{ delta: {} }], usage: { prompt_tokens: 1 } })).toBe(false);
    expect(isUsageOnlyChunk({ choices: [], usage: null })).toBe(false);
  });
});
