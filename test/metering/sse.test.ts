import { describe, expect, it } from 'vitest';
import { SseSplitter } from '../../src/lib/metering/sse.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('SseSplitter', () => {
  it('splits events cut anywhere, mid-line and mid-UTF-8 character', () => {
    const text = 'event: a\ndata: {"x":"é"}\n\ndata: two\ndata: lines\n\ndata: [DONE]\n\n';
    const bytes = enc(text);
    // every split point, one byte at a time at worst
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new SseSplitter();
      const events = [...s.push(bytes.slice(0, cut)), ...s.push(bytes.slice(cut)), ...s.end()];
      expect(events.map((e) => [e.event, e.data])).toEqual([
        ['a', '{"x":"é"}'],
        [null, 'two\nlines'],
        [null, '[DONE]'],
      ]);
      expect(events.map((e) => e.raw).join('')).toBe(text);
    }
  });

  it('accepts CRLF line endings and ignores comments', () => {
    const s = new SseSplitter();
    const events = s.push(enc(': keep-alive\r\n\r\ndata:no-space\r\n\r\n'));
    expect(events.map((e) => e.data)).toEqual([null, 'no-space']);
  });

  it('holds an unfinished event until its blank line, and returns it at end() (a cut stream)', () => {
    const s = new SseSplitter();
    expect(s.push(enc('data: {"a":1}\n'))).toEqual([]);
    expect(s.tail).toBe('data: {"a":1}\n');
    expect(s.end().map((e) => e.data)).toEqual(['{"a":1}']);
  });
});
