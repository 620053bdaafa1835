import { describe, expect, it } from 'vitest';
import { estimateEndpoint, PER_MESSAGE_TOKENS, REPLY_PRIMING_TOKENS } from '../../src/lib/metering/estimate.js';
import { CHAT } from '../../src/lib/metering/providers/openai.js';
import { estimateTokens } from '../../src/lib/tokens.js';

/** A counter that says what it was asked to count: one token a character. */
function spyCounter(): { count: (t: string) => number; asked: string[] } {
  const asked: string[] = [];
  return { asked, count: (t: string) => (asked.push(t), t.length) };
}

const chat = (...contents: string[]) => ({ model: 'gpt-4o-mini', messages: contents.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })) });
const overhead = (messages: number) => messages * PER_MESSAGE_TOKENS + REPLY_PRIMING_TOKENS;

describe('input estimate: parts already counted are not counted again', () => {
  it("a conversation sent again with one more message counts only the new message, and the estimate is the same as counted afresh", async () => {
    const spy = spyCounter();
    const history = ['You are a careful agent. '.repeat(40), 'I read the file and found the bug. '.repeat(30), 'Now write the patch.'];
    const first = await estimateEndpoint(CHAT, chat(...history), 'gpt-4o-mini', spy.count);
    expect(spy.asked).toEqual(history);
    const next = await estimateEndpoint(CHAT, chat(...history, 'Here is the patch.', 'Run the tests.'), 'gpt-4o-mini', spy.count);
    expect(spy.asked.slice(history.length)).toEqual(['Here is the patch.', 'Run the tests.']);
    const chars = (xs: string[]) => xs.reduce((n, x) => n + x.length, 0);
    expect(first.tokensIn).toBe(chars(history) + overhead(3));
    expect(next.tokensIn).toBe(chars([...history, 'Here is the patch.', 'Run the tests.']) + overhead(5));
  });

  it('with the real tokenizer, a repeated request gets the same estimate as the first time', async () => {
    const body = chat('Summarise the plot of Hamlet in three short sentences, please.', 'Hamlet, prince of Denmark, feigns madness.');
    const a = await estimateEndpoint(CHAT, body, 'gpt-4o-mini', estimateTokens);
    const b = await estimateEndpoint(CHAT, structuredClone(body), 'gpt-4o-mini', estimateTokens);
    const direct = (await estimateTokens(body.messages[0]?.content ?? '')) + (await estimateTokens(body.messages[1]?.content ?? ''));
    expect(a).toEqual(b);
    expect(a.tokensIn).toBe(direct + overhead(2));
  });

  it("each counter keeps its own counts: another counter's answer is never reused", async () => {
    const one = spyCounter();
    const double = { asked: [] as string[], count: (t: string) => (double.asked.push(t), 2 * t.length) };
    const body = chat('the same words in both');
    const a = await estimateEndpoint(CHAT, body, 'm', one.count);
    const b = await estimateEndpoint(CHAT, body, 'm', double.count);
    expect(double.asked).toEqual(['the same words in both']);
    expect(b.tokensIn - overhead(1)).toBe(2 * (a.tokensIn - overhead(1)));
  });

  it('two long pieces of the same length and the same ends are told apart (each keeps its own count)', async () => {
    const spy = spyCounter();
    const ends = (middle: string) => `${'s'.repeat(100)}${middle}${'e'.repeat(100)}`;
    const [one, two] = [ends('x'.repeat(500)), ends('y'.repeat(500))];
    const count = (t: string) => (spy.asked.push(t), t.includes('x') ? 1 : 2);
    expect((await estimateEndpoint(CHAT, chat(one), 'm', count)).tokensIn).toBe(1 + overhead(1));
    expect((await estimateEndpoint(CHAT, chat(two), 'm', count)).tokensIn).toBe(2 + overhead(1));
    expect((await estimateEndpoint(CHAT, chat(one, two), 'm', count)).tokensIn).toBe(3 + overhead(2));
    expect(spy.asked).toEqual([one, two]);
  });

  it('the counts kept are bounded (8M characters): the least recently used part is counted again', async () => {
    const spy = spyCounter();
    const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(3_000_000)) as [string, string, string];
    await estimateEndpoint(CHAT, chat(a), 'm', spy.count);
    await estimateEndpoint(CHAT, chat(b), 'm', spy.count);
    // a used again: b is now the least recently used, and c (9M characters in all) pushes it out.
    await estimateEndpoint(CHAT, chat(a), 'm', spy.count);
    await estimateEndpoint(CHAT, chat(c), 'm', spy.count);
    expect(spy.asked.map((x) => x[0])).toEqual(['a', 'b', 'c']);
    await estimateEndpoint(CHAT, chat(a), 'm', spy.count);
    await estimateEndpoint(CHAT, chat(b), 'm', spy.count);
    expect(spy.asked.map((x) => x[0])).toEqual(['a', 'b', 'c', 'b']);
  });
});
