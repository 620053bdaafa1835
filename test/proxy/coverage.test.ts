/**
 * What the proxy meters beyond OpenAI/Anthropic chat: Gemini, both Anthropic base shapes,
 * Azure-style deployments, compressed bodies; and what it refuses because it cannot price
 * it (unless --allow-unmetered), in-process against the fake upstream.
 */
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { estimateTokens } from '../../src/lib/tokens.js';
import { startProxy } from '../../src/proxy/index.js';
import { costNano, PRICES, toNano, type TestPrice } from './helpers.js';
import { useProxySuite } from './harness.js';

const MORE_PRICES: Record<string, TestPrice> = { ...PRICES, 'gemini-2.5-flash': { inputPerMTok: 1, outputPerMTok: 4, cacheReadPerMTok: 1 }, 'gemini-embedding-001': { inputPerMTok: 1, outputPerMTok: 0 } };

const suite = useProxySuite();

function open(opts: { allowUnmetered?: boolean; azureDeployments?: Record<string, string>; openai?: string } = {}): Promise<void> {
  const { upstream } = suite;
  return suite.open({
    prices: MORE_PRICES,
    capUsd: 1,
    proxy: { upstreams: { openai: opts.openai ?? upstream.openaiBase, anthropic: upstream.anthropicBase, google: upstream.url }, allowUnmetered: opts.allowUnmetered, azureDeployments: opts.azureDeployments },
  });
}

const base = (name: string): string => suite.proxy.env[name] ?? '';

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
}

function servedNano(): number {
  return suite.upstream.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage, MORE_PRICES) : 0), 0);
}

const gen = { contents: [{ role: 'user', parts: [{ text: 'Say hello in five words.' }] }], generationConfig: { maxOutputTokens: 40 } };

describe('Google Gemini', () => {
  beforeEach(() => open());

  it('GOOGLE_GEMINI_BASE_URL points at the proxy; generateContent, SSE and JSON-array streams are metered from usageMetadata', async () => {
    expect(base('GOOGLE_GEMINI_BASE_URL')).toBe(`${suite.proxy.url}/google`);
    const g = base('GOOGLE_GEMINI_BASE_URL');
    const one = await post(`${g}/v1beta/models/gemini-2.5-flash:generateContent`, gen, { 'x-fake-usage': '30,10,9' });
    expect(((await one.json()) as { candidates: unknown[] }).candidates.length).toBe(1);
    const sse = await post(`${g}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, gen, { 'x-fake-usage': '25,0,11' });
    expect(await sse.text()).toContain('"finishReason":"STOP"');
    const arr = await post(`${g}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, gen, { 'x-fake-usage': '21,0,7' });
    expect(((await arr.json()) as unknown[]).length).toBe(6);
    const run = await suite.settled();
    expect(run.calls).toBe(3);
    expect(run.heldUsd).toBe(0);
    expect(toNano(run.spendUsd)).toBe(servedNano());
    expect(suite.proxy.stats().find((s) => s.model === 'gemini-2.5-flash')).toMatchObject({ calls: 3, tokensIn: 76, cachedTokensIn: 10, tokensOut: 27 });
  });

  it('countTokens passes unmetered; a 402 refusal comes in Google\'s error shape', async () => {
    const g = base('GOOGLE_GEMINI_BASE_URL');
    expect((await post(`${g}/v1beta/models/gemini-2.5-flash:countTokens`, gen)).status).toBe(200);
    await suite.guard.close();
    suite.guard = new NoburnGuard({ home: suite.home.home, env: {} });
    const tiny = (await suite.guard.startRun({ budgetCapUsd: 0.000001 })).runId;
    await suite.proxy.close();
    suite.proxy = await startProxy({ guard: suite.guard, runId: tiny, upstreams: { google: suite.upstream.url }, countTokens: estimateTokens });
    const r = await post(`${suite.proxy.env['GOOGLE_GEMINI_BASE_URL']}/v1beta/models/gemini-2.5-flash:generateContent`, gen);
    expect(r.status).toBe(402);
    expect(await r.json()).toMatchObject({ error: { code: 402, status: 'RESOURCE_EXHAUSTED' } });
    expect(suite.upstream.served.length).toBe(1);
  });
});

describe('Anthropic base shapes', () => {
  beforeEach(() => open());

  it('a base with /v1 (@ai-sdk/anthropic posts to BASE/messages) and without (the official SDK posts to BASE/v1/messages) both reach /v1/messages, metered', async () => {
    const a = base('ANTHROPIC_BASE_URL');
    const msg = { model: 'claude-sonnet-4-5', max_tokens: 30, messages: [{ role: 'user', content: 'hi' }] };
    expect((await post(`${a}/v1/messages`, msg, { 'x-fake-usage': '20,0,5' })).status).toBe(200);
    expect((await post(`${a}/messages`, msg, { 'x-fake-usage': '22,0,6' })).status).toBe(200);
    expect(suite.upstream.served.map((c) => c.path)).toEqual(['/v1/messages', '/v1/messages']);
    const run = await suite.settled();
    expect(run.calls).toBe(2);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });
});

