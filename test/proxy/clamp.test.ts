/**
 * Rules: through the proxy a call whose output bound does not fit is clamped, not
 * refused: the request reaches the upstream with a bound that fits, the response says
 * so (x-noburn-clamped), and spend stays within the cap. With clamping off, the 402
 * carries the figures (cap, spent, held, estimate in/out, left) and a hint that is true.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/lib/tokens.js';
import { costNano, PRICES, toNano, type TestPrice } from './helpers.js';
import { useProxySuite } from './harness.js';

const TEST_PRICES: Record<string, TestPrice> = { ...PRICES, 'gpt-5': { inputPerMTok: 1, outputPerMTok: 10 }, 'claude-opus-4-1': { inputPerMTok: 15, outputPerMTok: 75 } };
const PROMPT = 'Plan a three-day trip to Lisbon, with a short list of places for each day.';

const suite = useProxySuite({ usage: { tokensIn: 30, cachedTokensIn: 0, tokensOut: 400 } });

function open(capUsd: number, clamp?: boolean): Promise<void> {
  return suite.open({ prices: TEST_PRICES, capUsd, proxy: { clamp } });
}

async function spendNano(): Promise<number> {
  await suite.guard.flush();
  return toNano((await suite.guard.getRun(suite.runId)).spendUsd);
}

describe('the proxy clamps by default', () => {
  it('a gpt-5 call with no max_tokens under a $0.50 cap goes through with an output bound that fits', async () => {
    await open(0.5);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0 });
    // gpt-5's output limit (128k tokens at $10/MTok = $1.28) alone is over the cap.
    const { data, response } = await client.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: PROMPT }] }).withResponse();
    expect(data.choices[0]?.message.content).toBeTruthy();
    const served = suite.upstream.served[0]!;
    expect(served.outputBound?.[0]).toBe('max_completion_tokens');
    const bound = served.outputBound?.[1] as number;
    expect(response.headers.get('x-noburn-clamped')).toBe(String(bound));
    expect(bound).toBeGreaterThanOrEqual(256);
    expect(bound).toBeLessThan(128_000);
    // The bound fits: its output alone is within the cap.
    expect(bound * 10 * 1000).toBeLessThanOrEqual(toNano(0.5));
    expect(await spendNano()).toBe(costNano('gpt-5', served.usage!, TEST_PRICES));
    expect(await spendNano()).toBeLessThanOrEqual(toNano(0.5));
  });

  it('a request whose bound fits is forwarded as it is, with no clamped header', async () => {
    await open(0.5);
    const r = await fetch(suite.proxy.env['OPENAI_BASE_URL'] + '/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5', max_tokens: 500, messages: [{ role: 'user', content: PROMPT }] }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-noburn-clamped')).toBeNull();
    expect(suite.upstream.served[0]!.outputBound).toEqual(['max_tokens', 500]);
  });

  it('anthropic: max_tokens 20000 on opus under a small cap is rewritten to fit', async () => {
    await open(0.1);
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], maxRetries: 0 });
    const { response } = await client.messages.create({ model: 'claude-opus-4-1', max_tokens: 20_000, messages: [{ role: 'user', content: PROMPT }] }).withResponse();
    const [field, bound] = suite.upstream.served[0]!.outputBound ?? [];
    expect(field).toBe('max_tokens');
    expect(bound).toBeLessThan(20_000);
    expect((bound as number) * 75 * 1000).toBeLessThanOrEqual(toNano(0.1));
    expect(response.headers.get('x-noburn-clamped')).toBe(String(bound));
    expect(await spendNano()).toBeLessThanOrEqual(toNano(0.1));
  });

  it('a clamped stream is cut at the clamped bound when the upstream ignores it', async () => {
    await open(0.05);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: { 'x-fake-long-output': '20000' } });
    let text = '';
    let finish: string | null = null;
    for await (const c of await client.chat.completions.create({ model: 'gpt-5', stream: true, messages: [{ role: 'user', content: PROMPT }] })) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    const bound = suite.upstream.long[suite.upstream.long.length - 1]!.bound as number;
    expect(await estimateTokens(text)).toBeLessThanOrEqual(bound);
    expect(await spendNano()).toBeLessThanOrEqual(toNano(0.05));
  });
});

describe('--no-clamp: strict refusal, with the figures', () => {
  it('the 402 carries cap, spent, held, estimate in/out, left and a hint that is true', async () => {
    await open(0.5, false);
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0 });
    const err = (await client.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: PROMPT }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(402);
    expect(suite.upstream.served.length).toBe(0);
    const f = (err.error as { noburn: Record<string, unknown> }).noburn;
    expect(f).toMatchObject({ reason: 'run_budget_exceeded', model: 'gpt-5', scope: 'run', capUsd: 0.5, spentUsd: 0, heldUsd: 0, leftUsd: 0.5 });
    const est = f['estimate'] as { inputUsd: number; outputUsd: number; tokensIn: number; tokensOut: number };
    expect(est.tokensOut).toBe(128_000);
    expect(est.outputUsd).toBeCloseTo(1.28, 9);
    expect(est.inputUsd).toBeGreaterThan(0);
    const max = f['maxTokensOut'] as number;
    expect(f['hint']).toBe(`set max_completion_tokens <= ${max}`);
    expect(err.message).toContain('run cap $0.500000, spent $0.000000, held $0.000000, left $0.500000');
    expect(err.message).toContain(`set max_completion_tokens <= ${max}`);

    // The hint is true: one token more is refused, the hint's bound goes through.
    const more = await client.chat.completions.create({ model: 'gpt-5', max_completion_tokens: max + 1, messages: [{ role: 'user', content: PROMPT }] }).catch((e: unknown) => e);
    expect((more as { status?: number }).status).toBe(402);
    const ok = await client.chat.completions.create({ model: 'gpt-5', max_completion_tokens: max, messages: [{ role: 'user', content: PROMPT }] });
    expect(ok.choices.length).toBe(1);
    expect(await spendNano()).toBeLessThanOrEqual(toNano(0.5));
  });

  it('anthropic: the figures are in the error object too', async () => {
    await open(0.1, false);
    const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], maxRetries: 0 });
    const err = (await client.messages.create({ model: 'claude-opus-4-1', max_tokens: 20_000, messages: [{ role: 'user', content: PROMPT }] }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err.status).toBe(402);
    const body = err.error as { error: { type: string; noburn: Record<string, unknown> } };
    expect(body.error.type).toBe('billing_error');
    expect(body.error.noburn).toMatchObject({ reason: 'run_budget_exceeded', scope: 'run', capUsd: 0.1 });
    expect(body.error.noburn['hint']).toMatch(/^set max_tokens <= \d+$/);
  });
});
