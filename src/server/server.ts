import { STATUS_CODES, createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Ledger } from '../lib/ledger/ledger.js';
import { WIRE_ERRORS } from '../lib/wire/errors.js';
import type { LedgerSettings } from '../lib/ledger/ledger.js';
import type { LedgerBackend } from '../lib/ledger/store.js';
import { AUTH_CACHE_KEYS, Authenticator } from './auth.js';
import { DbLink } from './db-link.js';
import type { Offline } from './offline.js';
import { ReplicaQueue } from './replica-queue.js';
import { makeHandlers } from './handlers.js';
import { makeLeaseHandlers } from './lease-handlers.js';
import { HttpError, errorResponse, parseQuery, readJson, sendError, sendJson } from './http.js';
import { silentLogger } from './log.js';
import type { Logger } from './log.js';
import { createMetrics } from './metrics.js';
import type { GaugeSource } from './gauges.js';
import type { Metrics } from './metrics.js';
import { buildRouter } from './router.js';
import { AlertDeliverer } from '../lib/alerts/deliverer.js';
import type { AlertTargets } from '../lib/alerts/deliverer.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, defaultMaxConnections, limitConnections } from './connections.js';
import type { ConnectionLimiter } from './connections.js';

export interface ServerOptions {
  store: LedgerBackend;
  settings: LedgerSettings;
  /** Default 127.0.0.1: never listen beyond the machine unless told to. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default 1 MiB. */
  maxBodyBytes?: number;
  logger?: Logger;
  /** How long a verified key is trusted without asking the store again (default 1000 ms). */
  authCacheMs?: number;
  now?: () => number;
  /** Close the store when the server closes (serve does; tests that reuse it do not). */
  closeStore?: boolean;
  /** Include Node's default process metrics in /metrics (default true). */
  processMetrics?: boolean;
  /** How long one ledger read serves the spend gauges of /metrics (ms, default 1000). */
  gaugeCacheMs?: number;
  /** Capped scopes and open runs the spend gauges report at most (default 1000). */
  gaugeSeriesLimit?: number;
  /** A client must send a request's headers within this (default 10 s); slower ones get 408. */
  headersTimeoutMs?: number;
  /** ...and the whole request within this (default 30 s). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this (default 30 s). */
  keepAliveTimeoutMs?: number;
  /** Open sockets at most (default: three quarters of the file-descriptor limit); see connections.ts. */
  maxConnections?: number;
  /**
   * A PostgreSQL replica's record queue (serve: $NOBURN_HOME/replica-queue.db). Given on a
   * PostgreSQL store, the replica keeps answering while the database is unreachable
   * (offline.ts): checks are decided by a lease or blocked noburn_unreachable, records are
   * queued here and replayed later. Absent (or a SQLite store): store errors answer 503.
   */
  queuePath?: string;
  /** The offline link's first probe delay (ms, default 200; tests shorten it). */
  probeMs?: number;
  /** Where fired alerts of every project are delivered (config alerts.webhook / alerts.command); absent or empty: nowhere. */
  alerts?: AlertTargets & { intervalMs?: number };
}

export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly ledger: Ledger;
  readonly metrics: Metrics;
  readonly http: Server;
  readonly connections: ConnectionLimiter;
  /** The offline mode of a PostgreSQL replica (queuePath given), else null. */
  readonly offline: Offline | null;
  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish (for at most
   * `graceMs`, default 10 s, then cut the remaining connections), close the store.
   */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_PORT = 8787;
export const DEFAULT_MAX_BODY = 1024 * 1024;

