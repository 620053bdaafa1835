import pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import { NoburnError, NoburnStoreError } from '../../errors.js';

export interface PostgresStoreOptions {
  /** Keep the ledger's tables in this schema (created if missing). Default: the connection's search_path. */
  schema?: string | undefined;
  /** Connections per process (per replica). Default 10. */
  poolSize?: number | undefined;
  /** How long to wait for a connection before failing. Default 5000 ms. */
  connectTimeoutMs?: number | undefined;
  /** Server-side limit per statement, so a stuck lock cannot hang a request. Default 10000 ms; 0 = none. */
  statementTimeoutMs?: number | undefined;
}

const INT8_OID = 20;

// BIGINT columns (nano-dollars, epoch ms, counters) come back as JS numbers. Every value
// the ledger stores is below 2^53 (money.ts caps amounts), so the conversion is exact.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as NonNullable<PoolConfig['types']>['getTypeParser'],
};

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Builds the pool for a postgres:// URL; the schema goes into the session's search_path at
 * connect. `pool_size` in the URL (noburn's own parameter, removed before pg sees the URL)
 * sets the pool size when the option does not.
 */
export function createPool(url: string, opts: PostgresStoreOptions): Pool {
  const schema = opts.schema ?? null;
  if (schema !== null && !SCHEMA_NAME.test(schema)) throw new NoburnStoreError(`invalid PostgreSQL schema name: ${JSON.stringify(schema)}`);
  let connectionString = url;
  let options: string | undefined;
  let poolSize = opts.poolSize;
  if (schema !== null || /[?&]pool_size=/.test(url)) {
    const u = new URL(url);
    const fromUrl = u.searchParams.get('pool_size');
    u.searchParams.delete('pool_size');
    if (fromUrl !== null) {
      const n = Number(fromUrl);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new NoburnStoreError(`pool_size must be a whole number from 1 to 1000 (got ${JSON.stringify(fromUrl)})`);
      poolSize ??= n;
    }
    if (schema !== null) {
      // Options given in the URL would override ours (pg lets the URL win): merge them instead.
      const urlOptions = u.searchParams.get('options');
      u.searchParams.delete('options');
      options = `${urlOptions ?? ''} -c search_path=${schema}`.trim();
    }
    connectionString = u.toString();
  }
  const statementTimeout = opts.statementTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString,
    ...(options === undefined ? {} : { options }),
    max: poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'noburn',
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    types,
  });
  // An idle connection dropped by the server emits 'error' on the pool; without a listener
  // that would crash the process. The next query gets a fresh connection (or an error).
  pool.on('error', () => undefined);
  return pool;
}

/** Every failure below the store surfaces as NoburnStoreError (serve answers 503 for it). */
export function storeError(e: unknown): NoburnError {
  if (e instanceof NoburnError) return e;
  const err = e as { message?: string; code?: string };
  const what = err.code ? `${err.code} ${err.message ?? ''}`.trim() : (err.message ?? String(e));
  return new NoburnStoreError(`PostgreSQL ledger: ${what}`, { cause: e });
}
