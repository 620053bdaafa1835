/**
 * `noburn serve` benchmark, beside a baseline measured in the same run:
 *   - throughput: checks/s at 64 concurrent connections (undici closed loop) vs a plain
 *     node:http server that parses a JSON body and answers JSON (goal >= 0.8x);
 *   - latency at 1 connection: p50 / p99 of POST /v1/check (goal p50 <= 0.35 ms, p99 <= 1 ms),
 *     the echo server's beside it, and the same check through the library's remote client.
 * Servers run in child processes (this file with --role), the load in this one.
 *
 *   npx tsx bench/serve.ts [--seconds N] [--rounds N] [--quick] [--json]
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { emit, median, percentile, round } from './stats.js';
import type { Figure } from './stats.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    dir: { type: 'string' },
    cap: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const BODY = JSON.stringify({ model: 'gpt-4o', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: 'user_123' });

// ---- child roles ----

async function echoServer(): Promise<void> {
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const text = JSON.stringify({ blocked: false, blockReason: null, estimatedCostUsd: 0.0055, reservationId: 'res_abcdefghijkl', decisionId: 'res_abcdefghijkl', remaining: {}, unpriced: false, echo: body['model'] });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }) + '\n');
}

async function noburnServer(dir: string, cap: boolean): Promise<void> {
  const { SqliteStore } = await import('../src/lib/ledger/sqlite/sqlite-store.js');
  const { startServer } = await import('../src/server/server.js');
  const { createApiKey } = await import('../src/server/keys.js');
  // As `noburn serve` opens it (openStore with longLived).
  const store = new SqliteStore(join(dir, 'bench.db'), { checkpointEveryMs: 500 });
  const key = (await createApiKey(store, { projectId: 'bench', role: 'admin' })).key;
  const settings = { prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 } }, fallbackPrice: null, unknownModel: 'block' as const, holdTtlMs: 600_000 };
  const server = await startServer({ store, settings, port: 0, closeStore: true });
  if (cap) await server.ledger.setBudget('bench', { scope: 'project', capUsd: 1_000_000, period: 'month' });
  if (cap) await server.ledger.setBudget('bench', { scope: 'default_user', capUsd: 100_000, period: 'day' });
  process.stdout.write(JSON.stringify({ url: server.url, key }) + '\n');
}

if (values.role === 'echo') {
  await echoServer();
} else if (values.role === 'noburn') {
  await noburnServer(values.dir as string, values.cap === true);
} else {
  await main();
}

// ---- the load (parent) ----

interface Child {
  proc: ChildProcess;
  url: string;
  key?: string;
}

function startChild(args: string[]): Promise<Child> {
  const file = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ proc, ...(JSON.parse(line) as { url: string; key?: string }) });
    });
    proc.on('exit', (code) => reject(new Error(`bench server exited (${code})`)));
    setTimeout(() => reject(new Error('bench server did not start')), 30_000).unref();
  });
}

async function stopChild(c: Child): Promise<void> {
  const done = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await done;
}

function headers(key?: string): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  if (key) h['authorization'] = `Bearer ${key}`;
  return h;
}

/**
 * Closed loop: `conns` workers, each sending its next request as soon as the previous answer
 * is read. With `settle`, the holds are settled the way clients do it: their reservation
 * ids go back in POST /v1/records batches (one every 20 ms, like the outbox), so open holds
 * stay few, as in real use.
 */
async function throughput(c: Child, path: string, conns: number, seconds: number, settle = false): Promise<number> {
  const pool = new Pool(c.url, { connections: conns, pipelining: 1 });
  const h = headers(c.key);
  let pending: string[] = [];
  let seq = 0;
  const one = async () => {
    const res = await pool.request({ method: 'POST', path, headers: h, body: BODY });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    if (settle) {
      const id = (JSON.parse(text) as { reservationId: string | null }).reservationId;
      if (id) pending.push(id);
    }
  };
  let settling = settle;
  const settler = (async () => {
    while (settling) {
      await new Promise((r) => setTimeout(r, 20));
      if (pending.length === 0) continue;
      const ids = pending.splice(0, 1000);
      const records = ids.map((reservationId) => ({ model: 'gpt-4o', tokensIn: 900, tokensOut: 250, costUsd: 0.004, wasBlocked: false, endUserId: 'user_123', reservationId, idempotencyKey: `b-${seq++}` }));
      const res = await pool.request({ method: 'POST', path: '/v1/records', headers: h, body: JSON.stringify({ records }) });
      await res.body.text();
    }
  })();
  const runFor = async (ms: number) => {
    let n = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: conns }, async () => {
        while (performance.now() < end) {
          await one();
          n++;
        }
      }),
    );
    return n;
  };
  await runFor(500); // warm-up: connections, JIT, statement cache
  const t0 = performance.now();
  const n = await runFor(seconds * 1000);
  const rate = n / ((performance.now() - t0) / 1000);
  settling = false;
  await settler;
  pending = [];
  await pool.destroy();
  return rate;
}

