/**
 * Checks/s of the shared authority on PostgreSQL (two replicas) beside SQLite (one), with
 * the same client loop in the same run. 32 workers check in a loop against a project cap;
 * each allowed check's record goes to an outbox that is delivered in batches (as the
 * client library's outbox does), so holds are settled as in real traffic.
 *
 * - in-process: Ledger (group commit, as in serve) over two PostgresStore pools, i.e. two
 *   replicas, vs Ledger over one SqliteStore.
 * - HTTP (needs `npm run build`): two `noburn serve --store postgres://...` processes vs one
 *   `noburn serve --store FILE`, driven by an undici client spreading requests over them;
 *   and the same two replicas with budget leases (`?leases=on`), against the same baseline.
 *
 *   npx tsx bench/pg.ts [--json] [--quick]
 *
 * PostgreSQL: NOBURN_BENCH_PG, else NOBURN_TEST_PG, else postgres://postgres@127.0.0.1:5432/test.
 * Each run works in its own schema and drops it at the end.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool as HttpPool } from 'undici';
import { Ledger } from '../src/lib/ledger/ledger.js';
import type { LedgerSettings } from '../src/lib/ledger/ledger.js';
import { PostgresStore } from '../src/lib/ledger/postgres/postgres-store.js';
import { SqliteStore } from '../src/lib/ledger/sqlite/sqlite-store.js';
import type { LedgerBackend } from '../src/lib/ledger/store.js';
import { createApiKey } from '../src/server/keys.js';
import { emit, median } from './stats.js';
import type { Figure } from './stats.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.cjs');
const PG = process.env['NOBURN_BENCH_PG'] ?? process.env['NOBURN_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 3;
const CALLS = quick ? 600 : 2000;
const CONCURRENCY = 32;
const PROJECT = 'bench';
const PRICES = { 'bench-model': { inputPerMTok: 1, outputPerMTok: 2 } };
const SETTINGS: LedgerSettings = { prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 };
const CHECK = { model: 'bench-model', tokensIn: 1000, tokensOut: 100, userId: null, runId: null };

interface Target {
  /** One check; returns its reservation id. */
  check(i: number): Promise<string>;
  /** Delivers a batch of records (one request / transaction), round-robin over replicas. */
  record(batch: { reservationId: string; key: string }[], n: number): Promise<void>;
}

/** Runs `total` checks with CONCURRENCY workers and a batching outbox; returns checks per second. */
async function drive(t: Target, total: number, tag: string): Promise<number> {
  let next = 0;
  let queue: { reservationId: string; key: string }[] = [];
  let flushes = 0;
  let sending = Promise.resolve();
  const flush = () => {
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    const n = flushes++;
    // One delivery at a time, like one client's outbox.
    sending = sending.then(() => t.record(batch, n));
  };
  const timer = setInterval(flush, 5);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        queue.push({ reservationId: await t.check(i), key: `${tag}-${i}` });
        if (queue.length >= 100) flush();
      }
    }),
  );
  const rate = total / ((performance.now() - t0) / 1000);
  clearInterval(timer);
  flush();
  await sending;
  return rate;
}

function ledgerTarget(ls: Ledger[]): Target {
  return {
    async check(i) {
      const d = await (ls[i % ls.length] as Ledger).check(PROJECT, CHECK);
      if (d.blocked || d.reservationId === null) throw new Error(`bench check blocked: ${d.blockReason}`);
      return d.reservationId;
    },
    async record(batch, n) {
      await (ls[n % ls.length] as Ledger).record(
        PROJECT,
        batch.map((b) => ({ model: 'bench-model', tokensIn: 1000, tokensOut: 100, cachedTokensIn: 0, cacheWriteTokensIn: 0, costUsd: null, wasBlocked: false, userId: null, runId: null, reservationId: b.reservationId, idempotencyKey: b.key })),
      );
    },
  };
}

async function withCap(store: LedgerBackend): Promise<Ledger> {
  const l = new Ledger(store, SETTINGS, { groupCommit: true });
  await l.setBudget(PROJECT, { scope: 'project', capUsd: 1_000_000, period: 'month' });
  return l;
}

async function inProcess(dir: string, schema: string): Promise<Figure> {
  const sqlite = new SqliteStore(join(dir, 'inproc.db'));
  const pgs = [await PostgresStore.connect(PG, { schema, poolSize: 8 }), await PostgresStore.connect(PG, { schema, poolSize: 8 })];
  try {
    const sl = [await withCap(sqlite)];
    const pl = [await withCap(pgs[0] as PostgresStore), new Ledger(pgs[1] as PostgresStore, SETTINGS, { groupCommit: true })];
    await drive(ledgerTarget(sl), 200, 'warm-s');
    await drive(ledgerTarget(pl), 200, 'warm-p');
    const s: number[] = [];
    const p: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      s.push(await drive(ledgerTarget(sl), CALLS, `s${r}`));
      p.push(await drive(ledgerTarget(pl), CALLS, `p${r}`));
    }
    return figure('in-process Ledger: 2 PostgreSQL pools', p, 'in-process Ledger: 1 SQLite file', s);
  } finally {
    await sqlite.close();
    for (const x of pgs) await x.close();
  }
}

