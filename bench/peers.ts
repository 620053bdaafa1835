/**
 * The processes the proxy benchmark stands noburn beside, each on 127.0.0.1:
 *   - the fake upstream (test/fixtures/fake-upstream.ts) in its own process;
 *   - a bare pass-through proxy: node:http + undici, no metering (what any extra HTTP hop
 *     costs on this machine);
 *   - the Portkey OSS gateway (`@portkey-ai/gateway`), installed by the bench into a temp
 *     folder with npm, never a dependency of the package.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { plainJs } from './plain-js.js';

const ROOT = new URL('..', import.meta.url).pathname;

export interface Peer {
  proc: ChildProcess;
  /** The OpenAI-style base URL (…/v1) to call. */
  base: string;
  /** Headers the client adds for this peer only. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  };
}

/** Starts `node args…` and resolves with the first line it prints that starts with http. */
function startPrinting(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('http'));
      if (line) resolve({ proc, url: line.trim() });
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready`)));
    setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 30_000).unref();
  });
}

const upstreamCode = (module: string): string => `
import { startFakeUpstream } from ${JSON.stringify(module)};
const up = await startFakeUpstream();
// It keeps what it served for tests; a benchmark sends hundreds of thousands of calls.
setInterval(() => { up.served.length = 0; }, 500).unref();
process.on('SIGTERM', () => process.exit(0));
process.stdout.write(up.url + '\\n');
`;

export async function startUpstream(): Promise<Peer> {
  // Plain JavaScript, as the client (plain-js.ts): no loader at work beside the calls.
  const module = pathToFileURL(plainJs('test/fixtures/fake-upstream.ts', 'fake-upstream')).href;
  const { proc, url } = await startPrinting(['--input-type=module', '-e', upstreamCode(module)], { ...process.env, NODE_ENV: 'production' });
  return { proc, base: `${url}/v1`, headers: {}, stop: stopper(proc) };
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

export async function startBareProxy(upstreamBase: string): Promise<Peer> {
  const { proc, url } = await startPrinting(['--input-type=module', '-e', BARE_PROXY, upstreamBase]);
  return { proc, base: url, headers: {}, stop: stopper(proc) };
}

const PORTKEY_PKG = '@portkey-ai/gateway';

/** Where the bench installs Portkey (kept between runs; npm only fills it when it is empty). */
export function portkeyDir(): string {
  return process.env['NOBURN_BENCH_PORTKEY_DIR'] ?? join(tmpdir(), 'noburn-bench-portkey');
}

/** Installs the gateway with npm into portkeyDir(); returns its entry and version, or why it could not. */
export function installPortkey(): { ok: true; entry: string; version: string } | { ok: false; reason: string } {
  const dir = portkeyDir();
  const pkgDir = join(dir, 'node_modules', ...PORTKEY_PKG.split('/'));
  const entry = join(pkgDir, 'build', 'start-server.js');
  if (!existsSync(entry)) {
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`installing ${PORTKEY_PKG} into ${dir} (npm install --prefix) ...\n`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', PORTKEY_PKG], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0 || !existsSync(entry)) {
      const why = r.error ? r.error.message : (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-3).join(' / ');
      return { ok: false, reason: `npm install ${PORTKEY_PKG} failed: ${why}` };
    }
  }
  const r = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(join(pkgDir, 'package.json'))}).version`], { encoding: 'utf8' });
  return { ok: true, entry, version: r.stdout.trim() || 'unknown' };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * The gateway listens on every interface by itself (it passes no host to its server); a
 * preload pins its listen() to 127.0.0.1, so nothing is opened beyond loopback.
 */
const LOOPBACK_PRELOAD = `
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null) args[0] = { ...args[0], host: '127.0.0.1' };
  else if (typeof args[0] === 'number') args.splice(1, typeof args[1] === 'string' ? 1 : 0, '127.0.0.1');
  return listen.apply(this, args);
};
`;

/** Starts the installed gateway on a free loopback port and waits until it answers a chat completion. */
export async function startPortkey(entry: string, upstreamBase: string, scratch: string): Promise<Peer> {
  const port = await freePort();
  const preload = join(scratch, 'loopback-only.mjs');
  writeFileSync(preload, LOOPBACK_PRELOAD);
  const proc = spawn(process.execPath, ['--import', preload, entry, `--port=${port}`, '--headless'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  // Its log goes nowhere (it prints a stack for every stream it fails, see bench/proxy.ts); the tail is kept for errors.
  let log = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-2000)));
  const base = `http://127.0.0.1:${port}/v1`;
  const headers = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstreamBase };
  const peer: Peer = { proc, base, headers, stop: stopper(proc) };
  const deadline = Date.now() + 30_000;
  const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the Portkey gateway exited (${proc.exitCode}): ${log.trim().split('\n').slice(-3).join(' / ')}`);
    try {
      const r = await fetch(`${base}/chat/completions`, { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json', authorization: 'Bearer sk-bench' } });
      await r.text();
      if (r.status === 200) return peer;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await peer.stop();
      throw new Error('the Portkey gateway did not answer a chat completion within 30 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
