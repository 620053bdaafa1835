/**
 * `noburn serve` benchmark, beside a baseline measured in the same run:
 *   - throughput: checks/s with 64 in flight (bench/loadgen.ts: undici dispatch, 16
 *     connections x pipelining 4) vs a plain node:http server that parses a JSON body and
 *     answers JSON (goal >= 0.6x);
 *   - latency at 1 connection: p50 / p99 of POST /v1/check vs the echo server's (goals
 *     <= 2x / <= 2.5x), and the same check through the library's remote client;
 *   - memory: RSS of a fresh server after a count of checks (1M; 200,000 with --quick) vs
 *     its RSS at start, vs its RSS after a tenth of the checks (growth after the warm-up),
 *     and the same with V8 told to favour memory (the operator's knob in docs/operations.md,
 *     "Memory of a long-lived server").
 * The servers are child processes (the echo server, and `noburn serve` from the built CLI:
 * run `npm run build` first), the load runs in this one; the rounds alternate the servers.
 *
 *   npx tsx bench/serve.ts [--seconds N] [--rounds N] [--quick] [--json] [--profile DIR]
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { closedLoop } from './loadgen.js';
import type { LoadOptions, LoadResult } from './loadgen.js';
import { emit, interleave, median, percentile, ratioFigure, round } from './stats.js';
import type { Figure } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    // Writes a V8 CPU profile of each noburn serve process into this folder.
    profile: { type: 'string' },
  },
});

const BODY = JSON.stringify({ model: 'gpt-4o', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: 'user_123' });

// ---- the servers ----

/** The baseline: node:http parsing the same JSON body and answering a decision-sized JSON. */
const ECHO = `
import { createServer } from 'node:http';
const server = createServer({ keepAliveTimeout: 30000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const text = JSON.stringify({ blocked: false, blockReason: null, estimatedCostUsd: 0.0055, reservationId: 'res_abcdefghijkl', decisionId: 'res_abcdefghijkl', remaining: {}, unpriced: false, echo: body.model });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ url: 'http://127.0.0.1:' + server.address().port }) + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

const CLI = join(new URL('..', import.meta.url).pathname, 'dist/cli.cjs');

function startEcho(): Promise<Child> {
  return waitForUrl(spawn(process.execPath, ['--input-type=module', '-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] }), undefined);
}

/**
 * The real thing: `noburn serve` from the built CLI on a fresh SQLite file, with an admin
 * key made by `noburn keys create`; with `cap`, a project cap and a default-user cap.
 */
async function startServe(dir: string, cap: boolean, nodeFlags: readonly string[] = []): Promise<Child> {
  const store = join(dir, 'noburn.db');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 } } }));
  const env = { ...process.env, NOBURN_HOME: dir };
  const k = spawnSync(process.execPath, [CLI, 'keys', 'create', '--store', store, '--project', 'bench', '--role', 'admin'], { env, encoding: 'utf8' });
  if (k.status !== 0) throw new Error(`noburn keys create failed: ${k.stderr}`);
  const key = k.stdout.trim();
  const prof = values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`];
  const c = await waitForUrl(spawn(process.execPath, [...prof, ...nodeFlags, CLI, 'serve', '--port', '0', '--store', store, '--json'], { stdio: ['ignore', 'pipe', 'ignore'], env }), key);
  if (cap) {
    for (const [path, body] of [
      ['/v1/budgets/project', { capUsd: 1_000_000, period: 'month' }],
      ['/v1/budgets/default-user', { capUsd: 100_000, period: 'day' }],
    ] as const) {
      const r = await fetch(`${c.url}${path}`, { method: 'PUT', headers: headers(key), body: JSON.stringify(body) });
      if (r.status !== 200) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
    }
  }
  return c;
}

// ---- the load (parent) ----

interface Child {
  proc: ChildProcess;
  url: string;
  key?: string;
}

/** Resolves when the process has printed a JSON object with its url (one line or pretty-printed). */
function waitForUrl(proc: ChildProcess, key: string | undefined): Promise<Child> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const end = out.indexOf('}');
      if (end === -1) return;
      const url = (JSON.parse(out.slice(out.indexOf('{'), end + 1)) as { url: string }).url;
      resolve(key === undefined ? { proc, url } : { proc, url, key });
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

/** The operator's knob for a smaller server (docs/operations.md, "Memory of a long-lived server"): a node flag, not allowed in NODE_OPTIONS. */
const MEMORY_KNOB = '--optimize-for-size';

/** 64 requests in flight: 16 connections x pipelining 4 (bench/loadgen.ts). */
const LOAD = { connections: 16, pipelining: 4 };

/**
 * Checks/s in a closed loop. With `settle`, the holds are settled the way clients do it:
 * their reservation ids go back in POST /v1/records batches (one every 20 ms, like the
 * outbox), so open holds stay few, as in real use.
 */
