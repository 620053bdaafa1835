import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { TAGS_HEADER } from '../lib/tags.js';
import { callModel, deploymentOf, priceKnown, startCall, unmeteredRefusal } from '../lib/metering/call.js';
import { ResponseMeter } from '../lib/metering/meter.js';
import { FALLBACK_PROVIDER } from '../lib/metering/providers/index.js';
import { errorResponse, type ProviderErrorResponse } from '../lib/metering/refusal.js';
import { isObj, type Endpoint, type Json, type ProviderAdapter } from '../lib/metering/types.js';
import type { BlockReason } from '../lib/types.js';
import { forwardRequestHeaders, forwardResponseHeaders, headerString } from './headers.js';
import { matchRoute, type Route, type RouteTable } from './routes.js';
import { decodeBody } from './request-body.js';
import { stripSecret } from './secret.js';
import type { StatsTable } from './stats.js';
import type { CountTokens, ProxyGuard, Usage } from './types.js';

/** Set on the response when the proxy lowered the request's output bound: the bound it sent (docs/run.md). */
export const CLAMPED_HEADER = 'x-noburn-clamped';

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
  clamp: boolean;
  /** The per-run path segment every request must start with (secret.ts). */
  secret: string;
  /** `noburn run --user`: the end user of calls that name none. */
  defaultUser: string | null;
  /** `noburn run --tag`: tags of every call (a request's x-noburn-tags header adds to them, its value winning per key). */
  defaultTags?: Readonly<Record<string, string>> | undefined;
  /** `--allow-unmetered`: forward what cannot be priced (counted) instead of refusing it. */
  allowUnmetered: boolean;
  /** Azure deployment name -> model, for deployment paths whose body names no model. */
  azureDeployments: Readonly<Record<string, string>>;
  /** priceKnown's memo. */
  knownPrices: Map<string, boolean>;
}

/** The header that names a call's end user to noburn; never forwarded. */
export const USER_HEADER = 'x-noburn-user';

