/**
 * Where `noburn serve`'s memory goes under a long check loop: a fresh capped server (the
 * built CLI, as in bench/serve.ts's memory figure), checks with 64 in flight and their
 * holds settled by records, and at each step the server's RSS beside what its own
 * /metrics reports (V8 heap used and total, external memory), and RSS as a ratio to its
 * value at start. What RSS holds beyond the heap and external memory is native: SQLite's
 * page cache, malloc arenas, code. A diagnosis tool, not part of `npm run bench`.
 *
 *   npx tsx bench/serve-rss.ts [--checks N] [--step N] [--node-flag F]...   (default 400000, 50000)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { closedLoop } from './loadgen.js';

const { values } = parseArgs({ options: { checks: { type: 'string' }, step: { type: 'string' }, 'node-flag': { type: 'string', multiple: true } } });
const TOTAL = Number(values.checks ?? 400_000);
const STEP = Number(values.step ?? 50_000);
const CLI = join(new URL('..', import.meta.url).pathname, 'dist/cli.js');
const BODY = JSON.stringify({ model: 'gpt-4o', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: 'user_123' });

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-rss-'));
  const store = join(dir, 'noburn.db');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 } } }));
  const env = { ...process.env, NOBURN_HOME: dir };
  const key = spawnSync(process.execPath, [CLI, 'keys', 'create', '--store', store, '--project', 'bench', '--role', 'admin'], { env, encoding: 'utf8' }).stdout.trim();
  const proc = spawn(process.execPath, [...(values['node-flag'] ?? []), CLI, 'serve', '--port', '0', '--store', store, '--json'], { stdio: ['ignore', 'pipe', 'ignore'], env });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const end = out.indexOf('}');
      if (end >= 0) resolve((JSON.parse(out.slice(out.indexOf('{'), end + 1)) as { url: string }).url);
    });
  });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  try {
    for (const [path, body] of [['/v1/budgets/project', { capUsd: 1_000_000, period: 'month' }], ['/v1/budgets/default-user', { capUsd: 100_000, period: 'day' }]] as const) {
      await fetch(`${url}${path}`, { method: 'PUT', headers, body: JSON.stringify(body) });
    }
    const pid = proc.pid as number;
    let start = Number.NaN;
    const sample = async (done: number) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const g = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
      const heapUsed = g('nodejs_heap_size_used_bytes');
      const heapTotal = g('nodejs_heap_size_total_bytes');
      const external = g('nodejs_external_memory_bytes');
      const rss = rssMb(pid);
      const spaces = [...text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)].map((m) => `${m[1]} ${mb(Number(m[2]))}`).join(', ');
      if (done === 0) start = rss;
      console.log(`${String(done).padStart(8)} checks  rss ${rss.toFixed(1)} MB (${(rss / start).toFixed(2)}x start)  heap used ${mb(heapUsed)} / total ${mb(heapTotal)} MB  external ${mb(external)} MB  rest (native) ${(rss - mb(heapTotal) - mb(external)).toFixed(1)} MB  spaces: ${spaces}`);
    };
    await new Promise((r) => setTimeout(r, 200));
    await sample(0);
    const recPool = new Pool(url, { connections: 1 });
    let pending: string[] = [];
    let seq = 0;
    for (let done = 0; done < TOTAL; done += STEP) {
      let settling = true;
      const settler = (async () => {
        while (settling || pending.length > 0) {
          await new Promise((r) => setTimeout(r, 20));
          while (pending.length > 0) {
            const records = pending.splice(0, 1000).map((reservationId) => ({ model: 'gpt-4o', tokensIn: 900, tokensOut: 250, costUsd: 0.004, wasBlocked: false, endUserId: 'user_123', reservationId, idempotencyKey: `b-${seq++}` }));
            await (await recPool.request({ method: 'POST', path: '/v1/records', headers, body: JSON.stringify({ records }) })).body.text();
          }
        }
      })();
      const t0 = performance.now();
      await closedLoop({ url, path: '/v1/check', headers, body: BODY, connections: 16, pipelining: 4, count: STEP, onBody: (t) => {
        const id = (JSON.parse(t) as { reservationId: string | null }).reservationId;
        if (id) pending.push(id);
      } });
      const rate = STEP / ((performance.now() - t0) / 1000);
      settling = false;
      await settler;
      pending = [];
      process.stdout.write(`${Math.round(rate)} checks/s  `);
      await sample(done + STEP);
    }
    await recPool.destroy();
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
