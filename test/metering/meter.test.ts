import { describe, expect, it } from 'vitest';
import { ResponseMeter } from '../../src/lib/metering/meter.js';
import { MESSAGES } from '../../src/lib/metering/providers/anthropic.js';
import { CHAT } from '../../src/lib/metering/providers/openai.js';

const estimate = { tokensIn: 50, tokensOut: 100 };
const count = (t: string) => t.length;
const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

const content = chunk({ choices: [{ index: 0, delta: { content: 'Hi' } }], usage: null });
const usage = chunk({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 1 } });
const done = 'data: [DONE]\n\n';

function run(meter: ResponseMeter, parts: string[]): string {
  let out = '';
  for (const p of parts) out += Buffer.from(meter.push(Buffer.from(p))).toString();
  return out + meter.endBody();
}

describe('ResponseMeter', () => {
  it('drops the usage-only chunk it asked for, passing every other event byte for byte', async () => {
    const m = new ResponseMeter({ endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: true });
    expect(m.start(200, 'text/event-stream', '')).toBe(true);
    // cut in awkward places
    const all = content + usage + done;
    const out = run(m, [all.slice(0, 10), all.slice(10, content.length + 5), all.slice(content.length + 5)]);
    expect(out).toBe(content + done);
    expect(await m.usage()).toEqual({ tokensIn: 7, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('passes the chunks untouched when the client asked for usage itself', async () => {
    const m = new ResponseMeter({ endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: false });
    expect(m.start(200, 'text/event-stream', '')).toBe(false);
    const parts = [content.slice(0, 7), content.slice(7) + usage, done];
    const outs = parts.map((p) => m.push(Buffer.from(p)));
    expect(outs.map((o) => Buffer.from(o).toString())).toEqual(parts);
    m.endBody();
    expect((await m.usage()).tokensIn).toBe(7);
  });

  it('an error response costs nothing', async () => {
    const m = new ResponseMeter({ endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: false });
    m.start(429, 'application/json', '');
    m.push(Buffer.from('{"error":{}}'));
    m.endBody();
    expect(await m.usage()).toEqual({ tokensIn: 0, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });

  it('a successful body without readable usage is charged as estimated', async () => {
    const gz = new ResponseMeter({ endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: false });
    gz.start(200, 'application/json', 'gzip');
    gz.push(Buffer.from([0x1f, 0x8b]));
    gz.endBody();
    expect(await gz.usage()).toEqual({ tokensIn: 50, tokensOut: 100, cachedTokensIn: 0, cacheWriteTokensIn: 0 });

    const cut = new ResponseMeter({ endpoint: MESSAGES, estimate, countTokens: count, stripUsageChunk: false });
    cut.start(200, 'application/json', '');
    cut.push(Buffer.from('{"usage": {"input_tok'));
    cut.endBody();
    expect(await cut.usage()).toEqual({ tokensIn: 50, tokensOut: 100, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });
});

describe('ResponseMeter cutting at the hold', () => {
  const words = (n: number) => chunk({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { content: 'ab'.repeat(n) } }] });
  // count = characters, so 'ab' x n is 2n tokens.
  const cutAt = { tokens: 10, count: (t: string) => t.length };

  it('passes whole-event chunks uncopied while the output fits', () => {
    const m = new ResponseMeter({ endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: false, cutAt });
    m.start(200, 'text/event-stream', '');
    const c = Buffer.from(words(2) + words(2));
    expect(m.push(c)).toBe(c);
    expect(m.cut).toBe(false);
  });

  it('ends the stream at the event that would pass the hold, with finish_reason length and [DONE], and records what was passed on', async () => {
    const m = new ResponseMeter({ endpoint: CHAT, estimate, countTokens: count, stripUsageChunk: true, cutAt });
    m.start(200, 'text/event-stream', '');
    const all = words(2) + words(2) + words(2) + words(2);
    // cut mid-event: the unfinished tail is held back, never half-sent
    const first = Buffer.from(m.push(Buffer.from(all.slice(0, words(2).length + 7)))).toString();
    expect(first).toBe(words(2));
    const rest = Buffer.from(m.push(Buffer.from(all.slice(words(2).length + 7)))).toString();
    expect(m.cut).toBe(true);
    const events = (first + rest).split('\n\n').filter(Boolean);
    // 4 + 4 tokens fit; the third event (12) does not
    expect(events.length).toBe(2 + 2);
    expect(JSON.parse(events[2]!.slice(6))).toMatchObject({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'length' }] });
    expect(events[3]).toBe('data: [DONE]');
    expect(m.push(Buffer.from(words(1)))).toBe('');
    expect(m.endBody()).toBe('');
    expect(await m.usage()).toEqual({ tokensIn: 50, tokensOut: 8, cachedTokensIn: 0, cacheWriteTokensIn: 0 });
  });
});
