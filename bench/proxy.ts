/**
 * The metering proxy beside two baselines measured in the same run, with the same client
 * and the same fake upstream (its own process):
 *   - a bare pass-through proxy (node:http + undici, no metering): the physical limit of
 *     one extra HTTP hop in Node on this machine;
 *   - the Portkey OSS gateway (`@portkey-ai/gateway`), installed by the bench with npm into
 *     a temp folder (bench/peers.ts), run on loopback.
 * noburn is a real `noburn run --cap` (the built CLI, its guard on a SQLite ledger: a
 * durable check and record per call); the client is the child it wraps (proxy-client.ts).
 * Added latency = a side's median minus the direct median; rounds are interleaved.
 *
 *   npx tsx bench/proxy.ts [--json] [--quick] [--first-only] [--profile DIR] [--cli PATH]      (after npm run build)
 *
 * --profile DIR writes a V8 CPU profile of the noburn process (the proxy) into DIR (build
 * with NOBURN_NO_MINIFY=1 node scripts/build.mjs for function names).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plainJs } from './plain-js.js';
import { installPortkey, startBareProxy, startPortkey, startUpstream } from './peers.js';
import type { Peer } from './peers.js';
import type { FirstResult, MainParams, MainResult, Side } from './proxy-client.js';
import { CHAT, STREAM } from './proxy-client.js';
import { emit, median, percentile, plainFigure, ratioFigure } from './stats.js';
import type { Figure } from './stats.js';

const ROOT = new URL('..', import.meta.url).pathname;
// --cli PATH: another build of the CLI (a baseline build kept beside this one, measured the same way).
const cliIdx = process.argv.indexOf('--cli');
const CLI = cliIdx === -1 ? join(ROOT, 'dist/cli.cjs') : (process.argv[cliIdx + 1] ?? '');
// The client runs as plain JavaScript (plain-js.ts), bundled from bench/proxy-client.ts.
const CLIENT = plainJs('bench/proxy-client.ts', 'proxy-client');
const quick = process.argv.includes('--quick');
// Only the first-call figure (and its breakdown): no Portkey, no latency rounds.
const firstOnly = process.argv.includes('--first-only');

/** Runs the client under `noburn run` (a fresh run, a fresh proxy); returns what it wrote. */
async function underNoburn<T>(home: string, upstream: Peer, mode: string, params: unknown, prof: string[]): Promise<{ result: T; calls: number }> {
  const resultFile = join(home, `result-${mode}.json`);
  const child = spawn(
    process.execPath,
    [...prof, CLI, 'run', '--cap', '100000', '--label', `bench-proxy-${mode}`, '--json', '--', process.execPath, CLIENT, mode, JSON.stringify(params), resultFile],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NOBURN_HOME: home, OPENAI_BASE_URL: upstream.base, NO_COLOR: '1' } },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`noburn run (${mode}) exited ${code}`);
  const summary = JSON.parse(out) as { calls: number };
  return { result: JSON.parse(readFileSync(resultFile, 'utf8')) as T, calls: summary.calls };
}

/** Can this peer stream a chat completion through to the end? (Portkey 1.x cannot on Node 20.) */
async function streams(side: Side): Promise<boolean> {
  try {
    const r = await fetch(`${side.base}/chat/completions`, { method: 'POST', body: STREAM, headers: { ...side.headers, 'content-type': 'application/json', authorization: 'Bearer sk-bench' } });
    const text = await r.text();
    return r.status === 200 && text.includes('[DONE]');
  } catch {
    return false;
  }
}

function latencyFigures(shape: string, s: Record<string, number[]>, hasPortkey: boolean, gated: boolean): Figure[] {
  const d = median(s['direct'] ?? []);
  const added = (k: string) => median(s[k] ?? []) - d;
  const out = [
    ratioFigure(`${shape}: noburn added latency, median`, added('noburn'), 'ms', 'bare node:http+undici proxy', added('bare'), gated ? { op: '<=', ratio: 1.25 } : undefined),
  ];
  if (hasPortkey && (s['portkey'] ?? []).length > 0) out.push(ratioFigure(`${shape}: noburn added latency, median`, added('noburn'), 'ms', 'Portkey gateway', added('portkey'), gated ? { op: '<=', ratio: 0.5 } : undefined));
  out.push(
    ratioFigure(`${shape}: noburn p99 (whole call)`, percentile(s['noburn'] ?? [], 99), 'ms', 'bare proxy p99', percentile(s['bare'] ?? [], 99)),
    plainFigure(`${shape}: upstream called directly, median`, d, 'ms'),
  );
  return out;
}

