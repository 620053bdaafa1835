/**
 * Embedded-mode figures, each beside its baseline in the same run:
 * - `noburn check` wall time (the built CLI, a real process) vs `node -e 0`
 * - in-process guard.check() + record() rate vs a minimal pair of raw better-sqlite3
 *   transactions doing the same reads and writes (rawRate below)
 * - record() time on the caller's path (for reference)
 * Run: npx tsx bench/embedded.ts [--json] [--quick] [--startup]   (after npm run build;
 *      --startup: only the start-up figure)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NoburnGuard } from '../src/lib/guard.js';
import { emit, interleave, median, plainFigure, ratioFigure } from './stats.js';
import type { Figure } from './stats.js';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli.cjs');

const homes: string[] = [];
function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'nb-bench-'));
  homes.push(h);
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
    const a = () => base.push(wall(['-e', '0'], env));
    const b = () => ours.push(wall(check, env));
    if (i % 2 === 0) {
      a();
      b();
    } else {
      b();
      a();
    }
  }
  return ratioFigure('noburn check wall time (built CLI, embedded)', median(ours), 'ms', 'node -e 0', median(base), { op: '<=', ratio: 1.4 }, `${rounds} of each, alternating`);
}

/**
 * The baseline of the embedded rate: a minimal pair of raw better-sqlite3 transactions
 * doing the reads and writes a check and its record need, on a schema of its own (no
 * event feed, no calibration, no run chain):
 *   check:  read the project cap and the user cap (user, else default), the spend of each
 *           in its window, the open holds of each; insert the hold and add it to the sums;
 *   record: insert the record (unique idempotency key), delete the hold and take it off
 *           the sums, add the cost to the summary rows (project and user, four windows).
 */
function rawRate(ms: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'nb-raw-'));
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE caps (scope TEXT, subject TEXT, cap INTEGER, period TEXT, PRIMARY KEY (scope, subject)) WITHOUT ROWID;
    CREATE TABLE usage (scope TEXT, subject TEXT, win TEXT, spent INTEGER, calls INTEGER, PRIMARY KEY (scope, subject, win)) WITHOUT ROWID;
    CREATE TABLE held (scope TEXT, subject TEXT, amount INTEGER, PRIMARY KEY (scope, subject)) WITHOUT ROWID;
    CREATE TABLE holds (id TEXT PRIMARY KEY, user_id TEXT, amount INTEGER);
    CREATE TABLE records (seq INTEGER PRIMARY KEY, idem TEXT UNIQUE, user_id TEXT, cost INTEGER, hold_id TEXT);
    INSERT INTO caps VALUES ('project', '', 1000000000000000000, 'month');`);
  const cap = db.prepare('SELECT cap, period FROM caps WHERE scope = ? AND subject = ?');
  const spent = db.prepare('SELECT spent FROM usage WHERE scope = ? AND subject = ? AND win = ?');
  const heldOf = db.prepare('SELECT amount FROM held WHERE scope = ? AND subject = ?');
  const insHold = db.prepare('INSERT INTO holds VALUES (?, ?, ?)');
  const addHeld = db.prepare('INSERT INTO held VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET amount = amount + excluded.amount');
  const insRecord = db.prepare('INSERT OR IGNORE INTO records (idem, user_id, cost, hold_id) VALUES (?, ?, ?, ?)');
  const delHold = db.prepare('DELETE FROM holds WHERE id = ? RETURNING amount');
  const subHeld = db.prepare('UPDATE held SET amount = amount - ? WHERE scope = ? AND subject = ?');
  const addUsage = db.prepare('INSERT INTO usage VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET spent = spent + excluded.spent, calls = calls + 1');
  const windows = ['d2026-12-02', 'w2026-11-30', 'm2026-12', 'total'];
  const check = db.transaction((id: string, user: string, amount: number) => {
    const p = cap.get('project', '') as { cap: number; period: string };
    const u = (cap.get('user', user) ?? cap.get('default_user', '')) as { cap: number; period: string } | undefined;
    const left = (scope: string, subject: string, c: { cap: number }) =>
      c.cap - ((spent.get(scope, subject, 'm2026-12') as { spent: number } | undefined)?.spent ?? 0) - ((heldOf.get(scope, subject) as { amount: number } | undefined)?.amount ?? 0);
    if (left('project', '', p) < amount || (u && left('user', user, u) < amount)) return false;
    insHold.run(id, user, amount);
    addHeld.run('project', '', amount);
    addHeld.run('user', user, amount);
    return true;
  });
  const record = db.transaction((id: string, user: string, cost: number) => {
    insRecord.run(`k_${id}`, user, cost, id);
    const h = delHold.get(id) as { amount: number } | undefined;
    if (h) {
      subHeld.run(h.amount, 'project', '');
      subHeld.run(h.amount, 'user', user);
    }
    for (const w of windows) {
      addUsage.run('project', '', w, cost);
      addUsage.run('user', user, w, cost);
    }
  });
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const id = `res_${n}`;
    const user = `u${n % 50}`;
    if (check.immediate(id, user, 1600)) record.immediate(id, user, 1500);
    n++;
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
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
  if (process.argv.includes('--startup')) return emit('embedded', figures);
  const raw: number[] = [];
  const ours: number[] = [];
  const rounds = quick ? 2 : 6;
  await interleave(rounds, {
    raw: () => void raw.push(rawRate(1000)),
    ours: async () => void ours.push(await guardRate(1000)),
  });
  figures.push(
    ratioFigure('guard.check()+record() rate (embedded, one process)', median(ours), 'calls/s', 'raw better-sqlite3 check tx + record tx', median(raw), { op: '>=', ratio: 0.7 }, `${rounds} rounds of 1 s each, alternating`),
  );
  const rec = await recordCallerPath(quick ? 5000 : 20000);
  figures.push(plainFigure('record() on the caller path, median', rec, 'us'));
  emit('embedded', figures);
}

try {
  await main();
} finally {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
}
