/**
 * guard.fetch() plugged into the other clients an app already uses: the official
 * `@anthropic-ai/sdk` (plain and streamed messages, tools, cache reads and writes; 402 at
 * the cap, no retry), LangChain's ChatOpenAI (`configuration.fetch`) and the AI SDK's
 * `createOpenAI({ fetch })`. Spend per end user equals the upstream's usage priced.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { PRICES } from '../proxy/helpers.js';
import { eventually, makeWorld, servedNano, userHeld, userSpend, type World } from './helpers.js';

let w: World;
afterEach(async () => w?.close());

const tools = [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];

function anthropic(endUserId: string): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-test', baseURL: w.upstream.anthropicBase, fetch: w.guard.fetch({ endUserId }) });
}

describe('guard.fetch() with the official Anthropic client', () => {
  it('spend per end user equals the upstream usage priced: messages, streams, tools, cache reads and writes', async () => {
    w = await makeWorld();
    const c = anthropic('u1');
    const msg = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Say hi' }] };
    // 40 input tokens in all: 5 read from the cache, 7 written to it.
    const usage = { headers: { 'x-fake-usage': '40,5,12,7' } };
    await c.messages.create(msg, usage);
    await c.messages.create({ ...msg, tools }, usage);
    const s = await c.messages.create({ ...msg, stream: true }, usage);
    let text = '';
    for await (const ev of s) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    expect(text).toBe('Hello from the fake upstream.');
    expect(w.upstream.served.length).toBe(3);
    expect(w.upstream.served.every((x) => x.usage?.cacheWriteTokensIn === 7 && x.usage.cachedTokensIn === 5)).toBe(true);
    await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 3, 'the records');
    expect((await userSpend(w.guard, 'u1')).nano).toBe(servedNano(w.upstream.served));
  });

  it("at the user's cap the SDK gets a 402 and the upstream sees no retry", async () => {
    w = await makeWorld();
    const c = anthropic('capped');
    // Holds 1000 output tokens at $15/MTok ($0.015), really uses 950 ($0.01425): under a
    // $0.0155 cap the room left after it is below any useful output bound.
    await w.guard.setBudget({ scope: 'user', userId: 'capped', capUsd: 0.0155 });
    const msg = { model: 'claude-sonnet-4-5', max_tokens: 1000, messages: [{ role: 'user' as const, content: 'Say hi' }] };
    await c.messages.create(msg, { headers: { 'x-fake-usage': '20,0,950' } });
    await eventually(async () => (await userSpend(w.guard, 'capped')).calls === 1, 'the first record');
    const err = await c.messages.create(msg).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(402);
    expect(w.upstream.served.length, 'the refused call reached the upstream, or was retried').toBe(1);
    expect((await userSpend(w.guard, 'capped')).nano).toBe(servedNano(w.upstream.served));
    expect(await userHeld(w.guard, 'capped')).toBe(0);
  });
});

describe('guard.fetch() in LangChain and the AI SDK', () => {
  it('LangChain ChatOpenAI with configuration.fetch: metered per end user', async () => {
    w = await makeWorld();
    const model = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: 'sk-test',
      maxTokens: 40,
      configuration: { baseURL: w.upstream.openaiBase, fetch: w.guard.fetch({ endUserId: 'lc-user' }) },
    });
    const answer = await model.invoke('Say hi');
    expect(answer.content).toBe('Hello from the fake upstream.');
    let streamed = '';
    for await (const chunk of await model.stream('Say hi')) streamed += String(chunk.content);
    expect(streamed).toBe('Hello from the fake upstream.');
    expect(w.upstream.served.length).toBe(2);
    await eventually(async () => (await userSpend(w.guard, 'lc-user')).calls === 2, 'the records');
    expect((await userSpend(w.guard, 'lc-user')).nano).toBe(servedNano(w.upstream.served));
  });

  it("the AI SDK's createOpenAI({ fetch }): generateText and streamText metered per end user", async () => {
    w = await makeWorld();
    const openai = createOpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, fetch: w.guard.fetch({ endUserId: 'ai-user' }) });
    const g = await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'Say hi', maxOutputTokens: 40 });
    expect(g.text).toBe('Hello from the fake upstream.');
    const s = streamText({ model: openai('gpt-4o-mini'), prompt: 'Say hi', maxOutputTokens: 40 });
    let streamed = '';
    for await (const t of s.textStream) streamed += t;
    expect(streamed).toBe('Hello from the fake upstream.');
    expect(w.upstream.served.map((x) => x.path)).toEqual(['/v1/chat/completions', '/v1/responses']);
    await eventually(async () => (await userSpend(w.guard, 'ai-user')).calls === 2, 'the records');
    expect((await userSpend(w.guard, 'ai-user')).nano).toBe(servedNano(w.upstream.served));
  });
});

describe('guard.fetch() with the Gemini API', () => {
  it('generateContent and both stream forms are metered per end user; the model comes from the path', async () => {
    const prices = { ...PRICES, 'gemini-2.5-flash': { inputPerMTok: 1, outputPerMTok: 4, cacheReadPerMTok: 1 } };
    w = await makeWorld(prices);
    const f = w.guard.fetch({ endUserId: 'g-user' });
    const gen = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Say hi' }] }], generationConfig: { maxOutputTokens: 40 } });
    const post = (path: string, usage: string) => f(`${w.upstream.url}/v1beta/models/gemini-2.5-flash:${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-fake-usage': usage }, body: gen });
    expect(((await (await post('generateContent', '30,10,9')).json()) as { candidates: unknown[] }).candidates).toHaveLength(1);
    expect(await (await post('streamGenerateContent?alt=sse', '25,0,11')).text()).toContain('data: ');
    expect(await (await post('streamGenerateContent', '21,0,7')).text()).toMatch(/^\[/);
    expect(w.upstream.served.length).toBe(3);
    await eventually(async () => (await userSpend(w.guard, 'g-user')).calls === 3, 'the records');
    expect((await userSpend(w.guard, 'g-user')).nano).toBe(servedNano(w.upstream.served, 0, prices));
  });
});