export async function handleRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = stripSecret(req.url ?? '/', ctx.secret);
    if (url === null) {
      req.resume();
      const msg = "noburn proxy: this request does not carry the run's secret path segment (use the base URL noburn run gave the command)";
      return send(res, errorResponse(guessProvider(req.url ?? '/', ctx.table), 403, 'noburn_forbidden', msg, false));
    }
    const route = matchRoute(url, ctx.table);
    if (!route) {
      req.resume();
      return send(res, errorResponse(FALLBACK_PROVIDER, 404, 'not_found', unknownPathMessage(ctx.table), false));
    }
    // Reads (GET /models, file listings...) and POSTs that cost nothing pass; other POSTs
    // noburn cannot meter (images, audio...) are refused unless allowed.
    if (req.method !== 'POST' || (route.endpoint === null && route.provider.freeEndpoint?.(route.rest) === true)) {
      await forward(ctx, route, req, res, req, null);
      return;
    }
    if (route.endpoint === null) return await unmetered(ctx, route, req, res, req, `POST ${route.rest} is not an endpoint noburn can price`);
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
  const encoding = headerString(req.headers['content-encoding']);
  const decoded = encoding === '' || encoding === 'identity' ? raw : await decodeBody(raw, encoding, ctx.maxBodyBytes);
  if (decoded === null) return unmetered(ctx, route, req, res, raw, `the request body (content-encoding ${encoding}) could not be decoded`);
  let body: unknown = null;
  try {
    body = JSON.parse(decoded.toString('utf8'));
  } catch {
    // not JSON: nothing to price
  }
  if (!isObj(body)) return unmetered(ctx, route, req, res, raw, 'the request body is not a JSON object');
  const deployment = deploymentOf(route.rest);
  // Azure serves a deployment's model whatever the body names (AzureOpenAI sends the
  // deployment name there): a mapped deployment is priced as the model it is mapped to.
  const model = callModel(endpoint, body, deployment, ctx.azureDeployments);
  if (model === null) {
    const why = deployment === null ? 'the request names no model' : `the Azure deployment "${deployment}" is not mapped to a model (noburn run --azure-deployment ${deployment}=MODEL, or config azureDeployments)`;
    return unmetered(ctx, route, req, res, raw, why);
  }
  // A compressed body goes upstream decoded (content-encoding dropped): what was metered is what is sent.
  const plain = decoded !== raw;

  // With --allow-unmetered a model without a price is forwarded unmetered (counted), not refused.
  if (ctx.allowUnmetered && !(await priceKnown(ctx.guard, ctx.knownPrices, model, route.priceProvider))) return unmetered(ctx, route, req, res, raw, `the model ${model} has no price`);

  // Estimate, check, clamp, settle: the metering core's (lib/metering/call.ts), as guard.fetch.
  const start = await startCall({
    guard: ctx.guard,
    provider: route.provider,
    endpoint,
    body,
    model,
    countTokens: ctx.countTokens,
    clamp: ctx.clamp,
    endUserId: endUserOf(ctx, route, req, body),
    defaultTags: ctx.defaultTags,
    tagHeader: tagHeaderOf(req),
    runId: ctx.runId,
    priceProvider: route.priceProvider ?? undefined,
  });
  if (!start.allowed) {
    if (start.blocked) {
      ctx.stats.blocked(model);
      ctx.onBlocked?.(start.blocked.blockReason, model);
    }
    return send(res, start.response);
  }
  const { call } = start;
  const outBody = call.rewritten === null ? decoded : Buffer.from(call.rewritten, 'utf8');
  const extraHeaders = call.clamped ? { [CLAMPED_HEADER]: String(call.heldOut) } : null;
  const meter = new ResponseMeter(call.meter);
  let status: number | null = null;
  try {
    status = await forward(ctx, route, req, res, outBody, meter, extraHeaders, plain);
  } finally {
    // A call the upstream refused or never answered is not billed: its hold is freed and it
    // counts as an error, not as a call.
    if (status === null || status >= 400) {
      call.settle(null);
      ctx.stats.failed(model);
    } else {
      const usage = await meter.usage().catch((): Usage => call.fallback);
      call.settle(usage);
      ctx.stats.recorded(model, usage, { cut: meter.cut, overHold: usage.tokensOut > call.heldOut });
    }
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
  extraHeaders: Record<string, string> | null = null,
  decodedBody = false,
): Promise<number | null> {
  const method = req.method ?? 'GET';
  const buffered = Buffer.isBuffer(body);
  const headers = forwardRequestHeaders(req.rawHeaders, { dropContentLength: buffered, identityEncoding: meter !== null, dropContentEncoding: decodedBody });
  let status: number | null = null;
  return new Promise<number | null>((resolve) => {
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
      resolve(status);
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
        onResponseStart(_c, code, upHeaders) {
          started = true;
          status = code;
          const mayChange = meter ? meter.start(code, headerString(upHeaders['content-type']), headerString(upHeaders['content-encoding'])) : false;
          if (!res.destroyed) res.writeHead(code, extraHeaders ? { ...forwardResponseHeaders(upHeaders, mayChange), ...extraHeaders } : forwardResponseHeaders(upHeaders, mayChange));
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

/**
 * A call noburn cannot price (an endpoint it does not meter, a body it cannot read, no
 * model): refused in the provider's shape (402, not retried) unless --allow-unmetered,
 * which forwards it and counts it for the summary.
 */
async function unmetered(ctx: ProxyContext, route: Route, req: IncomingMessage, res: ServerResponse, body: Buffer | IncomingMessage, why: string): Promise<void> {
  if (!ctx.allowUnmetered) {
    if (!Buffer.isBuffer(body)) req.resume();
    ctx.stats.unmeteredRefused += 1;
    return send(res, unmeteredRefusal(route.provider, why, 'noburn run --allow-unmetered'));
  }
  ctx.stats.unmeteredForwarded += 1;
  await forward(ctx, route, req, res, body, null);
}

/** The x-noburn-tags header as sent (case kept: tags are case-sensitive); several add up. */
function tagHeaderOf(req: IncomingMessage): string | undefined {
  const th = req.headers[TAGS_HEADER];
  return Array.isArray(th) ? th.join(',') : th;
}

/**
 * The call's end user: the x-noburn-user header, else the provider's own field in the body
 * (OpenAI `user` / `safety_identifier`, Anthropic `metadata.user_id`), else the run's --user.
 */
function endUserOf(ctx: ProxyContext, route: Route, req: IncomingMessage, body: Json): string | undefined {
  const h = req.headers[USER_HEADER];
  const header = Array.isArray(h) ? h[0] : h;
  if (header !== undefined && header !== '') return header;
  return route.provider.endUser?.(body) ?? ctx.defaultUser ?? undefined;
}

/** The error shape for a request refused before routing: the provider its path names, if any. */
function guessProvider(url: string, table: RouteTable): ProviderAdapter {
  const path = url.split('?')[0] ?? '';
  for (const b of table) if (path.includes(b.adapter.prefix + '/') || path.endsWith(b.adapter.prefix)) return b.adapter;
  return FALLBACK_PROVIDER;
}

function unknownPathMessage(table: RouteTable): string {
  return `noburn proxy: unknown path; requests go under ${table.map((b) => `${b.adapter.prefix} (${b.adapter.id})`).join(', ')}`;
}
