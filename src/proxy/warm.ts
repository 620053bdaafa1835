/**
 * Warms the proxy before `noburn run` starts the child, so that the child's first call
 * costs about what a later one does: the tokenizer is loaded (its ranks take hundreds of
 * milliseconds to build) and a chat completion and a chat stream go through the whole
 * request path once (routing, body parse, estimate, forwarding with undici, the meter,
 * the stats), against a stub upstream in this process and a guard that allows without
 * touching the ledger. The real guard warms its own path (a check and a record in a
 * transaction rolled back). Nothing leaves 127.0.0.1, nothing is held, counted or
 * recorded, and the run's own stats and upstream pool are not used.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { loadTokenCounter } from '../lib/tokens.js';
import type { Decision } from '../lib/types.js';
import { handleRequest, type ProxyContext } from './exchange.js';
import { routeTable } from './routes.js';
import { StatsTable } from './stats.js';
import type { ProxyGuard } from './types.js';

const USAGE = { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 };
const CHOICE = { index: 0, message: { role: 'assistant', content: 'Warm.' }, finish_reason: 'stop' };

/** Answers /v1/chat/completions as OpenAI does, JSON or SSE. */
function stubUpstream(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const stream = Buffer.concat(chunks).includes('"stream":true');
    const base = { id: 'chatcmpl-warm', created: 0, model: 'warm-up' };
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [CHOICE], usage: USAGE }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (o: object) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...o })}\n\n`;
    res.write(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Warm' }, finish_reason: null }] }));
    res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    res.end(`${chunk({ choices: [], usage: USAGE })}data: [DONE]\n\n`);
  });
}

/** Allows every call, holds nothing, records nothing. */
const NULL_GUARD: ProxyGuard = {
  check: (c) =>
    Promise.resolve<Decision>({
      blocked: false,
      blockReason: null,
      estimatedCostUsd: 0,
      reservationId: null,
      remaining: {},
      source: 'ledger',
      unpriced: false,
      decisionId: null,
      tokensIn: c.estimatedTokensIn,
      tokensOut: c.estimatedTokensOut,
      clamped: false,
      estimate: { inputUsd: 0, outputUsd: 0 },
      limit: null,
      maxTokensOut: null,
      hint: null,
    }),
  record: () => undefined,
  release: () => undefined,
};

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export async function warmUp(ctx: ProxyContext): Promise<void> {
  // The guard's side: a check and a record rehearsed and rolled back (NoburnGuard.warmUp).
  // Shaped like the run's calls: its default end user and tags.
  await ctx.guard.warmUp?.(ctx.runId, { endUserId: ctx.defaultUser, tags: ctx.defaultTags });
  const count = await loadTokenCounter();
  count('Warm up the tokenizer: a sentence or two, as a prompt would have.');
  const upstream = createServer(stubUpstream);
  const dispatcher = new Agent({ keepAliveTimeout: 1000 });
  const warm: ProxyContext = { ...ctx, table: routeTable({ openai: `${await listen(upstream)}/v1` }), dispatcher, guard: NULL_GUARD, onBlocked: undefined, stats: new StatsTable(), knownPrices: new Map() };
  const proxy = createServer({ noDelay: true }, (req, res) => void handleRequest(warm, req, res));
  try {
    const base = `${await listen(proxy)}/${ctx.secret}/openai/v1/chat/completions`;
    for (const stream of [false, true, false, true]) {
      const body = JSON.stringify({ model: 'warm-up', max_tokens: 16, stream, messages: [{ role: 'user', content: 'Say something warm.' }] });
      const r = await request(base, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher });
      await r.body.text();
    }
  } finally {
    await close(proxy);
    await close(upstream);
    await dispatcher.destroy();
  }
}
