/**
 * Incremental Server-Sent Events framing. Chunks from the upstream arrive cut anywhere
 * (mid-line, mid-UTF-8 sequence); this splits them into whole events without waiting
 * for the end of the stream, so each event can be metered (and, for the one case where
 * the proxy must drop an event, forwarded or not) as soon as it is complete.
 */
export interface SseEvent {
  /** The `event:` field, or null when absent (OpenAI sends only `data:`). */
  event: string | null;
  /** The `data:` lines joined with "\n" (the SSE rule), or null when the event had none. */
  data: string | null;
  /** The event's text as received, including its terminating blank line. */
  raw: string;
}

// A blank line ends an event; the spec allows \n, \r\n and \r line endings.
const BOUNDARY = /\r\n\r\n|\n\n|\r\r/g;

export class SseSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';

  /** Returns the events completed by this chunk; keeps the unfinished tail. */
  push(chunk: Uint8Array): SseEvent[] {
    this.pending += this.decoder.decode(chunk, { stream: true });
    return this.drain();
  }

  /** Ends the stream: returns an event left without its blank line (a cut-off stream), if any. */
  end(): SseEvent[] {
    this.pending += this.decoder.decode();
    const events = this.drain();
    if (this.pending.trim() !== '') events.push(parseEvent(this.pending, this.pending));
    this.pending = '';
    return events;
  }

  /** The text received but not yet part of a complete event. */
  get tail(): string {
    return this.pending;
  }

  private drain(): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    BOUNDARY.lastIndex = 0;
    for (let m = BOUNDARY.exec(this.pending); m !== null; m = BOUNDARY.exec(this.pending)) {
      const end = m.index + m[0].length;
      out.push(parseEvent(this.pending.slice(start, m.index), this.pending.slice(start, end)));
      start = end;
    }
    if (start > 0) this.pending = this.pending.slice(start);
    return out;
  }
}

function parseEvent(block: string, raw: string): SseEvent {
  let event: string | null = null;
  let data: string | null = null;
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === null ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
  }
  return { event, data, raw };
}