describe('Azure-style deployments', () => {
  it('a deployment mapped to a model is metered though the body names no model', async () => {
    await open({ openai: `${suite.upstream.url}/openai`, azureDeployments: { prod: 'gpt-4o-mini' } });
    const o = base('OPENAI_BASE_URL');
    const r = await post(`${o}/deployments/prod/chat/completions?api-version=2024-10-21`, { max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-usage': '18,0,6' });
    expect(r.status).toBe(200);
    await r.text();
    const run = await suite.settled();
    expect(run.calls).toBe(1);
    expect(toNano(run.spendUsd)).toBe(servedNano());
    expect(toNano(run.spendUsd)).toBeGreaterThan(0);
  });

  it('a mapped deployment is priced as its mapped model even when the body names another (Azure serves the deployment\'s model)', async () => {
    await open({ openai: `${suite.upstream.url}/openai`, azureDeployments: { prod: 'gpt-4o-mini' } });
    const r = await post(`${base('OPENAI_BASE_URL')}/deployments/prod/chat/completions`, { model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }, { 'x-fake-usage': '18,0,6' });
    expect(r.status).toBe(200);
    await r.text();
    const run = await suite.settled();
    expect(suite.proxy.stats().map((s) => s.model)).toEqual(['gpt-4o-mini']);
    expect(toNano(run.spendUsd)).toBe(costNano('gpt-4o-mini', { tokensIn: 18, cachedTokensIn: 0, tokensOut: 6, cacheWriteTokensIn: 0 }, MORE_PRICES));
  });

  it('an unmapped deployment is refused (402 unmetered_request, naming the flag that maps it) and reaches no upstream', async () => {
    await open({ openai: `${suite.upstream.url}/openai` });
    const r = await post(`${base('OPENAI_BASE_URL')}/deployments/other/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(402);
    const e = (await r.json()) as { error: { code: string; message: string } };
    expect(e.error.code).toBe('unmetered_request');
    expect(e.error.message).toContain('--azure-deployment other=MODEL');
    expect(suite.upstream.served.length).toBe(0);
    expect(suite.proxy.unmetered()).toEqual({ forwarded: 0, refused: 1 });
  });
});

describe('compressed request bodies', () => {
  beforeEach(() => open());

  it('a gzip body is decoded, metered, and sent upstream decoded', async () => {
    const body = gzipSync(JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'compressed hello' }] }));
    const r = await post(`${base('OPENAI_BASE_URL')}/chat/completions`, body, { 'content-encoding': 'gzip', 'x-fake-usage': '19,0,4' });
    expect(r.status).toBe(200);
    await r.text();
    expect(suite.upstream.served[0]!.headers['content-encoding']).toBeUndefined();
    const run = await suite.settled();
    expect(run.calls).toBe(1);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });

  it('a body that does not decode is refused, not forwarded', async () => {
    const r = await post(`${base('OPENAI_BASE_URL')}/chat/completions`, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(402);
    expect(suite.upstream.served.length).toBe(0);
  });
});

describe('nothing unpriced passes silently', () => {
  it('refused by default: an images request, a non-JSON body, an unknown model; read-only paths pass', async () => {
    await open();
    const o = base('OPENAI_BASE_URL');
    const img = await post(`${o}/images/generations`, { model: 'gpt-image-1', prompt: 'a cat' });
    expect(img.status).toBe(402);
    expect(img.headers.get('x-should-retry')).toBe('false');
    expect(await img.json()).toMatchObject({ error: { code: 'unmetered_request' } });
    expect((await post(`${o}/chat/completions`, 'model=gpt-4o-mini', { 'content-type': 'text/plain' })).status).toBe(402);
    const unknown = await post(`${o}/chat/completions`, { model: 'nb-no-such-model-zz', messages: [{ role: 'user', content: 'hi' }] });
    expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_model_price' } });
    expect(suite.upstream.served.length).toBe(0);
    // Reads and free POSTs pass.
    expect((await fetch(`${o}/models`)).status).toBe(200);
    const count = await post(`${base('ANTHROPIC_BASE_URL')}/v1/messages/count_tokens`, { model: 'claude-sonnet-4-5', messages: [] });
    expect(count.status).toBe(404); // the fake upstream has no such route: it was forwarded
    expect(suite.upstream.served.map((c) => c.path)).toEqual(['/v1/models', '/v1/messages/count_tokens']);
    expect(suite.proxy.unmetered()).toEqual({ forwarded: 0, refused: 2 });
  });

  it('allowUnmetered forwards them and counts them; priced calls are still metered', async () => {
    await open({ allowUnmetered: true });
    const o = base('OPENAI_BASE_URL');
    expect((await post(`${o}/images/generations`, { model: 'gpt-image-1', prompt: 'a cat' })).status).toBe(200);
    expect((await post(`${o}/chat/completions`, { model: 'nb-no-such-model-zz', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    await (await post(`${o}/chat/completions`, { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })).text();
    const run = await suite.settled();
    expect(suite.proxy.unmetered()).toEqual({ forwarded: 2, refused: 0 });
    expect(run.calls).toBe(1);
    expect(run.blockedCalls).toBe(0);
    expect(toNano(run.spendUsd)).toBe(costNano('gpt-4o-mini', suite.upstream.served[2]!.usage!, MORE_PRICES));
  });
});