/** The same client, not under noburn, against `base` (OPENAI_BASE_URL): the bare proxy's side of the first-call figure. */
async function plainClient<T>(home: string, base: string, mode: string, params: unknown): Promise<T> {
  const resultFile = join(home, `result-plain-${mode}.json`);
  const child = spawn(process.execPath, [CLIENT, mode, JSON.stringify(params), resultFile], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, OPENAI_BASE_URL: base } });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the client (${mode}) exited ${code}`);
  return JSON.parse(readFileSync(resultFile, 'utf8')) as T;
}

/** A fresh bare proxy, warmed as noburn's proxy warms itself (four calls through it) before its client starts. */
async function freshBareFirst(home: string, upstream: Peer, direct: Side): Promise<FirstResult> {
  const bare = await startBareProxy(upstream.base);
  try {
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${bare.base}/chat/completions`, { method: 'POST', body: CHAT, headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' } });
      await r.text();
    }
    return await plainClient<FirstResult>(home, bare.base, 'first', { direct, later: 200 });
  } finally {
    await bare.stop();
  }
}

/**
 * The first proxied call of a run, each in a fresh `noburn run` (a fresh proxy process), with
 * its breakdown; beside it the same for a fresh bare proxy (the first call of any new
 * process on a new connection: a cold process, the client's second connection...).
 */
