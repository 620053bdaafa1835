/** The usage shapes of the AI SDK generations, in ledger terms (cache reads and writes are part of tokensIn). */
import { describe, expect, it } from 'vitest';
import { readUsage, usageToRecord } from '../../src/lib/ai-sdk/usage.js';
import { estimatePromptTokens, promptText } from '../../src/lib/ai-sdk/prompt.js';
import { estimateTokens } from '../../src/lib/tokens.js';

describe('AI SDK usage readers', () => {
  it('ai v5: flat counts, inputTokens already includes the cache reads', () => {
    expect(readUsage({ inputTokens: 20, outputTokens: 12, totalTokens: 32, cachedInputTokens: 5 })).toEqual({ tokensIn: 20, tokensOut: 12, cachedTokensIn: 5, cacheWriteTokensIn: 0 });
  });

  it('ai v5 with @ai-sdk/anthropic v2: its inputTokens excludes cache reads and writes, which are added back', () => {
    expect(readUsage({ inputTokens: 28, outputTokens: 12, cachedInputTokens: 5 }, { cacheCreationInputTokens: 7 })).toEqual({ tokensIn: 40, tokensOut: 12, cachedTokensIn: 5, cacheWriteTokensIn: 7 });
  });

  it('ai v6 / v7: nested { total, noCache, cacheRead, cacheWrite }', () => {
    const u = { inputTokens: { total: 40, noCache: 28, cacheRead: 5, cacheWrite: 7 }, outputTokens: { total: 12, text: 10, reasoning: 2 } };
    expect(readUsage(u)).toEqual({ tokensIn: 40, tokensOut: 12, cachedTokensIn: 5, cacheWriteTokensIn: 7 });
    // total missing: the parts add up to it
    expect(readUsage({ inputTokens: { noCache: 28, cacheRead: 5, cacheWrite: 7 }, outputTokens: { text: 10, reasoning: 2 } })).toEqual({ tokensIn: 40, tokensOut: 12, cachedTokensIn: 5, cacheWriteTokensIn: 7 });
  });

  it('a count the provider did not report is charged at its estimate, never as zero', () => {
    expect(usageToRecord({ inputTokens: { total: undefined }, outputTokens: { total: 9 } }, { tokensIn: 100, tokensOut: 50 })).toEqual({ tokensIn: 100, tokensOut: 9, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
    expect(usageToRecord(undefined, { tokensIn: 100, tokensOut: 50 })).toEqual({ tokensIn: 100, tokensOut: 50, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });
});

describe('AI SDK prompt estimate', () => {
  it('counts system, user, assistant text, tool calls and results, tool definitions; media parts at a fixed cost', () => {
    const { parts, extraTokens } = promptText({
      prompt: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }, { type: 'file', mediaType: 'image/png', data: 'AAAA' }] },
        { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: { city: 'Paris' } }] },
        { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'weather', output: { type: 'json', value: { temp: 21 } } }] },
      ],
      tools: [{ type: 'function', name: 'weather', description: 'Weather for a city', inputSchema: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    const text = parts.join('\n');
    for (const piece of ['Be brief.', 'Weather in Paris?', '"city":"Paris"', '"temp":21', 'Weather for a city', '"properties"']) expect(text).toContain(piece);
    expect(text).not.toContain('AAAA');
    expect(extraTokens).toBe(4 * 4 + 3 + 1600);
  });

  it('each piece is counted on its own, as the proxy counts a request; the same prompt sent again is estimated the same', async () => {
    const prompt = [
      { role: 'system', content: 'You are a careful agent.' },
      { role: 'user', content: [{ type: 'text', text: 'Fix the failing test in src/lib/ledger.ts, then run it.' }] },
    ];
    const pieces = (await estimateTokens('You are a careful agent.')) + (await estimateTokens('Fix the failing test in src/lib/ledger.ts, then run it.'));
    expect(await estimatePromptTokens({ prompt })).toBe(pieces + 2 * 4 + 3);
    expect(await estimatePromptTokens({ prompt: structuredClone(prompt) })).toBe(pieces + 2 * 4 + 3);
  });
});
