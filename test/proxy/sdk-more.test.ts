/**
 * Real clients, unmodified apart from their base URL (the one noburn run gives the child),
 * against the proxy and the fake upstream: @google/genai (through GOOGLE_GEMINI_BASE_URL),
 * the Vercel AI SDK with @ai-sdk/anthropic (a base with /v1) and @ai-sdk/openai, and
 * @langchain/openai. Every call is metered at exactly the upstream's usage (Gemini embeddings,
 * which report none, at noburn's estimate and the price data's price); a refused call is a
 * 402 the SDK does not retry.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { GoogleGenAI } from '@google/genai';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { embed, generateText, streamText } from 'ai';
import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../../src/lib/metering/index.js';
import { estimateTokens } from '../../src/lib/tokens.js';
import { costNano, PRICES, toNano, type TestPrice } from './helpers.js';
import { useProxySuite } from './harness.js';

const MORE: Record<string, TestPrice> = { ...PRICES, 'gemini-2.5-flash': { inputPerMTok: 1, outputPerMTok: 4, cacheReadPerMTok: 1 } };

const suite = useProxySuite();

function open(capUsd: number): Promise<void> {
  const { upstream } = suite;
  return suite.open({ prices: MORE, capUsd, proxy: { upstreams: { openai: upstream.openaiBase, anthropic: upstream.anthropicBase, google: upstream.url } } });
}

const servedNano = (): number => suite.upstream.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage, MORE) : 0), 0);

function genai(): GoogleGenAI {
  // The SDK reads GOOGLE_GEMINI_BASE_URL when the client is made: the variable noburn run sets.
  const saved = process.env['GOOGLE_GEMINI_BASE_URL'];
  process.env['GOOGLE_GEMINI_BASE_URL'] = suite.proxy.env['GOOGLE_GEMINI_BASE_URL'];
  try {
    return new GoogleGenAI({ apiKey: 'gemini-test-key' });
  } finally {
    if (saved === undefined) delete process.env['GOOGLE_GEMINI_BASE_URL'];
    else process.env['GOOGLE_GEMINI_BASE_URL'] = saved;
  }
}

describe('@google/genai', () => {
  it('generateContent and generateContentStream are metered exactly', async () => {
    await open(1);
    const ai = genai();
    const one = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hello.', config: { maxOutputTokens: 40 } });
    expect(one.text).toBe('Hello from the fake upstream.');
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Stream hello.', config: { maxOutputTokens: 40 } })) text += chunk.text ?? '';
    expect(text).toBe('Hello from the fake upstream.');
    expect(suite.upstream.served.map((c) => c.path)).toEqual(['/v1beta/models/gemini-2.5-flash:generateContent', '/v1beta/models/gemini-2.5-flash:streamGenerateContent']);
    const run = await suite.settled();
    expect(run.calls).toBe(2);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });

  it('blocked at the cap: the SDK raises on 402 and sends no second request', async () => {
    await open(0.000001);
    const ai = genai();
    await expect(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', config: { maxOutputTokens: 40 } })).rejects.toThrow(/402|RESOURCE_EXHAUSTED|noburn/);
    expect(suite.upstream.served.length).toBe(0);
    expect((await suite.settled()).blockedCalls).toBe(1);
  });

  it('embedContent (the SDK posts :batchEmbedContents) is metered: the API reports no usage, so the estimate at the price data\'s gemini-embedding-001 price', async () => {
    await open(1);
    const r = await genai().models.embedContent({ model: 'gemini-embedding-001', contents: ['embed me', 'and me'] });
    expect(r.embeddings?.length).toBe(2);
    const [served] = suite.upstream.served;
    expect(served?.path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    const estimate = await estimateRequest('google', served?.body, { path: served!.path, countTokens: estimateTokens });
    expect(estimate?.tokensIn).toBeGreaterThan(0);
    const run = await suite.settled();
    expect(run.calls).toBe(1);
    expect(run.heldUsd).toBe(0);
    // gemini-embedding-001 is not in the test config: $0.15 per million input tokens from the price data.
    expect(toNano(run.spendUsd)).toBe(estimate!.tokensIn * 150);
    expect(suite.proxy.stats().find((s) => s.model === 'gemini-embedding-001')).toMatchObject({ calls: 1, tokensIn: estimate!.tokensIn, tokensOut: 0 });
  });

  it('embedContent with an embedding model the price data has no price for is refused (402 unknown_model_price) and reaches no upstream', async () => {
    await open(1);
    await expect(genai().models.embedContent({ model: 'text-embedding-004', contents: 'embed me' })).rejects.toThrow(/unknown_model_price/);
    expect(suite.upstream.served.length).toBe(0);
    const run = await suite.settled();
    expect(run.calls).toBe(0);
    expect(run.blockedCalls).toBe(1);
  });
});

describe('Vercel AI SDK', () => {
  it('@ai-sdk/anthropic (base with /v1): generateText, streamText and tools are metered exactly', async () => {
    await open(1);
    const anthropic = createAnthropic({ baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], apiKey: 'sk-ant-test' });
    const model = anthropic('claude-sonnet-4-5');
    const a = await generateText({ model, prompt: 'hello', maxOutputTokens: 50, maxRetries: 0 });
    expect(a.text).toBe('Hello from the fake upstream.');
    const s = streamText({ model, prompt: 'stream hello', maxOutputTokens: 50, maxRetries: 0 });
    expect(await s.text).toBe('Hello from the fake upstream.');
    await generateText({
      model,
      prompt: 'weather?',
      maxOutputTokens: 50,
      maxRetries: 0,
      tools: { weather: { description: 'get the weather', inputSchema: (await import('zod')).z.object({ city: (await import('zod')).z.string() }) } },
    });
    expect(suite.upstream.served.every((c) => c.path === '/v1/messages')).toBe(true);
    const run = await suite.settled();
    expect(run.calls).toBe(3);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });

  it('@ai-sdk/openai: generateText (Responses) and embed are metered exactly; a refused call is not retried', async () => {
    await open(1);
    const openai = createOpenAI({ baseURL: suite.proxy.env['OPENAI_BASE_URL'], apiKey: 'sk-test' });
    await generateText({ model: openai('gpt-4o-mini'), prompt: 'hello', maxOutputTokens: 50, maxRetries: 2 });
    await embed({ model: openai.embedding('text-embedding-3-small'), value: 'embed me', maxRetries: 2 });
    const run = await suite.settled();
    expect(run.calls).toBe(2);
    expect(toNano(run.spendUsd)).toBe(servedNano());

    await suite.guard.close();
    suite.home.cleanup();
    await open(0.000001);
    const blocked = createOpenAI({ baseURL: suite.proxy.env['OPENAI_BASE_URL'], apiKey: 'sk-test' });
    await expect(generateText({ model: blocked('gpt-4o-mini'), prompt: 'hello', maxOutputTokens: 50, maxRetries: 2 })).rejects.toThrow();
    // One refusal, not retried (maxRetries 2 would retry a retryable error), nothing upstream.
    expect((await suite.settled()).blockedCalls).toBe(1);
    expect(suite.upstream.served.length).toBe(2);
  });

  it('@ai-sdk/anthropic: a call blocked at the cap is a 402 the SDK does not retry (maxRetries 2), and reaches no upstream', async () => {
    await open(0.000001);
    const anthropic = createAnthropic({ baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], apiKey: 'sk-ant-test' });
    await expect(generateText({ model: anthropic('claude-sonnet-4-5'), prompt: 'hello', maxOutputTokens: 50, maxRetries: 2 })).rejects.toMatchObject({ statusCode: 402 });
    expect(suite.upstream.served.length).toBe(0);
    // A retry would be checked (and refused) again: one block means one request.
    const run = await suite.settled();
    expect(run.blockedCalls).toBe(1);
    expect(run.calls).toBe(0);
  });
});

describe('@langchain/openai', () => {
  it('ChatOpenAI invoke and stream, and OpenAIEmbeddings, are metered exactly', async () => {
    await open(1);
    const configuration = { baseURL: suite.proxy.env['OPENAI_BASE_URL'] };
    const chat = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxTokens: 50, maxRetries: 0, configuration });
    const m = await chat.invoke('hello');
    expect(m.content).toBe('Hello from the fake upstream.');
    let streamed = '';
    for await (const c of await chat.stream('stream hello')) streamed += typeof c.content === 'string' ? c.content : '';
    expect(streamed).toBe('Hello from the fake upstream.');
    const emb = new OpenAIEmbeddings({ model: 'text-embedding-3-small', apiKey: 'sk-test', maxRetries: 0, configuration });
    expect((await emb.embedQuery('embed me')).length).toBe(3);
    const run = await suite.settled();
    expect(run.calls).toBe(3);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });

  it('ChatOpenAI: a call blocked at the cap is a 402 LangChain does not retry (maxRetries 2), and reaches no upstream', async () => {
    await open(0.000001);
    const chat = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxTokens: 50, maxRetries: 2, configuration: { baseURL: suite.proxy.env['OPENAI_BASE_URL'] } });
    await expect(chat.invoke('hello')).rejects.toMatchObject({ status: 402 });
    expect(suite.upstream.served.length).toBe(0);
    const run = await suite.settled();
    expect(run.blockedCalls).toBe(1);
    expect(run.calls).toBe(0);
  });
});
