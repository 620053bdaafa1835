import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { estimateEndpoint } from '../lib/metering/estimate.js';
import { ResponseMeter } from '../lib/metering/meter.js';
import { FALLBACK_PROVIDER } from '../lib/metering/providers/index.js';
import { errorResponse, refusal, type ProviderErrorResponse } from '../lib/metering/refusal.js';
import { isObj, type Endpoint } from '../lib/metering/types.js';
import { loadTokenCounter } from '../lib/tokens.js';
import type { BlockReason } from '../lib/types.js';
import { forwardRequestHeaders, forwardResponseHeaders, headerString } from './headers.js';
import { matchRoute, type Route, type RouteTable } from './routes.js';
import type { StatsTable } from './stats.js';
import type { CountTokens, ProxyGuard, Usage } from './types.js';

/** Everything one request needs from the running proxy. */
export interface ProxyContext {
  table: RouteTable;
  dispatcher: Dispatcher;
  guard: ProxyGuard;
  runId: string;
  countTokens: CountTokens;
  onBlocked: ((reason: BlockReason | null, model: string) => void) | undefined;
  stats: StatsTable;
  maxBodyBytes: number;
}

export async function handleRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const route = matchRoute(req.url ?? '/', ctx.table);
    if (!route) {
      req.resume();
      return send(res, errorResponse(FALLBACK_PROVIDER, 404, 'not_found', unknownPathMessage(ctx.table), false));
    }
    if (route.endpoint === null || req.method !== 'POST') return await forward(ctx, route, req, res, req, null);
    return await metered(ctx, route, route.endpoint, req, res);
  } catch {
    // Never let one request take the proxy down; the message carries no request data.
    if (!res.headersSent && !res.destroyed) send(res, errorResponse(FALLBACK_PROVIDER, 500, 'noburn_proxy_error', 'noburn proxy: internal error', false));
    else res.destroy();
  }
}

async function metered(ctx: ProxyContext, route: Route, endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req, ctx.maxBodyBytes);
  if (raw === null) {
    res.setHeader('connection', 'close');
    return send(res, errorResponse(route.provider, 413, 'request_too_large', `noburn proxy: request body over ${ctx.maxBodyBytes} bytes`, false));
  }
  let body: unknown = null;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    // not JSON: the upstream will refuse it; nothing to meter
  }
  const model = isObj(body) ? endpoint.model(body) : null;
  // Without a model there is nothing to price; the providers reject such requests anyway.
  if (!isObj(body) || model === null) return forward(ctx, route, req, res, raw, null);

  const estimate = await estimateEndpoint(endpoint, body, model, ctx.countTokens);
  let decision;
  try {
    decision = await ctx.guard.check({ model, estimatedTokensIn: estimate.tokensIn, estimatedTokensOut: estimate.tokensOut, runId: ctx.runId });
  } catch (e) {
    const msg = `noburn could not check this request: ${e instanceof Error ? e.message : String(e)}`;
    return send(res, errorResponse(route.provider, 500, 'noburn_check_failed', msg, false));
  }
  if (decision.blocked) {
    ctx.stats.blocked(model);
    ctx.onBlocked?.(decision.blockReason, model);
    return send(res, refusal(route.provider, decision.blockReason, model));
  }

  // Some APIs (OpenAI chat) report a stream's usage only when asked: the adapter asks, and
  // the meter hides the answer from a client that did not ask itself.
  const strip = endpoint.ensureStreamUsage(body);
  const outBody = strip ? Buffer.from(JSON.stringify(body), 'utf8') : raw;

  // The output held for the call bounds what a stream may pass on, whatever the upstream does with the bound.
  const heldOut = estimate.tokensOut;
  const cutAt = endpoint.outputBound !== null && endpoint.isStream(body) ? { tokens: heldOut, count: await loadTokenCounter() } : null;
  const meter = new ResponseMeter({ endpoint, estimate, countTokens: ctx.countTokens, stripUsageChunk: strip, cutAt });
  try {
    await forward(ctx, route, req, res, outBody, meter);
  } finally {
    let usage: Usage;
    try {
      usage = await meter.usage();
    } catch {
      usage = { tokensIn: estimate.tokensIn, tokensOut: estimate.tokensOut, cachedTokensIn: 0, cacheWriteTokensIn: 0 };
    }
    ctx.guard.record({
      model,
      tokensIn: usage.tokensIn,
      tokensOut: usage.tokensOut,
      cachedTokensIn: usage.cachedTokensIn,
      cacheWriteTokensIn: usage.cacheWriteTokensIn,
      wasBlocked: false,
      runId: ctx.runId,
      reservationId: decision.reservationId,
    });
    ctx.stats.recorded(model, usage, { cut: meter.cut, overHold: usage.tokensOut > heldOut });
  }
}