async function firstCallFigures(home: string, upstream: Peer): Promise<Figure[]> {
  const firsts: FirstResult[] = [];
  const bares: FirstResult[] = [];
  const direct: Side = { base: upstream.base, headers: {} };
  // One first call per run, and a first call is noisy: 7 runs in quick mode too (about 1-2 s each), alternated with the bare proxy's.
  for (let i = 0; i < 7; i++) {
    firsts.push((await underNoburn<FirstResult>(home, upstream, 'first', { direct, later: 200 }, [])).result);
    bares.push(await freshBareFirst(home, upstream, direct));
  }
  const later = median(firsts.flatMap((f) => f.later));
  // The spread: each run's first call against its own later median, lowest to highest.
  const perRun = firsts.map((f) => f.first / median(f.later)).sort((a, b) => a - b);
  const spread = `per run ${(perRun[0] ?? NaN).toFixed(2)}-${(perRun[perRun.length - 1] ?? NaN).toFixed(2)}x (median ${median(perRun).toFixed(2)}x), first calls ${Math.min(...firsts.map((f) => f.first)).toFixed(1)}-${Math.max(...firsts.map((f) => f.first)).toFixed(1)} ms`;
  const fresh = median(firsts.map((f) => f.freshDirect));
  const warm = median(firsts.map((f) => f.warmDirect));
  const bareFirst = median(bares.map((f) => f.first));
  const bareLater = median(bares.flatMap((f) => f.later));
  return [
    ratioFigure('first proxied call of a run', median(firsts.map((f) => f.first)), 'ms', 'a later call of the same run', later, { op: '<=', ratio: 3 }, `median of ${firsts.length} fresh runs (${spread}); the later calls are calls 101-200 of each run`),
    // Breakdown: what the child's own new connection costs (the same call straight to the upstream, new connection vs warm one).
    ratioFigure('first proxied call: a direct call over a new connection (the client\'s own connect)', fresh, 'ms', 'a direct call over a warm connection', warm),
    // And what a first call costs through any fresh proxy process: the bare one's, same client, same warm-up count.
    ratioFigure('first proxied call of a run', median(firsts.map((f) => f.first)), 'ms', 'a fresh bare proxy\'s first call', bareFirst),
    ratioFigure('a fresh bare proxy\'s first call', bareFirst, 'ms', 'its later calls', bareLater, undefined, `median of ${bares.length} fresh bare proxies, each warmed with 4 calls before the client starts`),
  ];
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const home = mkdtempSync(join(tmpdir(), 'nb-bench-proxy-'));
  // No price overrides: gpt-4o-mini is priced from the price data, as for a user who configured nothing.
  writeFileSync(join(home, 'config.json'), JSON.stringify({}));
  const profIdx = process.argv.indexOf('--profile');
  const prof = profIdx === -1 ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.argv[profIdx + 1] ?? '.'}`];
  const peers: Peer[] = [];
  try {
    const upstream = await startUpstream();
    peers.push(upstream);
    if (firstOnly) {
      emit('proxy: the first proxied call of a run', await firstCallFigures(home, upstream));
      return;
    }
    const bare = await startBareProxy(upstream.base);
    peers.push(bare);
    const installed = installPortkey();
    let portkey: Peer | null = null;
    let portkeyNote: string;
    if (installed.ok) {
      try {
        portkey = await startPortkey(installed.entry, upstream.base, home);
        peers.push(portkey);
        portkeyNote = `@portkey-ai/gateway ${installed.version}`;
      } catch (e) {
        portkeyNote = `Portkey could not be started: ${e instanceof Error ? e.message : String(e)}`;
      }
    } else {
      portkeyNote = `Portkey could not be installed: ${installed.reason}`;
    }
    if (!portkey) process.stderr.write(`\n*** ${portkeyNote}; the Portkey figures are left out, the rest is reported ***\n\n`);

    const sides: Record<string, Side> = {
      direct: { base: upstream.base, headers: {} },
      noburn: { base: '', headers: {} }, // the client takes it from OPENAI_BASE_URL (set by noburn run)
      bare: { base: bare.base, headers: {}, ...(bare.proc.pid === undefined ? {} : { pid: bare.proc.pid }) },
    };
    if (portkey) sides['portkey'] = { base: portkey.base, headers: portkey.headers };
    const portkeyStreams = portkey ? await streams(sides['portkey'] as Side) : false;
    const params: MainParams = {
      sides,
      streamSides: ['direct', 'noburn', 'bare', ...(portkeyStreams ? ['portkey'] : [])],
      rounds1: quick ? 20 : 100,
      per1: quick ? 20 : 40,
      rounds16: quick ? 4 : 12,
      per16: quick ? 25 : 50,
      roundsAgent: quick ? 6 : 20,
      perAgent: quick ? 5 : 15,
      warmup: quick ? 100 : 400,
    };
    const { result: m, calls } = await underNoburn<MainResult>(home, upstream, 'main', params, prof);

    const firsts = await firstCallFigures(home, upstream);

    const rate = (k: string) => median(m.rate16[k] ?? []);
    const figures: Figure[] = [
      ...latencyFigures('chat, 1 connection', m.chat1, portkey !== null, true),
      ...latencyFigures('chat, 16 in flight', m.chat16, portkey !== null, true),
    ];
    if (portkey) figures.push(ratioFigure('chat, 16 in flight: noburn calls/s', rate('noburn'), 'calls/s', 'Portkey gateway', rate('portkey'), { op: '>=', ratio: 2 }));
    // The proxy's own CPU per call: what its added latency is made of, read without the client's and upstream's noise.
    const cpu = (shape: string, s: Record<string, number[]>): Figure =>
      ratioFigure(`${shape}: proxy CPU per call`, median(s['noburn'] ?? []), 'ms', 'bare proxy CPU per call', median(s['bare'] ?? []), undefined, `median over rounds of (time on a CPU of the proxy process's threads during the round, /proc/PID/task/*/schedstat) / (calls in it)`);
    figures.push(
      cpu('chat, 1 connection', m.cpu1),
      cpu('chat, 16 in flight', m.cpu16),
      ratioFigure('chat, 16 in flight: noburn calls/s', rate('noburn'), 'calls/s', 'bare proxy', rate('bare')),
      plainFigure('chat, 16 in flight: upstream called directly', rate('direct'), 'calls/s'),
      ...latencyFigures('stream to last byte, 1 connection', m.stream1, portkeyStreams, false),
      ...latencyFigures(`agent conversation (${m.agentSize.messages} turns, ${Math.round(m.agentSize.chars / 1000)}k characters, one turn more each call), 1 connection`, m.agent1, portkey !== null, false),
      ...firsts,
    );
    const note = [`${(m.chat1['noburn'] ?? []).length} calls per side at 1 connection, ${(m.chat16['noburn'] ?? []).length} at 16 in flight; ${calls} calls metered and recorded by noburn`, portkeyNote];
    if (portkey && !portkeyStreams) note.push('Portkey answered no stream here (it fails on this Node version), so the stream figures have no Portkey side');
    figures[0] = { ...(figures[0] as Figure), note: note.join('; ') };
    emit('proxy (added latency = median minus the direct median; same client, same upstream)', figures);
  } finally {
    for (const p of peers.reverse()) await p.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
