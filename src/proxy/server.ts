import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { handleRequest, type ProxyContext } from './exchange.js';
import { proxyEnv, routeTable, withPriceProviders } from './routes.js';
import { newProxySecret } from './secret.js';
import { StatsTable } from './stats.js';
import type { ProxyOptions, RunningProxy } from './types.js';
import { warmUp } from './warm.js';
import { preconnector } from './preconnect.js';

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Starts the metering proxy on 127.0.0.1 on a free port. Upstream connections are kept
 * alive in one undici pool; no timeouts of its own, because model calls can take many
 * minutes and the client's own timeout (an abort) already ends the upstream request.
 */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const table = await withPriceProviders(routeTable(opts.upstreams));
  const secret = newProxySecret();
  // Connections to the upstreams the child will likely call open now, while it starts (preconnect.ts).
  const pre = preconnector();
  for (const origin of opts.preconnect ?? []) void pre.open(origin);
  const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000, connect: pre.connect });
  const stats = new StatsTable();
  const ctx: ProxyContext = {
    table,
    dispatcher,
    guard: opts.guard,
    runId: opts.runId,
    countTokens: opts.countTokens,
    onBlocked: opts.onBlocked,
    stats,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    clamp: opts.clamp ?? true,
    secret,
    defaultUser: opts.defaultUser ?? null,
    defaultTags: opts.defaultTags,
    allowUnmetered: opts.allowUnmetered === true,
    azureDeployments: opts.azureDeployments ?? {},
    knownPrices: new Map(),
  };
  const inflight = new Set<Promise<void>>();
  const server = createServer({ noDelay: true }, (req, res) => {
    const p = handleRequest(ctx, req, res).finally(() => inflight.delete(p));
    inflight.add(p);
  });
  if (opts.warmUp === true) {
    // Before the child starts: its first call then costs what a later one does (warm.ts).
    await warmUp(ctx);
  } else {
    // Loads the tokenizer now rather than on the first call.
    void Promise.resolve()
      .then(() => opts.countTokens('warm up'))
      .catch(() => undefined);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const url = `${origin}/${secret}`;

  return {
    url,
    origin,
    env: proxyEnv(url),
    stats: () => stats.list(),
    unmetered: () => ({ forwarded: stats.unmeteredForwarded, refused: stats.unmeteredRefused }),
    async close(timeoutMs = 5000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Requests still in flight are finished (and recorded) before the run is ended.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inflight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
      pre.close();
      await dispatcher.destroy();
    },
  };
}
