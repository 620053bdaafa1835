import { ResponseMeter, type MeterOptions } from './meter.js';
import type { Usage } from './types.js';

export interface MeteredResponse {
  /** A Response with the same status and headers whose body is metered as it is read. */
  response: Response;
  /**
   * Resolves with the usage to record once the body has been read to its end, cancelled
   * by the reader, or failed (then with what was seen). A body nobody reads never ends:
   * the caller that wants a record must read or cancel it.
   */
  usage: Promise<Usage>;
}

const encoder = new TextEncoder();

/**
 * Meters a fetch Response (for guard.fetch() and the AI SDK middleware): the same
 * ResponseMeter as the proxy, over a Web ReadableStream. With `cutAt`, a stream is ended
 * at the hold and the upstream body cancelled, as the proxy does. fetch has already decoded any
 * content-encoding, so the body is always readable here.
 */
export function meterResponse(upstream: Response, opts: MeterOptions): MeteredResponse {
  const meter = new ResponseMeter(opts);
  const mayChange = meter.start(upstream.status, (upstream.headers.get('content-type') ?? '').toLowerCase(), '');
  let settle!: (u: Usage) => void;
  const usage = new Promise<Usage>((resolve) => {
    settle = resolve;
  });
  let settled = false;
  const finish = (): void => {
    if (settled) return;
    settled = true;
    meter.usage().then(settle, () => settle({ tokensIn: opts.estimate.tokensIn, tokensOut: opts.estimate.tokensOut, cachedTokensIn: 0, cacheWriteTokensIn: 0 }));
  };
  const source = upstream.body;
  if (source === null) {
    meter.endBody();
    finish();
    return { response: upstream, usage };
  }
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            const rest = meter.endBody();
            if (rest !== '') controller.enqueue(encoder.encode(rest));
            controller.close();
            finish();
            return;
          }
          const out = meter.push(value);
          if (meter.cut) {
            // Ended at the hold: the reader gets a complete, length-limited answer; the upstream is let go.
            if (out.length > 0) controller.enqueue(typeof out === 'string' ? encoder.encode(out) : out);
            controller.close();
            finish();
            await reader.cancel(new Error('noburn: output reached the hold'));
            return;
          }
          if (out.length === 0) continue;
          controller.enqueue(typeof out === 'string' ? encoder.encode(out) : out);
          return;
        }
      } catch (e) {
        meter.endBody();
        finish();
        controller.error(e);
      }
    },
    async cancel(reason) {
      meter.endBody();
      finish();
      await reader.cancel(reason);
    },
  });
  const headers = new Headers(upstream.headers);
  // fetch has decoded the body: a Response built from it claims no encoding, nor the encoded length.
  if (mayChange || headers.has('content-encoding')) headers.delete('content-length');
  headers.delete('content-encoding');
  const response = new Response(body, { status: upstream.status, statusText: upstream.statusText, headers });
  return { response, usage };
}