function figure(name: string, ours: number[], baseName: string, base: number[]): Figure {
  const ratio = median(ours) / median(base);
  return { name: `${name} (${CONCURRENCY} checks in flight, records batched)`, value: median(ours), unit: 'checks/s', baseline: { name: baseName, value: median(base) }, ratio, goal: 'measured', met: null };
}

interface Replica {
  child: ChildProcess;
  pool: HttpPool;
}

async function startServe(store: string, home: string): Promise<Replica> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', store, '--json'], {
    env: { ...process.env, NOBURN_HOME: home, NOBURN_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('serve did not start in 20 s')), 20_000);
    child.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      // `--json` prints one JSON document (possibly over several lines): wait until it parses.
      try {
        const url = (JSON.parse(buf) as { url: string }).url;
        clearTimeout(timer);
        resolve(url);
      } catch {
        // not complete yet
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { child, pool: new HttpPool(url, { connections: 16, pipelining: 1 }) };
}

async function stopServe(r: Replica): Promise<void> {
  await r.pool.close();
  if (r.child.exitCode === null) {
    const done = new Promise((resolve) => r.child.once('exit', resolve));
    r.child.kill('SIGTERM');
    await done;
  }
}

function httpTarget(rs: Replica[], key: string): Target {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const body = JSON.stringify({ model: 'bench-model', estimatedTokensIn: 1000, estimatedTokensOut: 100 });
  return {
    async check(i) {
      const c = await (rs[i % rs.length] as Replica).pool.request({ path: '/v1/check', method: 'POST', headers, body });
      const d = (await c.body.json()) as { blocked: boolean; reservationId: string | null };
      if (c.statusCode !== 200 || d.blocked || d.reservationId === null) throw new Error(`bench check: HTTP ${c.statusCode} ${JSON.stringify(d)}`);
      return d.reservationId;
    },
    async record(batch, n) {
      // Batches alternate between replicas: holds taken on one are settled through the other.
      const records = batch.map((b) => ({ model: 'bench-model', tokensIn: 1000, tokensOut: 100, wasBlocked: false, reservationId: b.reservationId, idempotencyKey: b.key }));
      const r = await (rs[n % rs.length] as Replica).pool.request({ path: '/v1/records', method: 'POST', headers, body: JSON.stringify({ records }) });
      await r.body.dump();
      if (r.statusCode !== 202) throw new Error(`bench record: HTTP ${r.statusCode}`);
    },
  };
}

async function overHttp(dir: string, schema: string): Promise<Figure[]> {
  if (!existsSync(CLI)) {
    process.stderr.write('bench/pg.ts: dist/cli.cjs missing (npm run build): HTTP figures skipped\n');
    return [];
  }
  // The servers' NOBURN_HOME: its config.json gives them the bench model's price.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ prices: PRICES }));
  const file = join(dir, 'serve.db');
  const pgUrl = new URL(PG);
  pgUrl.searchParams.set('options', `-c search_path=${schema}`);
  // Leases in their own schema, so that their holds never meet the other replicas' checks.
  const leaseUrl = new URL(PG);
  leaseUrl.searchParams.set('options', `-c search_path=${schema}_lease`);
  leaseUrl.searchParams.set('leases', 'on');
  // Keys and caps are made through the stores directly, before the servers start.
  const keys: string[] = [];
  const stores: LedgerBackend[] = [new SqliteStore(file), await PostgresStore.connect(PG, { schema, poolSize: 1 }), await PostgresStore.connect(PG, { schema: `${schema}_lease`, poolSize: 1 })];
  for (const store of stores) {
    await withCap(store);
    keys.push((await createApiKey(store, { projectId: PROJECT, role: 'app' })).key);
    await store.close();
  }
  const sqlite = [await startServe(file, dir)];
  const pg = [await startServe(pgUrl.toString(), dir), await startServe(pgUrl.toString(), dir)];
  const leased = [await startServe(leaseUrl.toString(), dir), await startServe(leaseUrl.toString(), dir)];
  try {
    const [sk, pk, lk] = keys as [string, string, string];
    await drive(httpTarget(sqlite, sk), 200, 'hw-s');
    await drive(httpTarget(pg, pk), 200, 'hw-p');
    await drive(httpTarget(leased, lk), 200, 'hw-l');
    const s: number[] = [];
    const p: number[] = [];
    const l: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      s.push(await drive(httpTarget(sqlite, sk), CALLS, `hs${r}`));
      p.push(await drive(httpTarget(pg, pk), CALLS, `hp${r}`));
      l.push(await drive(httpTarget(leased, lk), CALLS, `hl${r}`));
    }
    return [
      figure('HTTP: 2 serve replicas on PostgreSQL', p, 'HTTP: 1 serve on SQLite', s),
      // pg_http_2_replicas_leases_vs_sqlite: the same two replicas with budget leases (leases=on).
      figure('HTTP: 2 serve replicas on PostgreSQL, leases=on', l, 'HTTP: 1 serve on SQLite', s),
    ];
  } finally {
    for (const r of [...sqlite, ...pg, ...leased]) await stopServe(r);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nb-bench-pg-'));
  const schema = `nb_bench_${randomBytes(5).toString('hex')}`;
  const figures: Figure[] = [];
  try {
    figures.push(await inProcess(dir, schema));
    figures.push(...(await overHttp(dir, `${schema}_http`)));
  } finally {
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema}, ${schema}_http, ${schema}_http_lease CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  emit('PostgreSQL replicas vs SQLite (checks/s, higher is better)', figures);
}

await main();
