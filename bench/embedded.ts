/**
 * Embedded-mode figures, each beside its baseline in the same run:
 * - `noburn check` wall time (the built CLI, a real process) vs `node -e 0`
 * - in-process guard.check() + record() rate vs a raw better-sqlite3 hold transaction
 * - record() time on the caller's path
 * Run: npx tsx bench/embedded.ts [--json]   (after npm run build)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NoburnGuard } from '../src/lib/guard.js';
import { emit, median } from './stats.js';
import type { Figure } from './stats.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.js');

function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'nb-bench-'));
  writeFileSync(join(h, 'config.json'), JSON.stringify({ prices: { 'bench-model': { inputPerMTok: 1, outputPerMTok: 2 } } }));
  return h;
}

function wall(args: string[], env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function startup(rounds: number): Figure {
  const env = { ...process.env, NOBURN_HOME: home() };
  const check = [CLI, 'check', '--model', 'gpt-4o', '--tokens-in', '1000', '--tokens-out', '300'];
  wall(check, env); // first run creates the ledger and caches the price
  const base: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < rounds; i++) {
    base.push(wall(['-e', '0'], env));
    ours.push(wall(check, env));
  }
  const ratio = median(ours) / median(base);
  return { name: 'noburn check wall time', value: median(ours), unit: 'ms', baseline: { name: 'node -e 0', value: median(base) }, ratio, goal: '<= 1.5x', met: ratio <= 1.5 };
}

/** The raw transaction a hold needs: read the cap, insert a hold, update the sums. */
function rawRate(ms: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'nb-raw-'));
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE caps (id INTEGER PRIMARY KEY, cap INTEGER, spent INTEGER);
    CREATE TABLE holds (id INTEGER PRIMARY KEY, amount INTEGER);
    INSERT INTO caps VALUES (1, 1000000000000000, 0);`);
  const read = db.prepare('SELECT cap, spent FROM caps WHERE id = 1');
  const ins = db.prepare('INSERT INTO holds (amount) VALUES (?)');
  const upd = db.prepare('UPDATE caps SET spent = spent + ? WHERE id = 1');
  const tx = db.transaction(() => {
    const c = read.get() as { cap: number; spent: number };
    if (c.spent + 5 <= c.cap) {
      ins.run(5);
      upd.run(5);
    }
  });
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    tx.immediate();
    n++;
  }
  db.close();
  return n / (ms / 1000);
}

async function guardRate(ms: number): Promise<number> {
  const guard = new NoburnGuard({ home: home() });
  await guard.setBudget({ scope: 'project', capUsd: 1_000_000, period: 'month' });
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const d = await guard.check({ model: 'bench-model', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: `u${n % 50}` });
    guard.record({ model: 'bench-model', tokensIn: 1000, tokensOut: 300, endUserId: `u${n % 50}`, reservationId: d.reservationId });
    n++;
    // A real caller awaits I/O (the LLM call) between check and record, which lets the
    // queued records reach the ledger; yield now and then so they do here too.
    if (n % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  await guard.close();
  return n / (ms / 1000);
}

async function recordCallerPath(count: number): Promise<number> {
  const guard = new NoburnGuard({ home: home() });
  await guard.check({ model: 'bench-model', estimatedTokensIn: 1, estimatedTokensOut: 1 }); // open the ledger first
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    guard.record({ model: 'bench-model', tokensIn: 100, tokensOut: 10, endUserId: 'u1' });
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
    if (i % 1000 === 999) await guard.flush();
  }
  await guard.close();
  return median(samples);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const figures: Figure[] = [startup(quick ? 7 : 21)];
  const raw: number[] = [];
  const ours: number[] = [];
  for (let round = 0; round < (quick ? 2 : 5); round++) {
    raw.push(rawRate(1000));
    ours.push(await guardRate(1000));
  }
  const ratio = median(ours) / median(raw);
  figures.push({ name: 'guard.check()+record() rate', value: median(ours), unit: 'ops/s', baseline: { name: 'raw better-sqlite3 hold tx', value: median(raw) }, ratio, goal: '>= 0.7x', met: ratio >= 0.7 });
  const rec = await recordCallerPath(quick ? 5000 : 20000);
  figures.push({ name: 'record() on the caller path (median)', value: rec, unit: 'us', goal: '<= 10 us', met: rec <= 10 });
  emit('embedded', figures);
}

await main();
