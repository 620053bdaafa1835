/**
 * A call the provider refused or never answered is not billed: guard.fetch() and the AI SDK
 * middleware free its hold (held back to zero) and count no call, blocked or not.
 */
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, wrapLanguageModel } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { noburnMiddleware } from '../../src/lib/ai-sdk/index.js';
import { makeWorld, userHeld, type World } from './helpers.js';

let w: World;
afterEach(async () => w?.close());

async function settled(user: string): Promise<{ held: number; calls: number; blocked: number }> {
  await w.guard.flush();
  const s = await w.guard.spend({ by: 'user' });
  const row = s.rows.find((r) => r.key === user);
  return { held: await userHeld(w.guard, user), calls: row?.calls ?? 0, blocked: row?.blockedCalls ?? 0 };
}

describe('a failed call frees its hold', () => {
  it('guard.fetch: an upstream error status (not retried by the SDK) releases the hold and counts no call', async () => {
    w = await makeWorld();
    await w.guard.setBudget({ scope: 'user', userId: 'u1', capUsd: 10 });
    const c = new OpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, maxRetries: 0, fetch: w.guard.fetch({ endUserId: 'u1' }) });
    const err = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 40 }, { headers: { 'x-fake-status': '400' } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { status?: number } | null)?.status).toBe(400);
    expect(await settled('u1')).toEqual({ held: 0, calls: 0, blocked: 0 });
  });

  it('guard.fetch: an upstream that cannot be reached releases the hold', async () => {
    w = await makeWorld();
    await w.guard.setBudget({ scope: 'user', userId: 'u1', capUsd: 10 });
    const base = w.upstream.openaiBase;
    await w.upstream.close();
    const c = new OpenAI({ apiKey: 'sk-test', baseURL: base, maxRetries: 0, fetch: w.guard.fetch({ endUserId: 'u1' }) });
    const err = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 40 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(await settled('u1')).toEqual({ held: 0, calls: 0, blocked: 0 });
  });

  it('AI SDK middleware: a provider error releases the hold and counts no call', async () => {
    w = await makeWorld();
    await w.guard.setBudget({ scope: 'user', userId: 'u1', capUsd: 10 });
    const model = wrapLanguageModel({
      model: createOpenAI({ apiKey: 'sk-test', baseURL: w.upstream.openaiBase, headers: { 'x-fake-status': '400' } }).chat('gpt-4o-mini'),
      middleware: noburnMiddleware(w.guard, { endUserId: 'u1' }),
    });
    await expect(generateText({ model, prompt: 'hi', maxOutputTokens: 40, maxRetries: 0 })).rejects.toThrow();
    expect(await settled('u1')).toEqual({ held: 0, calls: 0, blocked: 0 });
  });
});