async function throughput(c: Child, path: string, opts: { ms?: number; count?: number; settle?: boolean; tick?: LoadOptions['tick'] }): Promise<LoadResult> {
  const h = headers(c.key);
  let pending: string[] = [];
  let seq = 0;
  let settling = opts.settle === true;
  const recPool = new Pool(c.url, { connections: 1 });
  const settler = (async () => {
    while (settling) {
      await new Promise((r) => setTimeout(r, 20));
      while (pending.length > 0) {
        const ids = pending.splice(0, 1000);
        const records = ids.map((reservationId) => ({ model: 'gpt-4o', tokensIn: 900, tokensOut: 250, costUsd: 0.004, wasBlocked: false, endUserId: 'user_123', reservationId, idempotencyKey: `b-${seq++}` }));
        const res = await recPool.request({ method: 'POST', path: '/v1/records', headers: h, body: JSON.stringify({ records }) });
        await res.body.text();
      }
    }
  })();
  const load: LoadOptions = { url: c.url, path, headers: h, body: BODY, ...LOAD };
  if (opts.ms !== undefined) load.ms = opts.ms;
  if (opts.count !== undefined) load.count = opts.count;
  if (opts.tick) load.tick = opts.tick;
  if (opts.settle) {
    load.onBody = (text) => {
      const id = (JSON.parse(text) as { reservationId: string | null }).reservationId;
      if (id) pending.push(id);
    };
  }
  const r = await closedLoop(load);
  settling = false;
  await settler;
  pending = [];
  await recPool.destroy();
  if (r.errors > 0) throw new Error(`${r.errors} failed requests to ${c.url}${path}`);
  return r;
}

/** Sequential requests on one connection: per-request latency in ms. */
async function latency(c: Child, path: string, n: number, out: number[] | null): Promise<void> {
  const pool = new Pool(c.url, { connections: 1, pipelining: 1 });
  const h = headers(c.key);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await pool.request({ method: 'POST', path, headers: h, body: BODY });
    await res.body.text();
    out?.push(performance.now() - t0);
  }
  await pool.destroy();
}

/** The same check through the library (NoburnGuard in remote mode). */
async function clientLatency(c: Child, n: number, out: number[]): Promise<void> {
  const { NoburnGuard } = await import('../src/lib/guard.js');
  const home = mkdtempSync(join(tmpdir(), 'noburn-bench-client-'));
  const g = new NoburnGuard({ home, url: c.url, apiKey: c.key ?? null, env: {} });
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
}

