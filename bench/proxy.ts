/**
 * The metering proxy's added latency per request, beside its baseline in the same run:
 * the same client calls the fake upstream directly and through the proxy of a real
 * `noburn run --cap` (the built CLI, a real process with the real guard on a SQLite
 * ledger), alternating A-B-B-A so drift hits both sides alike.
 *
 *   npx tsx bench/proxy.ts [--json] [--quick] [--profile DIR]      (after npm run build)
 *
 * --profile DIR writes a V8 CPU profile of the noburn process (the proxy) into DIR.
 *
 * The client runs as the wrapped child (this file with --client), so its requests take the
 * path an unmodified program's would: OPENAI_BASE_URL -> proxy -> upstream.
 *
 * A second reference runs in the same rounds: a bare pass-through proxy (node:http +
 * undici, no metering) in its own process. The gap between it and the direct calls is
 * what any extra HTTP hop costs on this machine; the gap between it and noburn is what
 * metering (estimate, check, record) costs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../test/fixtures/fake-upstream.js';
import { emit, median, percentile } from './stats.js';
import type { Figure } from './stats.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');
const GOAL_MS = 0.4;

interface Samples {
  chatDirect: number[];
  chatProxy: number[];
  chatBare: number[];
  streamDirect: number[];
  streamProxy: number[];
  streamBare: number[];
}

/** The bare pass-through proxy: reads the body, forwards it with undici, streams the answer back. */
const BARE_PROXY = `
import { createServer } from 'node:http';
import { Agent } from 'undici';
const upstream = new URL(process.argv[1]);
const agent = new Agent({ keepAliveTimeout: 60000 });
const server = createServer({ noDelay: true }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    agent.dispatch({ origin: upstream.origin, path: upstream.pathname + req.url, method: req.method, headers: { 'content-type': 'application/json', authorization: req.headers.authorization }, body: Buffer.concat(chunks) }, {
      onRequestStart() {},
      onResponseStart(c, status, headers) { res.writeHead(status, { 'content-type': headers['content-type'] }); },
      onResponseData(c, chunk) { res.write(chunk); },
      onResponseEnd() { res.end(); },
      onResponseError() { res.destroy(); },
    });
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('http://127.0.0.1:' + server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, messages: [{ role: 'user', content: 'Write one short, cheerful sentence about the sea.' }] });
const STREAM = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, stream: true, messages: [{ role: 'user', content: 'Write one short, cheerful sentence about the sea.' }] });

/** The wrapped child: times each request to its last byte, direct and through the proxy. */
async function client(pairs: number, warmup: number, resultFile: string): Promise<void> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 4 });
  const direct = process.env['BENCH_DIRECT_URL'] as string;
  const proxied = process.env['OPENAI_BASE_URL'] as string;
  const bare = process.env['BENCH_BARE_URL'] as string;
  const call = async (base: string, body: string): Promise<number> => {
    const t = performance.now();
    const r = await request(`${base}/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, dispatcher: agent });
    await r.body.text();
    const ms = performance.now() - t;
    if (r.statusCode !== 200) throw new Error(`status ${r.statusCode} from ${base}`);
    return ms;
  };
  const s: Samples = { chatDirect: [], chatProxy: [], chatBare: [], streamDirect: [], streamProxy: [], streamBare: [] };
  const round = async (body: string, d: number[], p: number[], b: number[], keep: boolean): Promise<void> => {
    // A-B-C-C-B-A: each side sees the same mix of neighbours.
    const a1 = await call(direct, body);
    const b1 = await call(proxied, body);
    const c1 = await call(bare, body);
    const c2 = await call(bare, body);
    const b2 = await call(proxied, body);
    const a2 = await call(direct, body);
    if (!keep) return;
    d.push(a1, a2);
    p.push(b1, b2);
    b.push(c1, c2);
  };
  for (let i = 0; i < warmup; i++) await round(CHAT, s.chatDirect, s.chatProxy, s.chatBare, false);
  for (let i = 0; i < pairs / 2; i++) await round(CHAT, s.chatDirect, s.chatProxy, s.chatBare, true);
  for (let i = 0; i < warmup; i++) await round(STREAM, s.streamDirect, s.streamProxy, s.streamBare, false);
  for (let i = 0; i < pairs / 2; i++) await round(STREAM, s.streamDirect, s.streamProxy, s.streamBare, true);
  await agent.close();
  writeFileSync(resultFile, JSON.stringify(s));
}

function figures(what: string, direct: number[], proxy: number[], bare: number[]): Figure[] {
  const dm = median(direct);
  const pm = median(proxy);
  const bm = median(bare);
  const added = pm - dm;
  const d99 = percentile(direct, 99);
  const p99 = percentile(proxy, 99);
  return [
    { name: `${what}: noburn proxy added latency, median`, value: added, unit: 'ms', baseline: { name: 'direct median', value: dm }, ratio: pm / dm, goal: `<= ${GOAL_MS} ms`, met: added <= GOAL_MS },
    { name: `${what}: noburn proxy added latency, p99`, value: p99 - d99, unit: 'ms', baseline: { name: 'direct p99', value: d99 }, ratio: p99 / d99, goal: '-', met: null },
    { name: `${what}: bare pass-through proxy added latency, median`, value: bm - dm, unit: 'ms', baseline: { name: 'direct median', value: dm }, ratio: bm / dm, goal: 'reference', met: null },
    { name: `${what}: metering cost (noburn - bare), median`, value: pm - bm, unit: 'ms', baseline: { name: 'bare proxy median', value: bm }, ratio: pm / bm, goal: '-', met: null },
  ];
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const quick = process.argv.includes('--quick');
  const pairs = quick ? 400 : 4000;
  const warmup = quick ? 50 : 300;
  const upstream = await startFakeUpstream();
  const home = mkdtempSync(join(tmpdir(), 'nb-bench-proxy-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ prices: { 'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 } } }));
  const resultFile = join(home, 'samples.json');
  const bareProxy = spawn(process.execPath, ['--input-type=module', '-e', BARE_PROXY, upstream.openaiBase], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const bareUrl = await new Promise<string>((resolve, reject) => {
      bareProxy.stdout.once('data', (d: Buffer) => resolve(String(d).trim()));
      bareProxy.once('exit', () => reject(new Error('the bare proxy did not start')));
    });
    // Asynchronously: the fake upstream lives in this process and must keep answering.
    const profIdx = process.argv.indexOf('--profile');
    const prof = profIdx === -1 ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.argv[profIdx + 1] ?? '.'}`];
    const child = spawn(
      process.execPath,
      [...prof, CLI, 'run', '--cap', '100000', '--label', 'bench-proxy', '--json', '--', process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname, '--client', String(pairs), String(warmup), resultFile],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, NOBURN_HOME: home, OPENAI_BASE_URL: upstream.openaiBase, BENCH_DIRECT_URL: upstream.openaiBase, BENCH_BARE_URL: bareUrl, NO_COLOR: '1' },
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`noburn run exited ${code}`);
    const summary = JSON.parse(out) as { calls: number; spendUsd: number };
    const s = JSON.parse(readFileSync(resultFile, 'utf8')) as Samples;
    emit(`proxy (${s.chatProxy.length} requests each way per shape; ${summary.calls} metered calls recorded)`, [
      ...figures('chat completion', s.chatDirect, s.chatProxy, s.chatBare),
      ...figures('chat stream, to last byte', s.streamDirect, s.streamProxy, s.streamBare),
    ]);
  } finally {
    bareProxy.kill('SIGTERM');
    await upstream.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--client') {
  await client(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] as string);
} else {
  await main();
}
