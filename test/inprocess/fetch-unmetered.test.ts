/**
 * Rule (docs/library.md "One line per SDK"): guard.fetch() lets no LLM call it cannot price
 * pass silently, as the `noburn run` proxy: a request to a provider endpoint it does not
 * meter (images, audio; any non-free POST on a provider's own host), a body it cannot read
 * or that names no model (an unmapped Azure deployment) is refused with the provider's 402
 * `unmetered_request` and never sent, unless `allowUnmetered` (forwarded and counted).
 * `azureDeployments` prices a deployment path as its model. Other requests pass untouched.
 */
import OpenAI, { AzureOpenAI } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import { toNano } from '../proxy/helpers.js';
import { eventually, makeWorld, servedNano, type World } from './helpers.js';

let w: World;
afterEach(async () => w?.close());

const messages = [{ role: 'user' as const, content: 'Say hi' }];
/** What the Azure clients send when the deployment, not the body, names the model. */
const noModel = { messages, max_tokens: 20 } as unknown as ChatCompletionCreateParamsNonStreaming;

async function ledgerCalls(): Promise<number> {
  await w.guard.flush();
  return (await w.guard.spend()).calls;
}

function azure(f: typeof fetch): AzureOpenAI {
  return new AzureOpenAI({ endpoint: w.upstream.url, apiKey: 'az-test', apiVersion: '2024-10-21', deployment: 'prod', maxRetries: 0, fetch: f });
}

describe('guard.fetch() refuses what it cannot price', () => {
  it('images.generate through the official client: a 402 unmetered_request the SDK does not retry; nothing sent', async () => {
    w = await makeWorld();
    const f = w.guard.fetch();
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, fetch: f });
    const err = (await client.images.generate({ model: 'gpt-image-1', prompt: 'a cat' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(402);
    expect(err.code).toBe('unmetered_request');
    expect(err.message).toContain('allowUnmetered');
    expect(w.upstream.served.length).toBe(0); // not sent, not retried
    expect(f.unmetered()).toEqual({ forwarded: 0, refused: 1 });
  });

  it('an Azure deployment path that names no model: refused unless mapped; mapped, it is metered as its model', async () => {
    w = await makeWorld();
    const refused = guardAzure({});
    const err = (await refused.client.chat.completions.create(noModel).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(402);
    expect(err.code).toBe('unmetered_request');
    expect(err.message).toContain('azureDeployments');
    expect(err.message).toContain('"prod"');
    expect(w.upstream.served.length).toBe(0);
    expect(refused.f.unmetered()).toEqual({ forwarded: 0, refused: 1 });

    const mapped = guardAzure({ azureDeployments: { prod: 'gpt-4o-mini' } });
    const r = await mapped.client.chat.completions.create(noModel);
    expect(r.choices[0]?.message.content).toBe('Hello from the fake upstream.');
    // The AzureOpenAI client usually sends the deployment name as the model: the mapping wins.
    await mapped.client.chat.completions.create({ model: 'prod', messages, max_tokens: 20 });
    expect(w.upstream.served.map((c) => c.path)).toEqual(['/openai/deployments/prod/chat/completions', '/openai/deployments/prod/chat/completions']);
    await eventually(async () => (await ledgerCalls()) === 2, 'the records');
    expect(toNano((await w.guard.spend()).totalUsd)).toBe(servedNano(w.upstream.served));
    expect(mapped.f.unmetered()).toEqual({ forwarded: 0, refused: 0 });
  });

  it('a chat body that is not JSON is refused, not passed', async () => {
    w = await makeWorld();
    const f = w.guard.fetch();
    const r = await f(`${w.upstream.openaiBase}/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'model=gpt-4o-mini' });
    expect(r.status).toBe(402);
    expect(r.headers.get('x-should-retry')).toBe('false');
    expect(await r.json()).toMatchObject({ error: { code: 'unmetered_request' } });
    expect(w.upstream.served.length).toBe(0);
  });

  it("a provider's own host: a non-free POST it does not meter is refused, its free ones and reads pass", async () => {
    w = await makeWorld();
    const sent: string[] = [];
    // No network: the fetch that would send the request only notes it.
    const send = (input: Parameters<typeof fetch>[0]): Promise<Response> => {
      sent.push(String(input instanceof Request ? input.url : input));
      return Promise.resolve(new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } }));
    };
    const f = w.guard.fetch({ fetch: send as typeof fetch });
    const post = (url: string) => f(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect((await post('https://api.openai.com/v1/vector_stores')).status).toBe(402);
    expect((await post('https://res.openai.azure.com/openai/deployments/prod/audio/speech?api-version=2024-10-21')).status).toBe(402);
    expect((await post('https://api.anthropic.com/v1/messages/batches')).status).toBe(402);
    expect((await post('https://api.openai.com/v1/moderations')).status).toBe(200);
    expect((await post('https://api.anthropic.com/v1/messages/count_tokens')).status).toBe(200);
    expect((await f('https://api.openai.com/v1/models')).status).toBe(200);
    expect(sent).toEqual(['https://api.openai.com/v1/moderations', 'https://api.anthropic.com/v1/messages/count_tokens', 'https://api.openai.com/v1/models']);
    expect(f.unmetered()).toEqual({ forwarded: 0, refused: 3 });
  });

  it('requests that are not LLM calls pass untouched (another path, another host)', async () => {
    w = await makeWorld();
    const f = w.guard.fetch();
    const r = await f(`${w.upstream.url}/api/v2/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"a cat"}' });
    expect(r.status).toBe(404); // the fake upstream's answer: the request reached it
    expect(w.upstream.served.map((c) => c.path)).toEqual(['/api/v2/things']);
    expect(f.unmetered()).toEqual({ forwarded: 0, refused: 0 });
  });
});

describe('guard.fetch({ allowUnmetered: true })', () => {
  it('forwards and counts what it cannot price (images, an unmapped deployment, a model with no price); metered calls are still metered', async () => {
    w = await makeWorld();
    const f = w.guard.fetch({ allowUnmetered: true });
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, maxRetries: 0, fetch: f });
    const img = await client.images.generate({ model: 'gpt-image-1', prompt: 'a cat' });
    expect(img.data?.length).toBe(1);
    await azure(f).chat.completions.create(noModel);
    await client.chat.completions.create({ model: 'nb-no-such-model-zz', messages });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 20 });
    expect(w.upstream.served.length).toBe(4);
    expect(f.unmetered()).toEqual({ forwarded: 3, refused: 0 });
    await eventually(async () => (await ledgerCalls()) === 1, 'the record');
    expect(toNano((await w.guard.spend()).totalUsd)).toBe(servedNano(w.upstream.served.slice(3)));
  });
});

function guardAzure(opts: { azureDeployments?: Record<string, string> }): { f: ReturnType<World['guard']['fetch']>; client: AzureOpenAI } {
  const f = w.guard.fetch(opts);
  return { f, client: azure(f) };
}