/** CPU time the process has used, in ms (utime + stime from /proc; Linux clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** A throughput round, with the server's CPU time per answered request (us): steadier than wall time on a busy machine. */
async function measured(c: Child, path: string, ms: number): Promise<LoadResult & { serverUs: number }> {
  const pid = c.proc.pid as number;
  const c0 = cpuMs(pid);
  const r = await throughput(c, path, { ms });
  return { ...r, serverUs: ((cpuMs(pid) - c0) * 1000) / r.answered };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * A fresh capped server: RSS when ready, then after `count` checks (settled). Bounded by the
 * count, so that a faster machine measures the same work; `ms` only stops a stalled run.
 */
async function memory(dir: string, count: number, ms: number, nodeFlags: readonly string[] = []): Promise<{ start: number; warm: number; warmAt: number; end: number; peak: number; answered: number; seconds: number }> {
  const c = await startServe(mkdtempSync(join(dir, 'm')), true, nodeFlags);
  try {
    const pid = c.proc.pid as number;
    await new Promise((r) => setTimeout(r, 200));
    const start = rssMb(pid);
    let peak = start;
    // RSS once a tenth of the checks is answered: the server has sized its caches by then,
    // so end / warm is what the rest of the run added (growth), not the start-up's reserves.
    let warm = Number.NaN;
    let warmAt = 0;
    const tick = (answered: number): void => {
      const rss = rssMb(pid);
      peak = Math.max(peak, rss);
      if (Number.isNaN(warm) && answered >= count / 10) [warm, warmAt] = [rss, answered];
    };
    const r = await throughput(c, '/v1/check', { count, ms, settle: true, tick: { everyMs: 1000, fn: tick } });
    await new Promise((r) => setTimeout(r, 200));
    const end = rssMb(pid);
    return { start, warm, warmAt, end, peak: Math.max(peak, end), answered: r.answered, seconds: r.seconds };
  } finally {
    await stopChild(c);
  }
}

async function main(): Promise<void> {
  const quick = values.quick === true;
  const ms = Number(values.seconds ?? (quick ? 1 : 2)) * 1000;
  const rounds = Number(values.rounds ?? (quick ? 2 : 6));
  const latRounds = quick ? 4 : 10;
  const latN = quick ? 250 : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-serve-'));
  const rates = { echo: [] as number[], noburn: [] as number[], capped: [] as number[] };
  const cores = { echo: [] as number[], noburn: [] as number[] };
  const cpu = { echo: [] as number[], noburn: [] as number[] };
  const lat = { echo: [] as number[], noburn: [] as number[], client: [] as number[] };
  let mem: Awaited<ReturnType<typeof memory>>;
  let memKnob: Awaited<ReturnType<typeof memory>>;
  const memChecks = quick ? 200_000 : 1_000_000;
  const memBoundMs = quick ? 60_000 : 300_000;
  try {
    const echo = await startEcho();
    const nb = await startServe(mkdtempSync(join(dir, 'r')), false);
    const capped = await startServe(mkdtempSync(join(dir, 'c')), true);
    try {
      // Warm-up, not counted: connections, JIT, statement caches.
      for (const c of [echo, nb, capped]) await throughput(c, c === echo ? '/echo' : '/v1/check', { ms: 500, settle: c === capped });
      for (const c of [echo, nb]) await latency(c, c === echo ? '/echo' : '/v1/check', 300, null);
      // Rounds alternate the servers (A B C, C B A...) so that machine noise hits all alike.
      await interleave(rounds, {
        echo: async () => {
          const r = await measured(echo, '/echo', ms);
          rates.echo.push(r.rate);
          cores.echo.push(r.clientCores);
          cpu.echo.push(r.serverUs);
        },
        noburn: async () => {
          const r = await measured(nb, '/v1/check', ms);
          rates.noburn.push(r.rate);
          cores.noburn.push(r.clientCores);
          cpu.noburn.push(r.serverUs);
        },
        capped: async () => void rates.capped.push((await throughput(capped, '/v1/check', { ms, settle: true })).rate),
      });
      await interleave(latRounds, {
        echo: () => latency(echo, '/echo', latN, lat.echo),
        noburn: () => latency(nb, '/v1/check', latN, lat.noburn),
        client: () => clientLatency(nb, latN / 2, lat.client),
      });
    } finally {
      for (const c of [echo, nb, capped]) await stopChild(c);
    }
    mem = await memory(dir, memChecks, memBoundMs);
    memKnob = await memory(dir, memChecks, memBoundMs, [MEMORY_KNOB]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const load = `load: bench/loadgen.ts, undici dispatch, ${LOAD.connections} connections x pipelining ${LOAD.pipelining}; the generator used ${round(median(cores.echo), 2)} core (echo) / ${round(median(cores.noburn), 2)} core (noburn) of 2`;
  const memNote = (m: typeof mem): string =>
    `${m.answered} checks (project and default-user caps, holds settled by records) in ${round(m.seconds, 1)} s (${Math.round(m.answered / m.seconds)} checks/s)${m.answered < memChecks ? ', stopped by the time bound' : ''}; peak ${round(m.peak, 1)} MB`;
  const memName = `serve RSS after ${memChecks === 1_000_000 ? '1M' : '200k'} checks`;
  const figures: Figure[] = [
    ratioFigure('checks/s, 64 in flight (no cap)', median(rates.noburn), 'req/s', 'node:http JSON echo', median(rates.echo), { op: '>=', ratio: 0.6 }, load),
    ratioFigure('server CPU per check, 64 in flight (no cap)', median(cpu.noburn), 'us', 'echo CPU per request', median(cpu.echo), undefined, 'utime+stime of the server process over each throughput round'),
    ratioFigure('checks/s, 64 in flight (project cap, holds settled)', median(rates.capped), 'req/s', 'node:http JSON echo', median(rates.echo)),
    ratioFigure('check p50, 1 connection', percentile(lat.noburn, 50), 'ms', 'echo p50', percentile(lat.echo, 50), { op: '<=', ratio: 2 }, `${lat.noburn.length} requests each, ${latRounds} alternating rounds`),
    ratioFigure('check p99, 1 connection', percentile(lat.noburn, 99), 'ms', 'echo p99', percentile(lat.echo, 99), { op: '<=', ratio: 2.5 }),
    ratioFigure('guard.check() via the remote client, p50', percentile(lat.client, 50), 'ms', 'raw undici request p50', percentile(lat.noburn, 50)),
    ratioFigure(memName, mem.end, 'MB', 'RSS at start', mem.start, { op: '<=', ratio: 1.5 }, memNote(mem)),
    ratioFigure(memName, mem.end, 'MB', 'RSS after a tenth of the checks', mem.warm, undefined, `growth after the warm-up: RSS is read once a second, the baseline at ${mem.warmAt} checks answered`),
    ratioFigure(`${memName}, node ${MEMORY_KNOB}`, memKnob.end, 'MB', 'RSS at start', memKnob.start, undefined, memNote(memKnob)),
  ];
  emit(`noburn serve (${rounds} rounds of ${ms / 1000} s; rates are medians)`, figures);
}

await main();
