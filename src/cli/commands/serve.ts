import { join } from 'node:path';
import { resolveConfig } from '../../lib/config.js';
import { NoburnConfigError, NoburnValidationError } from '../../lib/errors.js';
import { redactSecrets } from '../../lib/redact.js';
import { ExitCodes } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { ServeOptions } from '../specs.js';

/** A whole number in [min, max] from a flag, else a usage error naming the flag. */
export function parseCount(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new NoburnValidationError(`${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`);
  return Number(v);
}

export function parsePort(v: string | number): number {
  const s = String(v);
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new NoburnValidationError(`--port must be a port number from 0 to 65535 (got ${JSON.stringify(s)})`);
  return Number(s);
}

/** A store spec for logs: a postgres:// URL without its password (the one redaction helper). */
export const redactStore = redactSecrets;

/**
 * `noburn serve`: the HTTP API over the store named by --store / NOBURN_STORE /
 * $NOBURN_HOME/noburn.db. Runs until SIGTERM or SIGINT, then shuts down gracefully
 * (stop accepting, finish in-flight requests, close the store) and returns 0.
 * Logs are JSON lines on stderr (logLevel / NOBURN_LOG_LEVEL=debug|info|warn|error).
 */
export async function serveCommand(opts: ServeOptions, out: Output): Promise<number> {
  const config = resolveConfig(opts.store !== undefined ? { store: opts.store } : {});
  const [{ openStore }, { startServer, DEFAULT_PORT }, { createLogger }] = await Promise.all([
    import('../../lib/ledger/open-store.js'),
    import('../../server/server.js'),
    import('../../server/log.js'),
  ]);
  const log = createLogger(config.logLevel);
  const limits = {
    headersTimeoutMs: parseCount(opts.headersTimeoutMs, '--headers-timeout-ms', 100, 3_600_000),
    requestTimeoutMs: parseCount(opts.requestTimeoutMs, '--request-timeout-ms', 100, 3_600_000),
    keepAliveTimeoutMs: parseCount(opts.keepAliveTimeoutMs, '--keep-alive-timeout-ms', 100, 3_600_000),
    maxConnections: parseCount(opts.maxConnections, '--max-connections', 1, 1_000_000),
  };
  const store = await openStore(config.store, { longLived: true });
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port === undefined ? DEFAULT_PORT : parsePort(opts.port);
  // A PostgreSQL replica keeps records here while the database is unreachable
  // (docs/operations-postgres.md "When PostgreSQL is unreachable"); what a previous run left is replayed.
  const queuePath = store.kind === 'postgres' ? join(config.home, 'replica-queue.db') : undefined;
  let server;
  try {
    server = await startServer({ store, settings: config, host, port, logger: log, closeStore: true, queuePath, alerts: { webhook: config.alertsWebhook, command: config.alertsCommand }, ...limits });
  } catch (e) {
    await store.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new NoburnConfigError(`cannot listen on ${host}:${port}: the address is in use`);
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new NoburnConfigError(`cannot listen on ${host}:${port}: ${code}`);
    throw e;
  }
  log.log('info', 'listening', { url: server.url, store: redactStore(config.store), pid: process.pid });
  // A store without keys refuses every client ("invalid API key"): usually keys were
  // created in another store than the one served (docs/operations.md "Start").
  if ((await store.listKeys(null)).length === 0) {
    log.log('warn', 'this store has no API keys: every request will be refused; create one on the same store: noburn keys create --store <the same --store>', { store: redactStore(config.store) });
  }
  if (opts.json) out.json({ url: server.url, store: redactStore(config.store), pid: process.pid });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
  log.log('info', 'shutting down', { signal });
  // A second signal cuts in-flight requests short.
  const hurry = () => void server.close(0);
  process.once('SIGTERM', hurry);
  process.once('SIGINT', hurry);
  try {
    await server.close();
  } finally {
    process.off('SIGTERM', hurry);
    process.off('SIGINT', hurry);
  }
  log.log('info', 'stopped', {});
  return ExitCodes.OK;
}
