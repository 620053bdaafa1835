/**
 * Rule: a stream never passes on more output than was held. Against an upstream that
 * ignores max_tokens and streams 5,000 tokens, with room in the run for 2,000, the proxy
 * ends the stream the way the provider ends a length-limited one, the official SDKs parse
 * it without error, the upstream request is aborted, and the run's spend stays within its cap.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { estimateRequest } from '../../src/lib/metering/index.js';
import { estimateTokens } from '../../src/lib/tokens.js';
import { PRICES, toNano } from './helpers.js';
import { useProxySuite } from './harness.js';

const suite = useProxySuite();

const ROOM_OUT = 2000;
const STREAMED = 5000;
const PROMPT = 'Write a very long essay about the sea, the wind and the sky, please.';

/** A run whose cap is exactly the estimated input plus ROOM_OUT output tokens of `model`. */
async function open(provider: 'openai' | 'anthropic', body: Record<string, unknown>): Promise<number> {
  const est = await estimateRequest(provider, body);
  if (!est) throw new Error('not a metered request');
  const p = PRICES[est.model]!;
  const capNano = 1000 * (est.tokensIn * p.inputPerMTok + ROOM_OUT * p.outputPerMTok);
  await suite.open({ capUsd: capNano / 1e9 });
  suite.upstream.long.length = 0;
  return capNano;
}

async function settled() {
  await suite.guard.flush();
  return suite.guard.getRun(suite.runId);
}

describe('streams are cut at the hold', () => {
  it('openai: chunks end with finish_reason "length" and [DONE]; the upstream request is aborted', async () => {
    const body = { model: 'gpt-4o-mini', max_tokens: ROOM_OUT, messages: [{ role: 'user' as const, content: PROMPT }] };
    const capNano = await open('openai', body);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': String(STREAMED) } });

    let text = '';
    let finish: string | null = null;
    for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    const passed = await estimateTokens(text);
    expect(passed).toBeLessThanOrEqual(ROOM_OUT);
    expect(passed).toBeGreaterThan(ROOM_OUT - 10);
    // The upstream sees its request aborted (asynchronously, when its socket closes).
    await vi.waitFor(() => expect(suite.upstream.long[0]).toMatchObject({ stream: true, aborted: true }));
    expect(suite.upstream.long[0]!.written).toBeLessThan(STREAMED);

    const run = await settled();
    expect(toNano(run.spendUsd)).toBeLessThanOrEqual(capNano);
    expect(run.heldUsd).toBe(0);

  });

  it('openai: the SDK stream helper (it assembles every chunk) parses the cut stream, with the usage chunk the client asked for', async () => {
    const body = { model: 'gpt-4o-mini', max_tokens: ROOM_OUT, messages: [{ role: 'user' as const, content: PROMPT }] };
    const capNano = await open('openai', body);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': String(STREAMED) } });
    const stream = client.chat.completions.stream({ ...body, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('length');
    expect(final.usage?.completion_tokens).toBeLessThanOrEqual(ROOM_OUT);
    expect(final.usage?.completion_tokens).toBeGreaterThan(ROOM_OUT - 10);
    expect(toNano((await settled()).spendUsd)).toBeLessThanOrEqual(capNano);
  });

  it('anthropic: the message ends with stop_reason "max_tokens" and message_stop; MessageStream gives a final message', async () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: ROOM_OUT, messages: [{ role: 'user' as const, content: PROMPT }] };
    const capNano = await open('anthropic', body);
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': String(STREAMED) } });

    const final = await client.messages.stream(body).finalMessage();
    expect(final.stop_reason).toBe('max_tokens');
    const text = final.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    const passed = await estimateTokens(text);
    expect(passed).toBeLessThanOrEqual(ROOM_OUT);
    expect(passed).toBeGreaterThan(ROOM_OUT - 10);
    expect(final.usage.output_tokens).toBe(passed);
    await vi.waitFor(() => expect(suite.upstream.long[0]).toMatchObject({ aborted: true }));

    const run = await settled();
    expect(toNano(run.spendUsd)).toBeLessThanOrEqual(capNano);

  });

  it('anthropic: the raw events end content_block_stop, message_delta, message_stop', async () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: ROOM_OUT, messages: [{ role: 'user' as const, content: PROMPT }] };
    await open('anthropic', body);
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': String(STREAMED) } });
    const types: string[] = [];
    for await (const ev of await client.messages.create({ ...body, stream: true })) types.push(ev.type);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('openai Responses: the stream ends with response.incomplete (max_output_tokens) carrying the text passed on; the SDK helper parses it', async () => {
    const body = { model: 'gpt-4o-mini', max_output_tokens: ROOM_OUT, input: PROMPT };
    const capNano = await open('openai', body);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': String(STREAMED) } });
    const final = await client.responses.stream(body).finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details?.reason).toBe('max_output_tokens');
    const passed = await estimateTokens(final.output_text);
    expect(passed).toBeLessThanOrEqual(ROOM_OUT);
    expect(passed).toBeGreaterThan(ROOM_OUT - 10);
    // The text passed on, counted whole or delta by delta (token merges across deltas aside).
    expect(Math.abs((final.usage?.output_tokens ?? 0) - passed)).toBeLessThanOrEqual(1);
    await vi.waitFor(() => expect(suite.upstream.long[0]).toMatchObject({ path: '/v1/responses', aborted: true }));
    expect(toNano((await settled()).spendUsd)).toBeLessThanOrEqual(capNano);
  });

  it('a non-streamed answer past its hold is recorded at its real cost and counted as an over-hold', async () => {
    const body = { model: 'gpt-4o-mini', max_tokens: ROOM_OUT, messages: [{ role: 'user' as const, content: PROMPT }] };
    await open('openai', body);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': String(STREAMED) } });
    const r = await client.chat.completions.create(body);
    expect(r.usage?.completion_tokens).toBe(STREAMED);
    const run = await settled();
    const p = PRICES['gpt-4o-mini']!;
    expect(toNano(run.spendUsd)).toBe(1000 * ((r.usage?.prompt_tokens ?? 0) * p.inputPerMTok + STREAMED * p.outputPerMTok));
    expect(suite.proxy.stats()[0]).toMatchObject({ overHolds: 1, cutStreams: 0 });
    // The cap then blocks what follows.
    await expect(client.chat.completions.create(body)).rejects.toMatchObject({ status: 402 });
  });
});
