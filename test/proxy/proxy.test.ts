/**
 * The proxy in-process against the fake upstream, with the real guard on a real SQLite
 * ledger in a temp NOBURN_HOME. Clients are plain fetch calls, to see every byte.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/lib/tokens.js';
import { estimateRequest } from '../../src/lib/metering/index.js';
import { startProxy } from '../../src/proxy/index.js';
import type { BlockReason } from '../../src/lib/types.js';
import { costNano, toNano } from './helpers.js';
import { useProxySuite } from './harness.js';

const suite = useProxySuite();
let blocks: BlockReason[];

const KEY = 'sk-test-secret-key';
const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  max_tokens: 50,
  messages: [{ role: 'user', content: 'Tell me, in a few words, something cheerful about the weather today.' }],
  ...extra,
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(suite.proxy.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers }, body: JSON.stringify(body) });
}

async function settledRun() {
  await suite.guard.flush();
  return suite.guard.getRun(suite.runId);
}

function servedNano(): number {
  return suite.upstream.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage) : 0), 0);
}

function open(capUsd: number | null): Promise<void> {
  blocks = [];
  return suite.open({ capUsd, proxy: { onBlocked: (r) => blocks.push(r as BlockReason) } });
}

describe('forwarding', () => {
  beforeEach(() => open(null));

  it('passes auth, other headers and the body through untouched, and the response back', async () => {
    const body = chatBody();
    const viaProxy = await post('/openai/v1/chat/completions', body, { 'openai-organization': 'org-1', 'x-custom': 'yes' });
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.headers.get('x-request-id')).toBe('req_fake');
    const json = (await viaProxy.json()) as { choices: { message: { content: string } }[] };
    expect(json.choices[0]!.message.content).toBe('Hello from the fake upstream.');
    const served = suite.upstream.served[0]!;
    expect(served.path).toBe('/v1/chat/completions');
    expect(served.headers['authorization']).toBe(`Bearer ${KEY}`);
    expect(served.headers['openai-organization']).toBe('org-1');
    expect(served.headers['x-custom']).toBe('yes');
    expect(served.headers['host']).toBe(new URL(suite.upstream.url).host);
    expect(served.streamOptions).toBeUndefined();
    // metered answers must come back readable: the proxy asks for no compression
    expect(served.headers['accept-encoding']).toBe('identity');
  });

  it('refuses a metered body over the limit with 413, before checking or forwarding', async () => {
    await suite.proxy.close();
    suite.proxy = await startProxy({ guard: suite.guard, runId: suite.runId, upstreams: { openai: suite.upstream.openaiBase, anthropic: suite.upstream.anthropicBase }, countTokens: estimateTokens, maxBodyBytes: 1000 });
    const r = await post('/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(suite.upstream.served.length).toBe(0);
    expect((await settledRun()).calls).toBe(0);
  });

  it('passes other paths through without metering (models list)', async () => {
    const r = await fetch(suite.proxy.url + '/openai/v1/models', { headers: { authorization: `Bearer ${KEY}`, 'accept-encoding': 'gzip' } });
    expect(suite.upstream.served[0]!.headers['accept-encoding']).toBe('gzip');
    expect(((await r.json()) as { data: { id: string }[] }).data[0]!.id).toBe('gpt-4o-mini');
    const run = await settledRun();
    expect(run.calls).toBe(0);
  });

  it('answers 404 for paths outside /openai/v1 and /anthropic, and 502 when the upstream is down', async () => {
    expect((await fetch(suite.proxy.url + '/v1/chat/completions')).status).toBe(404);
    await suite.proxy.close();
    suite.proxy = await startProxy({ guard: suite.guard, runId: suite.runId, upstreams: { openai: 'http://127.0.0.1:1/v1', anthropic: 'http://127.0.0.1:1' }, countTokens: estimateTokens });
    const r = await post('/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(502);
    expect(await r.json()).toMatchObject({ type: 'error' });
    const run = await settledRun();
    expect(run.heldUsd).toBe(0); // the hold of the failed call was released
  });
});

describe('metering', () => {
  beforeEach(() => open(null));

  it('records chat, Responses, embeddings and Anthropic usage exactly, cached reads and cache writes priced as such', async () => {
    await (await post('/openai/v1/chat/completions', chatBody())).text();
    await (await post('/openai/v1/responses', { model: 'gpt-4o-mini', input: 'hello there', max_output_tokens: 40 })).text();
    await (await post('/openai/v1/embeddings', { model: 'text-embedding-3-small', input: ['one', 'two'] })).text();
    const claude = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello, Claude. How are you doing today?' }] };
    await (await post('/anthropic/v1/messages', claude, { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'x-fake-usage': '40,10,9,6' })).text();
    const run = await settledRun();
    expect(run.calls).toBe(4);
    expect(run.heldUsd).toBe(0);
    expect(suite.upstream.served.find((c) => c.path === '/v1/messages')!.usage).toEqual({ tokensIn: 40, cachedTokensIn: 10, tokensOut: 9, cacheWriteTokensIn: 6 });
    expect(toNano(run.spendUsd)).toBe(servedNano());
    expect(suite.proxy.stats().find((s) => s.model === 'claude-sonnet-4-5')).toMatchObject({ calls: 1, tokensIn: 40, cachedTokensIn: 10, cacheWriteTokensIn: 6, tokensOut: 9 });
  });

  it('OpenAI chat stream: asks for include_usage and hides the usage chunk from a client that did not ask', async () => {
    const r = await post('/openai/v1/chat/completions', chatBody({ stream: true }));
    const text = await r.text();
    expect(suite.upstream.served[0]!.streamOptions).toEqual({ include_usage: true });
    expect(text).not.toContain('"prompt_tokens"');
    expect(text).toContain('"content":" fake"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const run = await settledRun();
    expect(toNano(run.spendUsd)).toBe(servedNano());
    expect(toNano(run.spendUsd)).toBeGreaterThan(0);
  });

  it('OpenAI chat stream: a client that asked for usage gets its usage chunk', async () => {
    const text = await (await post('/openai/v1/chat/completions', chatBody({ stream: true, stream_options: { include_usage: true } }))).text();
    expect(text).toContain('"prompt_tokens":20');
    const run = await settledRun();
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });

  it('Responses and Anthropic streams are recorded exactly (Anthropic: message_start input + message_delta output)', async () => {
    await (await post('/openai/v1/responses', { model: 'gpt-4o-mini', input: 'stream please', stream: true, max_output_tokens: 30 })).text();
    const claude = { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Stream a greeting to me, please.' }] };
    const text = await (await post('/anthropic/v1/messages', claude, { 'x-fake-usage': '30,8,11,4' })).text();
    expect(text).toContain('event: message_delta');
    const run = await settledRun();
    expect(run.calls).toBe(2);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });

  it('a stream cut off midway is recorded with what was seen', async () => {
    // message_start (input usage, output 1) + content_block_start + ping + two deltas, then the socket dies.
    const claude = { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Say hello, please, to everyone.' }] };
    const r = await post('/anthropic/v1/messages', claude, { 'x-fake-usage': '30,8,11,0', 'x-fake-cut-after': '5' });
    await expect(r.text()).rejects.toThrow();
    const run = await settledRun();
    const seenOut = await estimateTokens('Hello from');
    expect(toNano(run.spendUsd)).toBe(costNano('claude-sonnet-4-5', { tokensIn: 30, cachedTokensIn: 8, cacheWriteTokensIn: 0, tokensOut: Math.max(1, seenOut) }));
    expect(run.heldUsd).toBe(0);

    // OpenAI chat cut before its usage chunk: the input estimate and the text seen.
    const body = chatBody({ stream: true });
    const r2 = await post('/openai/v1/chat/completions', body, { 'x-fake-cut-after': '3' });
    await expect(r2.text()).rejects.toThrow();
    const est = await estimateRequest('openai', body, { path: '/chat/completions', countTokens: estimateTokens });
    const run2 = await settledRun();
    const chatNano = costNano('gpt-4o-mini', { tokensIn: est?.tokensIn ?? -1, cachedTokensIn: 0, cacheWriteTokensIn: 0, tokensOut: await estimateTokens('Hello from') });
    expect(toNano(run2.spendUsd) - toNano(run.spendUsd)).toBe(chatNano);
  });

  it('a client that goes away mid-stream still gets its call recorded and its hold released', async () => {
    const ac = new AbortController();
    const r = await fetch(suite.proxy.url + '/anthropic/v1/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: ac.signal,
    });
    const reader = r.body!.getReader();
    await reader.read();
    ac.abort();
    // the proxy records once the exchange is over; close() waits for it
    await suite.proxy.close();
    const run = await settledRun();
    expect(run.calls).toBe(1);
    expect(run.heldUsd).toBe(0);
  });

  it('an upstream error is passed back and costs nothing', async () => {
    const r = await post('/openai/v1/chat/completions', chatBody(), { 'x-fake-status': '500' });
    expect(r.status).toBe(500);
    const run = await settledRun();
    expect(run.spendUsd).toBe(0);
    expect(run.heldUsd).toBe(0);
  });
});

describe('the cap', () => {
  it('refuses with 402 in the provider shape once the run cap would be exceeded; the upstream never sees it', async () => {
    // Each call holds its estimate (input + 50 output tokens) and costs the fake's usage.
    await open(0.0012);
    let ok = 0;
    let last: Response | null = null;
    for (let i = 0; i < 20; i++) {
      last = await post('/openai/v1/chat/completions', chatBody());
      if (last.status !== 200) break;
      await last.text();
      ok += 1;
    }
    expect(ok).toBeGreaterThan(0);
    expect(last!.status).toBe(402);
    expect(last!.headers.get('x-should-retry')).toBe('false');
    expect(((await last!.json()) as { error: unknown }).error).toMatchObject({ type: 'insufficient_quota', code: 'run_budget_exceeded' });
    expect(suite.upstream.served.length).toBe(ok);
    expect(blocks).toEqual(['run_budget_exceeded']);

    const a = await post('/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] });
    expect(a.status).toBe(402);
    expect(await a.json()).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    const run = await settledRun();
    expect(run.blockedCalls).toBe(2);
    expect(run.spendUsd).toBeLessThanOrEqual(0.0012);
    expect(toNano(run.spendUsd)).toBe(servedNano());
  });
});
