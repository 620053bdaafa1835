/**
 * guard.fetch() in the official `openai` client, against the fake upstream: each end
 * user's spend is exactly the usage the upstream reported, priced (plain and streamed
 * chat, tools, the Responses API, cached input tokens); at a user's cap the SDK gets a
 * 402 and does not retry it; an aborted stream is charged for what arrived; requests
 * that are not LLM calls pass untouched; the attribution header never leaves the process.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { toNano } from '../proxy/helpers.js';
import { eventually, makeWorld, servedNano, userHeld, userSpend, type World } from './helpers.js';

let w: World;
afterEach(async () => w?.close());

const messages = [{ role: 'user' as const, content: 'Please write one short, cheerful sentence about the sea.' }];
const tools = [
  {
    type: 'function' as const,
    function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];

function client(endUserId?: string): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, fetch: w.guard.fetch({ endUserId }) });
}

describe('guard.fetch() with the official openai client', () => {
  it('spend per end user equals the upstream usage priced: chat, streams, tools, Responses, cached tokens', async () => {
    w = await makeWorld();
    const c = client('u1');
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40 });
    // A stream that did not ask for usage: noburn asks, and hides the usage chunk from the app.
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40, stream: true });
    let usageChunks = 0;
    let text = '';
    for await (const chunk of s) {
      if (chunk.usage || chunk.choices.length === 0) usageChunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('Hello from the fake upstream.');
    expect(usageChunks).toBe(0);
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, tools, max_tokens: 40 });
    await c.responses.create({ model: 'gpt-4o-mini', input: 'Say hi', max_output_tokens: 40 });
    const rs = await c.responses.create({ model: 'gpt-4o-mini', input: 'Say hi', max_output_tokens: 40, stream: true });
    for await (const _ of rs);
    const u1Served = w.upstream.served.length;
    // The same client, another end user for one request (the header is the per-request override).
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40 }, { headers: { 'x-noburn-user': 'u2' } });

    expect(w.upstream.served.length).toBe(6);
    // The default fake usage has cached input tokens: they are priced at the cache-read rate.
    expect(w.upstream.served.every((call) => (call.usage?.cachedTokensIn ?? 0) > 0)).toBe(true);
    const want1 = servedNano(w.upstream.served.slice(0, u1Served));
    const want2 = servedNano(w.upstream.served, u1Served);
    await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 5 && (await userSpend(w.guard, 'u2')).calls === 1, 'the records');
    expect((await userSpend(w.guard, 'u1')).nano).toBe(want1);
    expect((await userSpend(w.guard, 'u2')).nano).toBe(want2);
    // The attribution header is noburn's: the provider never sees it.
    for (const call of w.upstream.served) expect(call.headers['x-noburn-user']).toBeUndefined();
  });

  it("at the user's cap the SDK gets a 402 and the upstream sees no retry", async () => {
    w = await makeWorld();
    const c = client('capped');
    // First call: holds ~max_tokens of output ($0.016), really costs 1900 output tokens ($0.0152);
    // the room left after it ($0.0162 cap) is below any useful output bound.
    await w.guard.setBudget({ scope: 'user', userId: 'capped', capUsd: 0.0162 });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 2000 }, { headers: { 'x-fake-usage': '20,5,1900' } });
    await eventually(async () => (await userSpend(w.guard, 'capped')).calls === 1, 'the first record');
    const served = w.upstream.served.length;
    const err = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 2000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect(String((err as Error).message)).toContain('user_budget_exceeded');
    // The refusal's figures, where the SDK exposes the error body.
    const figures = ((err as InstanceType<typeof OpenAI.APIError>).error as { noburn?: Record<string, unknown> }).noburn;
    expect(figures).toMatchObject({ reason: 'user_budget_exceeded', scope: 'user', capUsd: 0.0162 });
    expect(w.upstream.served.length, 'the refused call reached the upstream, or was retried').toBe(served);
    // The cap held: the spend is what the upstream reported for the one call that went through.
    expect((await userSpend(w.guard, 'capped')).nano).toBe(servedNano(w.upstream.served));
    expect(await userHeld(w.guard, 'capped')).toBe(0);
  });

  it('a request whose output bound does not fit is sent with the largest bound that does (clamped), not refused', async () => {
    w = await makeWorld();
    const sent: Record<string, unknown>[] = [];
    const spy: typeof fetch = (input, init) => {
      sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(input, init);
    };
    const c = new OpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, fetch: w.guard.fetch({ endUserId: 'clamped', fetch: spy }) });
    // $0.01 leaves room for ~1240 output tokens at $8/MTok; the request asks for 4000.
    await w.guard.setBudget({ scope: 'user', userId: 'clamped', capUsd: 0.01 });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 4000 });
    const bound = sent[0]?.['max_tokens'] as number;
    expect(bound).toBeGreaterThanOrEqual(256);
    expect(bound).toBeLessThan(1250);
    expect(w.upstream.served.length).toBe(1);
    await eventually(async () => (await userSpend(w.guard, 'clamped')).calls === 1, 'the record');
    expect((await userSpend(w.guard, 'clamped')).nano).toBe(servedNano(w.upstream.served));
  });

  it('an aborted stream is still charged for what arrived, and its hold is settled', async () => {
    w = await makeWorld();
    await w.guard.setBudget({ scope: 'user', userId: 'u1', capUsd: 10 });
    const c = client('u1');
    const ac = new AbortController();
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40, stream: true }, { signal: ac.signal });
    for await (const _ of s) {
      ac.abort(); // the app gives up after the first chunk
      break;
    }
    await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 1, 'the aborted stream to be recorded');
    const spent = await userSpend(w.guard, 'u1');
    // At least the input was charged (the prompt's estimate at the input price), never more than the hold.
    expect(spent.nano).toBeGreaterThan(0);
    expect(await userHeld(w.guard, 'u1')).toBe(0);
  });

  it('a stream cut by the upstream is charged for what arrived', async () => {
    w = await makeWorld();
    const c = client('u1');
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40, stream: true }, { headers: { 'x-fake-cut-after': '4' } });
    const seen = await (async () => {
      let n = 0;
      try {
        for await (const _ of s) n += 1;
      } catch {
        // the SDK may raise on the cut body
      }
      return n;
    })();
    expect(seen).toBeLessThan(8);
    await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 1, 'the cut stream to be recorded');
    const spent = await userSpend(w.guard, 'u1');
    expect(spent.nano).toBeGreaterThan(0);
    // No final usage arrived: less than the whole answer's priced usage plus the input estimate would be.
    expect(spent.nano).toBeLessThan(toNano(1));
  });

  it('a stream that runs past its hold is ended there (as a length-limited answer), and the upstream stopped', async () => {
    w = await makeWorld();
    const c = client('u1');
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 50, stream: true }, { headers: { 'x-fake-long-output': '5000' } });
    let finish: string | null = null;
    let text = '';
    for await (const chunk of s) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    const words = text.split(' ').filter(Boolean).length;
    expect(words).toBeLessThanOrEqual(50);
    await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 1, 'the record');
    await eventually(async () => w.upstream.long[0]?.aborted === true, 'the upstream to see the abort');
    expect(w.upstream.long[0]?.written).toBeLessThan(5000);
  });

  it("the end user: the x-noburn-user header, else the provider's own field in the body, else the fetch's endUserId", async () => {
    w = await makeWorld();
    const c = client('default-user');
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40, user: 'body-user' });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40, user: 'body-user' }, { headers: { 'x-noburn-user': 'header-user' } });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 40 });
    await eventually(async () => (await w.guard.spend()).calls === 3, 'the records');
    const rows = (await w.guard.spend({ by: 'user' })).rows.map((r) => [r.key, r.calls]).sort();
    expect(rows).toEqual([['body-user', 1], ['default-user', 1], ['header-user', 1]]);
  });

  it('requests that are not LLM calls pass untouched (and are not charged)', async () => {
    w = await makeWorld();
    const c = client('u1');
    const models = await c.models.list();
    const ids: string[] = [];
    for await (const m of models) ids.push(m.id);
    expect(ids).toEqual(['gpt-4o-mini']);
    expect(w.upstream.served.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /v1/models']);
    expect((await w.guard.spend()).calls).toBe(0);
  });
});
