/**
 * The AI SDK middleware (`noburn/ai-sdk`) on ai v5 (flat usage: inputTokens,
 * outputTokens, cachedInputTokens) and ai v6 (nested usage { total, noCache, cacheRead,
 * cacheWrite }, the shape ai v7 keeps): generateText and streamText are checked before
 * and recorded after (spend per end user = the upstream's usage priced, cached tokens
 * included); a refused call throws NoburnBlockedError with the decision's figures and
 * never reaches the upstream; the call's maxOutputTokens is the output that was held.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { createOpenAI as createOpenAI2 } from 'ai-sdk-openai2';
import { generateText as generateText5, streamText as streamText5, wrapLanguageModel as wrapLanguageModel5 } from 'ai5';
import { afterEach, describe, expect, it } from 'vitest';
import { noburnMiddleware, NoburnBlockedError } from '../../src/lib/ai-sdk/index.js';
import { NoburnError } from '../../src/lib/errors.js';
import { eventually, makeWorld, servedNano, userHeld, userSpend, type World } from './helpers.js';

let w: World;
afterEach(async () => w?.close());

// The two SDK generations, driven the same way.
const SDKS = {
  'ai v6 (@ai-sdk/openai v3)': {
    model: (base: string, fetch?: typeof globalThis.fetch) => createOpenAI({ apiKey: 'sk-test', baseURL: base, fetch }).chat('gpt-4o-mini'),
    responsesModel: (base: string) => createOpenAI({ apiKey: 'sk-test', baseURL: base }).responses('gpt-4o-mini'),
    wrap: wrapLanguageModel,
    generateText,
    streamText,
  },
  'ai v5 (@ai-sdk/openai v2)': {
    model: (base: string, fetch?: typeof globalThis.fetch) => createOpenAI2({ apiKey: 'sk-test', baseURL: base, fetch }).chat('gpt-4o-mini'),
    responsesModel: (base: string) => createOpenAI2({ apiKey: 'sk-test', baseURL: base }).responses('gpt-4o-mini'),
    wrap: wrapLanguageModel5,
    generateText: generateText5,
    streamText: streamText5,
  },
} as const;

/* eslint-disable @typescript-eslint/no-explicit-any -- each test drives two SDK majors whose types differ; both are checked at run time */
for (const [name, sdk] of Object.entries(SDKS) as [string, any][]) {
  describe(`noburnMiddleware on ${name}`, () => {
    it('generateText and streamText are metered per end user (chat and Responses, cached tokens)', async () => {
      w = await makeWorld();
      const middleware = noburnMiddleware(w.guard, { endUserId: 'u1' });
      const chat = sdk.wrap({ model: sdk.model(w.upstream.openaiBase), middleware });
      const responses = sdk.wrap({ model: sdk.responsesModel(w.upstream.openaiBase), middleware });

      const g = await sdk.generateText({ model: chat, prompt: 'Say hi', maxOutputTokens: 40 });
      expect(g.text).toBe('Hello from the fake upstream.');
      const s = sdk.streamText({ model: chat, system: 'Be brief.', messages: [{ role: 'user', content: 'Say hi' }], maxOutputTokens: 40 });
      let streamed = '';
      for await (const t of s.textStream) streamed += t;
      expect(streamed).toBe('Hello from the fake upstream.');
      await sdk.generateText({ model: responses, prompt: 'Say hi', maxOutputTokens: 40 });
      const rs = sdk.streamText({ model: responses, prompt: 'Say hi', maxOutputTokens: 40 });
      for await (const _ of rs.textStream);

      expect(w.upstream.served.length).toBe(4);
      expect(w.upstream.served.every((c) => (c.usage?.cachedTokensIn ?? 0) > 0)).toBe(true);
      await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 4, 'the records');
      expect((await userSpend(w.guard, 'u1')).nano).toBe(servedNano(w.upstream.served));
    });

    it('the call goes out with maxOutputTokens set to the output that was held (clamped when the bound does not fit)', async () => {
      w = await makeWorld();
      const sent: Record<string, unknown>[] = [];
      const spy: typeof globalThis.fetch = (input, init) => {
        sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
        return globalThis.fetch(input, init);
      };
      const chat = sdk.wrap({ model: sdk.model(w.upstream.openaiBase, spy), middleware: noburnMiddleware(w.guard, { endUserId: 'u1' }) });
      await sdk.generateText({ model: chat, prompt: 'Say hi', maxOutputTokens: 77 });
      // No bound given: the model's output limit (gpt-4o-mini: 16384) is held and sent as the bound.
      await sdk.generateText({ model: chat, prompt: 'Say hi' });
      expect(sent.map((b) => b['max_tokens'] ?? b['max_completion_tokens'])).toEqual([77, 16384]);
      // A bound that does not fit the user's cap is clamped to the largest that does ($0.01 at $8/MTok: ~1240).
      await w.guard.setBudget({ scope: 'user', userId: 'small', capUsd: 0.01 });
      const small = sdk.wrap({ model: sdk.model(w.upstream.openaiBase, spy), middleware: noburnMiddleware(w.guard, { endUserId: 'small' }) });
      await sdk.generateText({ model: small, prompt: 'Say hi', maxOutputTokens: 4000 });
      const clamped = (sent[2]?.['max_tokens'] ?? sent[2]?.['max_completion_tokens']) as number;
      expect(clamped).toBeGreaterThanOrEqual(256);
      expect(clamped).toBeLessThan(1250);
    });

    it('a stream cut before its finish part is charged for what arrived (input estimate + output seen)', async () => {
      w = await makeWorld();
      const chat = sdk.wrap({ model: sdk.model(w.upstream.openaiBase), middleware: noburnMiddleware(w.guard, { endUserId: 'u1' }) });
      const s = sdk.streamText({ model: chat, prompt: 'Say hi', maxOutputTokens: 40, headers: { 'x-fake-cut-after': '3' }, onError: () => {} });
      try {
        for await (const _ of s.fullStream);
      } catch {
        // the SDK raises the cut body to the app
      }
      await eventually(async () => (await userSpend(w.guard, 'u1')).calls === 1, 'the cut stream to be recorded');
      const spent = await userSpend(w.guard, 'u1');
      expect(spent.nano).toBeGreaterThan(0);
      // Charged less than the whole answer would have cost with the full output bound.
      expect(spent.nano).toBeLessThan(1000 * (2 * 100 + 8 * 40));
    });

    it('blocked: NoburnBlockedError with the figures, the upstream never called, nothing held', async () => {
      w = await makeWorld();
      await w.guard.setBudget({ scope: 'user', userId: 'broke', capUsd: 0.000001 });
      const chat = sdk.wrap({ model: sdk.model(w.upstream.openaiBase), middleware: noburnMiddleware(w.guard, { endUserId: 'broke' }) });
      const err = await sdk.generateText({ model: chat, prompt: 'Say hi', maxOutputTokens: 40 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NoburnBlockedError);
      expect(err).toBeInstanceOf(NoburnError);
      const b = err as NoburnBlockedError;
      expect(b.code).toBe('NOBURN_BLOCKED');
      expect(b.reason).toBe('user_budget_exceeded');
      expect(b.decision.blocked).toBe(true);
      expect(b.estimatedCostUsd).toBeGreaterThan(0);
      expect(b.message).toContain('user_budget_exceeded');

      // streamText reports the same error through its stream.
      const errors: unknown[] = [];
      const s = sdk.streamText({ model: chat, prompt: 'Say hi', maxOutputTokens: 40, onError: ({ error }: { error: unknown }) => errors.push(error) });
      for await (const _ of s.textStream);
      expect(errors.length).toBe(1);
      expect(errors[0]).toBeInstanceOf(NoburnBlockedError);

      expect(w.upstream.served.length, 'a refused call reached the upstream').toBe(0);
      expect(await userHeld(w.guard, 'broke')).toBe(0);
    });
  });
}
/* eslint-enable @typescript-eslint/no-explicit-any */