/** The link probe and the record queue of a PostgreSQL replica; replays what an earlier run left. */
function openOffline(opts: ServerOptions, path: string, ledger: Ledger, log: Logger): Offline {
  let queue: ReplicaQueue | null = null;
  const link = new DbLink({
    keys: opts.store,
    probeMs: opts.probeMs,
    onDown: (e) => log.log('warn', 'the database is unreachable: checks are decided offline, records queued', { error: e instanceof Error ? e.message : String(e) }),
    onUp: () => {
      log.log('info', 'the database is reachable again: replaying queued records', { queued: queue?.pending() ?? 0 });
      queue?.kick();
    },
  });
  queue = ReplicaQueue.open({
    path,
    replay: async (projectId, rs, calledAt) => {
      await ledger.recordPriced(projectId, rs, calledAt);
      // The database settled a batch: it is reachable (sooner than the next probe says so).
      link.succeeded();
    },
    unreachable: (e) => link.failed(e),
    onError: (e) => log.log('warn', 'replaying queued records failed (retried)', { error: e instanceof Error ? e.message : String(e) }),
    onDead: (e, idempotencyKey) =>
      log.log('error', 'the database refused a queued record: set aside in replica-queue.db (outbox_dead), not retried', { idempotencyKey, error: e instanceof Error ? e.message : String(e) }),
  });
  queue.kick();
  return { link, queue };
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? silentLogger;
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  // Group commit: checks that arrive in the same turn of the event loop share one
  // transaction (decided one after another inside it, so still exact).
  const ledger = new Ledger(opts.store, opts.settings, { now, groupCommit: true, leases: true });
  const offline = opts.store.kind === 'postgres' && opts.queuePath !== undefined ? openOffline(opts, opts.queuePath, ledger, log) : null;
  const auth = new Authenticator(opts.store, opts.authCacheMs ?? 1000, now, AUTH_CACHE_KEYS, offline?.link ?? null);
  const gaugeSource: GaugeSource = {
    // The server's projects are those its API keys name (revoked keys' too, until their caps go).
    projects: async () => (await opts.store.listKeys(null)).map((k) => k.projectId),
    budgets: (projectId) => ledger.getBudgets(projectId),
    openRuns: (projectId, limit) => ledger.listRuns(projectId, 'open', limit),
    alerts: (afterSeq, limit) => ledger.alerts(null, { afterSeq, limit }),
  };
  const metrics = createMetrics(opts.store, {
    now,
    leases: ledger.leases ? ledger.leases.stats : null,
    defaults: opts.processMetrics !== false,
    gauges: { source: gaugeSource, cacheMs: opts.gaugeCacheMs, seriesLimit: opts.gaugeSeriesLimit },
  });
  const services = { ledger, keys: opts.store, auth, metrics, now, offline };
  const route = buildRouter({ ...makeHandlers(services), ...makeLeaseHandlers(services) });
  // The server delivers every project's alerts, off the request path (alerts/deliverer.ts).
  const deliverer = opts.alerts && AlertDeliverer.wanted(opts.alerts)
    ? new AlertDeliverer({
        store: opts.store, projectId: null, targets: opts.alerts, now, intervalMs: opts.alerts.intervalMs,
        onError: (e, a) => log.log('warn', 'alert delivery failed (retried)', { alert: a?.id ?? null, error: e instanceof Error ? e.message : String(e) }),
      }).start()
    : null;
  let closing = false;
  let inflight = 0;
  let drained: (() => void) | null = null;
  const debug = log.enabled('debug');

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const method = req.method ?? 'GET';
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    let name = 'unknown';
    let status = 500;
    let keyId: string | undefined;
    try {
      if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) {
        status = 200;
        name = '/healthz';
        // HEAD: the same status and headers, no body (Node leaves the body out).
        // A replica without its database still answers (offline.ts) but is degraded.
        const extra = offline ? { degraded: offline.link.down, queued: offline.queue.pending() } : {};
        sendJson(res, 200, { ok: !closing, store: opts.store.kind, ...extra }, closing);
        return;
      }
      if (path === '/metrics' && method === 'GET') {
        status = 200;
        name = '/metrics';
        const text = await metrics.render();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      let m;
      try {
        m = route(method, path);
      } catch {
        throw new HttpError('NOBURN_MALFORMED', 'the request path is not valid percent-encoding');
      }
      if ('status' in m) {
        name = m.name;
        throw m.status === 405
          ? new HttpError('NOBURN_METHOD_NOT_ALLOWED', `${method} is not allowed on ${m.name}`)
          : new HttpError('NOBURN_NOT_FOUND', `no such endpoint: ${method} ${path}`);
      }
      name = m.route.name;
      const p = await auth.authenticate(req.headers.authorization);
      keyId = p.keyId;
      const body = m.route.body ? await readJson(req, limit) : undefined;
      const reply = await m.route.run({ p, body, params: m.params, query: q < 0 ? {} : parseQuery(raw.slice(q + 1)) });
      status = reply.status;
      sendJson(res, reply.status, reply.body, closing);
      if (debug) log.log('debug', 'request', { method, route: name, status, key: keyId, ms: +(performance.now() - t0).toFixed(3) });
    } catch (e) {
      const er = errorResponse(e);
      status = er.status;
      // An over-large body is not read: close the connection rather than drain it.
      const close = closing || er.status === 413;
      if (!res.headersSent) sendError(res, er.status, er.code, er.message, close);
      else res.destroy();
      if (er.internal) {
        log.log('error', 'request failed', { method, route: name, status, key: keyId, error: e instanceof Error ? e.message : String(e) });
      } else {
        log.log('info', 'request refused', { method, route: name, status, code: er.code, key: keyId });
      }
    } finally {
      metrics.request(name, method, status, (performance.now() - t0) / 1000);
    }
  }

  const headersTimeout = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const server = createServer(
    {
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      requestTimeout: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      headersTimeout,
      // How often Node looks for connections past those timeouts (its default, 30 s, would
      // let idle sockets pile up for that long).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      inflight++;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        inflight--;
        if (inflight === 0 && drained) drained();
      };
      // 'close' comes after 'finish' too, and when the connection drops first: one listener.
      res.on('close', finish);
      void handle(req, res);
    },
  );
  const connections = limitConnections(server, opts.maxConnections ?? defaultMaxConnections());
  // Requests Node's parser refuses (bad Content-Length, broken chunking...) still get the
  // documented `{error: {code, message}}` body; a request too slow to arrive gets 408.
  const body = (code: string, message: string) => JSON.stringify({ error: { code, message } });
  const malformed = body('NOBURN_MALFORMED', 'malformed HTTP request');
  const slow = body('NOBURN_REQUEST_TIMEOUT', 'the request did not arrive in time');
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    // A socket that never sent a byte has nobody waiting for an answer: just close it.
    if (!socket.writable || (timeout && socket.bytesRead === 0)) {
      socket.destroy();
      return;
    }
    const [status, text] = timeout ? [WIRE_ERRORS.NOBURN_REQUEST_TIMEOUT.status, slow] : [WIRE_ERRORS.NOBURN_MALFORMED.status, malformed];
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  let closeP: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    ledger,
    metrics,
    offline,
    http: server,
    connections,
    close(graceMs = 10_000) {
      closeP ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        if (inflight > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, graceMs);
            drained = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        server.closeAllConnections();
        await stopped;
        await deliverer?.stop();
        offline?.link.stop();
        // What is still queued stays on disk: the next start replays it.
        await offline?.queue.close();
        await ledger.closeLeases();
        if (opts.closeStore) await opts.store.close();
      })();
      return closeP;
    },
  };
}