/** Sequential requests on one connection: per-request latency in ms. */
async function latency(c: Child, path: string, n: number): Promise<number[]> {
  const pool = new Pool(c.url, { connections: 1, pipelining: 1 });
  const h = headers(c.key);
  const out: number[] = [];
  for (let i = 0; i < n + 300; i++) {
    const t0 = performance.now();
    const res = await pool.request({ method: 'POST', path, headers: h, body: BODY });
    await res.body.text();
    if (i >= 300) out.push(performance.now() - t0);
  }
  await pool.destroy();
  return out;
}

/** The same check through the library (NoburnGuard in remote mode). */
async function clientLatency(c: Child, n: number): Promise<number[]> {
  const { NoburnGuard } = await import('../src/lib/guard.js');
  const home = mkdtempSync(join(tmpdir(), 'noburn-bench-client-'));
  const g = new NoburnGuard({ home, url: c.url, apiKey: c.key ?? null, env: {} });
  const out: number[] = [];
  try {
    for (let i = 0; i < n + 300; i++) {
      const t0 = performance.now();
      await g.check({ model: 'gpt-4o', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: 'user_123', runId: null });
      if (i >= 300) out.push(performance.now() - t0);
    }
  } finally {
    await g.close();
    rmSync(home, { recursive: true, force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 1 : 3));
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  const latN = quick ? 1000 : 5000;
  const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-serve-'));
  const rates = { echo: [] as number[], noburn: [] as number[], capped: [] as number[] };
  let lat = { echo: [] as number[], noburn: [] as number[], client: [] as number[] };
  try {
    // Rounds alternate the servers so that machine noise hits both alike; each gets a fresh process.
    for (let r = 0; r < rounds; r++) {
      const echo = await startChild(['--role', 'echo']);
      rates.echo.push(await throughput(echo, '/echo', 64, seconds));
      if (r === 0) lat.echo = await latency(echo, '/echo', latN);
      await stopChild(echo);

      const nb = await startChild(['--role', 'noburn', '--dir', mkdtempSync(join(dir, 'r'))]);
      rates.noburn.push(await throughput(nb, '/v1/check', 64, seconds));
      if (r === 0) {
        lat = { ...lat, noburn: await latency(nb, '/v1/check', latN), client: await clientLatency(nb, latN) };
      }
      await stopChild(nb);

      const capped = await startChild(['--role', 'noburn', '--cap', '--dir', mkdtempSync(join(dir, 'c'))]);
      rates.capped.push(await throughput(capped, '/v1/check', 64, seconds, true));
      await stopChild(capped);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const echoRate = median(rates.echo);
  const nbRate = median(rates.noburn);
  const capRate = median(rates.capped);
  const p = (xs: number[], q: number) => round(percentile(xs, q), 4);
  const figures: Figure[] = [
    { name: 'checks/s, 64 connections (no cap)', value: round(nbRate, 0), unit: 'req/s', baseline: { name: 'node:http JSON echo', value: round(echoRate, 0) }, ratio: nbRate / echoRate, goal: '>= 0.8x', met: nbRate / echoRate >= 0.8 },
    { name: 'checks/s, 64 conns (project cap, holds settled)', value: round(capRate, 0), unit: 'req/s', baseline: { name: 'node:http JSON echo', value: round(echoRate, 0) }, ratio: capRate / echoRate, goal: '>= 0.8x', met: capRate / echoRate >= 0.8 },
    { name: 'check p50, 1 connection', value: p(lat.noburn, 50), unit: 'ms', baseline: { name: 'echo p50', value: p(lat.echo, 50) }, ratio: percentile(lat.noburn, 50) / percentile(lat.echo, 50), goal: '<= 0.35 ms', met: percentile(lat.noburn, 50) <= 0.35 },
    { name: 'check p99, 1 connection', value: p(lat.noburn, 99), unit: 'ms', baseline: { name: 'echo p99', value: p(lat.echo, 99) }, ratio: percentile(lat.noburn, 99) / percentile(lat.echo, 99), goal: '<= 1 ms', met: percentile(lat.noburn, 99) <= 1 },
    { name: 'guard.check() via remote client p50', value: p(lat.client, 50), unit: 'ms', baseline: { name: 'raw undici p50', value: p(lat.noburn, 50) }, ratio: percentile(lat.client, 50) / percentile(lat.noburn, 50), goal: 'well under 1 ms', met: percentile(lat.client, 50) < 1 },
    { name: 'guard.check() via remote client p99', value: p(lat.client, 99), unit: 'ms', goal: '-', met: null },
  ];
  emit(`noburn serve (${rounds} round(s) of ${seconds} s; rates are medians)`, figures);
}
