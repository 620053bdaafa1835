/**
 * A real server on 127.0.0.1:0 over a real SQLite file in a temp folder. `test-model` has
 * a configured price (1 USD / 2 USD per million tokens) so estimates are exact and known.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import type { LedgerSettings } from '../../src/lib/ledger/ledger.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { KeyRole } from '../../src/lib/ledger/key-store.js';
import { createApiKey } from '../../src/server/keys.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer, ServerOptions } from '../../src/server/server.js';

export const TEST_PRICES: LedgerSettings = {
  prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } },
  fallbackPrice: null,
  unknownModel: 'block',
  holdTtlMs: 600_000,
};

export interface TestServer {
  dir: string;
  dbPath: string;
  store: SqliteStore;
  server: RunningServer;
  url: string;
  key(projectId: string, role: KeyRole): Promise<string>;
  /** Stops the server (the store stays open unless `closeStore`). */
  stop(): Promise<void>;
  /** Starts it again on the same port and file. */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startTestServer(opts: Partial<ServerOptions> & { dir?: string } = {}): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'noburn-server-'));
  const dbPath = join(dir, 'server.db');
  let store = new SqliteStore(dbPath);
  const make = (port: number) => startServer({ settings: TEST_PRICES, processMetrics: false, ...opts, store, port });
  let server = await make(0);
  const port = server.port;
  let stopped = false;
  const t: TestServer = {
    dir,
    dbPath,
    get store() {
      return store;
    },
    get server() {
      return server;
    },
    url: server.url,
    async key(projectId, role) {
      return (await createApiKey(store, { projectId, role })).key;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close(2000);
      await store.close();
    },
    async restart() {
      if (!stopped) return;
      store = new SqliteStore(dbPath);
      server = await make(port);
      stopped = false;
    },
    async dispose() {
      await t.stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export interface Res {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request; `body` is JSON-encoded unless it is a string (sent as is). */
export async function call(
  url: string,
  method: Dispatcher.HttpMethod,
  path: string,
  opts: { key?: string | null; body?: unknown; headers?: Record<string, string>; dispatcher?: Dispatcher } = {},
): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(url + path, { method, headers, body, dispatcher: opts.dispatcher });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // metrics, or an empty body
  }
  return { status: res.statusCode, body: parsed, headers: res.headers };
}

export const checkBody = (extra: Record<string, unknown> = {}) => ({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, ...extra });

let n = 0;
export const recordBody = (extra: Record<string, unknown> = {}) => ({
  model: 'test-model',
  tokensIn: 1000,
  tokensOut: 500,
  wasBlocked: false,
  idempotencyKey: `k-${process.pid}-${Date.now()}-${++n}`,
  ...extra,
});