/**
 * Sends the request upstream and the response back, chunk by chunk. With a meter, each
 * chunk goes through it (it reads usage, and may drop the usage chunk it asked for).
 * undici's dispatch handler is used rather than request(): no intermediate stream per
 * response, and backpressure is a direct pause/resume of the upstream socket.
 * A client that goes away aborts the upstream request; an upstream that cuts the body
 * off cuts the client's too, so neither side mistakes a cut for a complete answer.
 */
function forward(
  ctx: ProxyContext,
  route: Route,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer | IncomingMessage,
  meter: ResponseMeter | null,
): Promise<void> {
  const method = req.method ?? 'GET';
  const buffered = Buffer.isBuffer(body);
  const headers = forwardRequestHeaders(req.rawHeaders, { dropContentLength: buffered, identityEncoding: meter !== null });
  return new Promise<void>((resolve) => {
    let controller: Dispatcher.DispatchController | null = null;
    let started = false;
    let finished = false;
    const onClose = (): void => {
      if (!res.writableFinished) controller?.abort(new Error('the client went away'));
    };
    const onDrain = (): void => controller?.resume();
    res.on('close', onClose);
    res.on('drain', onDrain);
    const done = (): void => {
      if (finished) return;
      finished = true;
      res.off('close', onClose);
      res.off('drain', onDrain);
      resolve();
    };
    const flushRest = (): void => {
      const rest = meter ? meter.endBody() : '';
      if (rest !== '' && !res.destroyed) res.write(rest);
    };
    ctx.dispatcher.dispatch(
      { origin: route.origin, path: route.path, method: method as Dispatcher.HttpMethod, headers, body: method === 'GET' || method === 'HEAD' ? null : body },
      {
        onRequestStart(c) {
          controller = c;
          if (res.destroyed) c.abort(new Error('the client went away'));
        },
        onResponseStart(_c, status, upHeaders) {
          started = true;
          const mayChange = meter ? meter.start(status, headerString(upHeaders['content-type']), headerString(upHeaders['content-encoding'])) : false;
          if (!res.destroyed) res.writeHead(status, forwardResponseHeaders(upHeaders, mayChange));
        },
        onResponseData(c, chunk) {
          if (meter?.cut) return;
          const out = meter ? meter.push(chunk) : chunk;
          if (meter?.cut) {
            // Ended at the hold: the client gets a complete, length-limited answer; the upstream is let go.
            if (!res.destroyed) res.end(out);
            c.abort(new Error('noburn: output reached the hold'));
            return;
          }
          if (out.length > 0 && !res.destroyed && !res.write(out)) c.pause();
        },
        onResponseEnd() {
          if (meter?.cut) return done();
          flushRest();
          if (!res.destroyed) res.end();
          done();
        },
        onResponseError(_c, err) {
          if (meter?.cut) return done();
          if (!started) {
            if (!res.headersSent && !res.destroyed) {
              const code = (err as { code?: unknown }).code;
              const msg = `noburn proxy: the upstream ${route.origin} could not be reached${typeof code === 'string' ? ` (${code})` : ''}`;
              send(res, errorResponse(route.provider, 502, 'upstream_unreachable', msg, true));
            }
          } else {
            flushRest();
            res.destroy();
          }
          done();
        },
      },
    );
  });
}

/** Reads the whole request body, or returns null past `limit` bytes (the rest is drained, not kept). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('client aborted'));
    });
  });
}

function send(res: ServerResponse, r: ProviderErrorResponse): void {
  res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

function unknownPathMessage(table: RouteTable): string {
  return `noburn proxy: unknown path; requests go under ${table.map((b) => `${b.adapter.prefix} (${b.adapter.id})`).join(', ')}`;
}
