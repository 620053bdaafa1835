/** The metering core works on a plain fetch Response, without the proxy (for guard.fetch()). */
import { describe, expect, it } from 'vitest';
import { estimateRequest, meterResponse } from '../../src/lib/metering/index.js';
import { CHAT } from '../../src/lib/metering/providers/openai.js';
import { MESSAGES } from '../../src/lib/metering/providers/anthropic.js';
import { estimateTokens } from '../../src/lib/tokens.js';

const estimate = { tokensIn: 50, tokensOut: 100 };
const count = (t: string) => t.length;
const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

describe('meterResponse (a fetch Response)', () => {
  it('a stream: the reader gets every event except the usage chunk noburn asked for, and the usage resolves at the end', async () => {
    const content = sse({ choices: [{ index: 0, delta: { content: 'Hi' } }] });
    const usage = sse({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 1 } });
    const up = new Response(streamOf([content.slice(0, 9), content.slice(9) + usage, 'data: [DONE]\n\n']), { headers: { 'content-type': 'text/event-stream' } });
    const m = meterResponse(up, { endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: true });
    expect(await m.response.text()).toBe(content + 'data: [DONE]\n\n');
    expect(await m.usage).toEqual({ tokensIn: 7, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('a JSON body: passed through unchanged, usage read from it', async () => {
    const body = JSON.stringify({ usage: { input_tokens: 3, output_tokens: 4, cache_read_input_tokens: 2 } });
    const m = meterResponse(new Response(body, { headers: { 'content-type': 'application/json' } }), { endpoint: MESSAGES, estimate, countTokens: count, stripUsageChunk: false });
    expect(await m.response.text()).toBe(body);
    expect(await m.usage).toEqual({ tokensIn: 5, tokensOut: 4, cachedTokensIn: 2, cacheWriteTokensIn: 0 });
  });

  it('a reader that cancels mid-stream: the usage is what was seen (input estimated, output from the text)', async () => {
    const up = new Response(streamOf([sse({ choices: [{ delta: { content: 'abcd' } }] }), sse({ choices: [{ delta: { content: 'efgh' } }] })]), { headers: { 'content-type': 'text/event-stream' } });
    const m = meterResponse(up, { endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: false });
    const reader = (m.response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    expect(await m.usage).toEqual({ tokensIn: 50, tokensOut: 4, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('an error status costs nothing', async () => {
    const m = meterResponse(new Response('{"error":{}}', { status: 429, headers: { 'content-type': 'application/json' } }), { endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: false });
    await m.response.text();
    expect((await m.usage).tokensIn).toBe(0);
  });
});

describe('estimateRequest(provider, body)', () => {
  it('picks the endpoint from the path, or from the body when no path is given', async () => {
    const body = { model: 'gpt-4o-mini', max_tokens: 40, messages: [{ role: 'user', content: 'hello there' }] };
    const byPath = await estimateRequest('openai', body, { path: '/chat/completions' });
    const byBody = await estimateRequest('openai', body);
    expect(byPath).toMatchObject({ model: 'gpt-4o-mini', tokensIn: (await estimateTokens('hello there')) + 4 + 3, tokensOut: 40 });
    expect(byBody?.tokensIn).toBe(byPath?.tokensIn);
    expect(byBody?.endpoint.kind).toBe('chat');
    expect((await estimateRequest('openai', { model: 'text-embedding-3-small', input: 'x' }))?.endpoint.kind).toBe('embeddings');
    expect((await estimateRequest('anthropic', { model: 'claude-sonnet-4-5', max_tokens: 9, messages: [] }))?.tokensOut).toBe(9);
  });

  it('a body that is not a metered request gives null; an unknown provider throws', async () => {
    expect(await estimateRequest('openai', { messages: [] })).toBeNull();
    expect(await estimateRequest('openai', { model: 'm' }, { path: '/models' })).toBeNull();
    await expect(estimateRequest('nope', {})).rejects.toThrow(/unknown provider/);
  });
});

describe('meterResponse cutting at the hold', () => {
  it('ends an Anthropic stream with max_tokens and message_stop, and cancels the upstream body', async () => {
    let cancelled = false;
    const enc = new TextEncoder();
    const ev = (o: { type: string; [k: string]: unknown }) => `event: ${o.type}\ndata: ${JSON.stringify(o)}\n\n`;
    let i = 0;
    const upstreamBody = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i === 0) c.enqueue(enc.encode(ev({ type: 'message_start', message: { usage: { input_tokens: 9, output_tokens: 1 } } }) + ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })));
        else c.enqueue(enc.encode(ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'xxxx' } })));
        i += 1;
      },
      cancel() {
        cancelled = true;
      },
    });
    const m = meterResponse(new Response(upstreamBody, { headers: { 'content-type': 'text/event-stream' } }), {
      endpoint: MESSAGES,
      estimate,
      countTokens: count,
      stripUsageChunk: false,
      cutAt: { tokens: 10, count },
    });
    const text = await m.response.text();
    const types = [...text.matchAll(/^event: (\S+)$/gm)].map((x) => x[1]);
    expect(types).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(text).toContain('"stop_reason":"max_tokens"');
    expect(cancelled).toBe(true);
    expect(await m.usage).toEqual({ tokensIn: 9, tokensOut: 8, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });
});
