/**
 * `noburn watch` refresh benchmark: a ledger with 1,000,000 events, 1,000 users and
 * 10,000 runs; each round another connection commits one record, then the dashboard does
 * one refresh: notice the write (PRAGMA data_version), read the snapshot, render the frame
 * to a string at 80x24 (120x40 reported beside it). Goal: median and p95 <= 20 ms.
 *
 *   node --import tsx bench/watch.ts [--events N] [--users N] [--runs N] [--rounds N] [--json]
 *
 * Prints the figures (and with --json one JSON line for bench/run.mjs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { DashboardReader } from '../src/lib/dashboard/reader.js';
import { migrate } from '../src/lib/ledger/sqlite/schema.js';
import { emit, percentile } from './stats.js';
import { PERIODS, windowKey } from '../src/lib/periods.js';

// As `noburn watch` does: React's production build (see src/cli/commands/watch.ts).
process.env['NODE_ENV'] ??= 'production';
const { renderFrame } = await import('../src/tui/run.js');

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    // bench/run.ts --quick: fewer rounds (the ledger keeps its full size: that is the figure)
    quick: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const USERS = Number(values.users);
const RUNS = Number(values.runs);
const ROUNDS = values.quick ? 20 : Number(values.rounds);
const PROJECT = 'default';
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 28, 15, 0, 0);
const SPAN = 30 * DAY; // the events cover the last 30 days

/** Fills a fresh ledger in one transaction with plain SQL, the way the store would have. */
function build(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  migrate(db);
  const ev = db.prepare(
    `INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, blocked, reason, unpriced, tokens_in, tokens_out, ref)
     VALUES (?, ?, ?, ?, ?, 'gpt-4o', ?, ?, ?, ?, 100, 20, ?)`,
  );
  const usage = new Map<string, { spent: number; calls: number; blocked: number; unpriced: number; last: number }>();
  const add = (scope: string, subject: string, ts: number, spent: number, blocked: number, unpriced: number) => {
    for (const p of PERIODS) {
      const k = `${scope}\u0000${subject}\u0000${windowKey(p, ts)}`;
      const u = usage.get(k) ?? { spent: 0, calls: 0, blocked: 0, unpriced: 0, last: 0 };
      u.spent += spent;
      u.calls += blocked ? 0 : 1;
      u.blocked += blocked;
      u.unpriced += unpriced;
      u.last = Math.max(u.last, ts);
      usage.set(k, u);
    }
  };
  const runs = Array.from({ length: RUNS }, (_, i) => ({
    id: `run_${String(i).padStart(6, '0')}`,
    started: NOW - SPAN + Math.floor((i / RUNS) * SPAN),
    spent: 0,
    calls: 0,
    blocked: 0,
    last: 0,
  }));
  db.transaction(() => {
    for (let i = 0; i < EVENTS; i++) {
      const ts = NOW - SPAN + Math.floor((i / EVENTS) * SPAN);
      const user = `user_${String(i % USERS).padStart(4, '0')}`;
      const run = runs[(i * 7) % RUNS] as (typeof runs)[number];
      const runId = i % 3 === 0 ? run.id : null;
      const blocked = i % 20 === 0 ? 1 : 0;
      if (blocked) {
        ev.run(PROJECT, ts, 'check', user, runId, 2_000_000, 1, 'user_budget_exceeded', 0, `dec_${i}`);
        add('project', '', ts, 0, 1, 0);
        add('user', user, ts, 0, 1, 0);
        if (runId) run.blocked++;
      } else {
        const cost = 1000 + (i % 997) * 1000;
        const unpriced = i % 5000 === 0 ? 1 : 0;
        ev.run(PROJECT, ts, 'record', user, runId, cost, 0, null, unpriced, `k_${i}`);
        add('project', '', ts, cost, 0, unpriced);
        add('user', user, ts, cost, 0, unpriced);
        if (runId) {
          run.spent += cost;
          run.calls++;
          run.last = ts;
        }
      }
    }
    const up = db.prepare(
      'INSERT INTO usage (project_id, scope, subject, window, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)',
    );
    for (const [k, u] of usage) {
      const [scope, subject, window] = k.split('\u0000') as [string, string, string];
      up.run(PROJECT, scope, subject, window, u.spent, u.calls, u.blocked, u.unpriced, u.last);
    }
    const ins = db.prepare(
      `INSERT INTO runs (id, project_id, label, cap_nano, status, exhausted, started_at, ended_at, spent_nano, calls, blocked_calls, unpriced_calls, last_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
    );
    runs.forEach((r, i) => {
      const open = i >= RUNS - 50;
      ins.run(r.id, PROJECT, i % 4 === 0 ? `job ${i}` : null, 5_000_000_000, open ? 'open' : 'ended', r.blocked > 0 ? 1 : 0, r.started, open ? null : r.started + 3_600_000, r.spent, r.calls, r.blocked, r.last || null);
    });
    const budget = db.prepare('INSERT INTO budgets (project_id, scope, subject, cap_nano, period, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
    budget.run(PROJECT, 'project', '', 50_000_000_000_000, 'month', NOW);
    budget.run(PROJECT, 'default_user', '', 5_000_000_000, 'day', NOW);
    for (let u = 0; u < USERS; u += 10) budget.run(PROJECT, 'user', `user_${String(u).padStart(4, '0')}`, 20_000_000_000, 'week', NOW);
    const hold = db.prepare('INSERT INTO holds (id, project_id, user_id, run_id, model, amount_nano, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (let h = 0; h < 200; h++) hold.run(`res_${h}`, PROJECT, `user_${String(h * 5).padStart(4, '0')}`, h % 2 ? (runs[RUNS - 1 - (h % 50)]?.id ?? null) : null, 'gpt-4o', 1_000_000, NOW - 1000, NOW + 600_000);
  })();
  db.close();
}

const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-watch-'));
const path = join(dir, 'noburn.db');
try {
  let t = performance.now();
  build(path);
  const buildMs = performance.now() - t;

  // The other process: commits one record (event + summary rows) per round.
  const writer = new Database(path);
  writer.pragma('busy_timeout = 5000');
  const wEvent = writer.prepare(
    "INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, tokens_in, tokens_out, ref) VALUES (?, ?, 'record', ?, ?, 'gpt-4o', ?, 1, 1, ?)",
  );
  const wUsage = writer.prepare(
    'UPDATE usage SET spent_nano = spent_nano + ?, calls = calls + 1, last_at = ? WHERE project_id = ? AND scope = ? AND subject = ? AND window = ?',
  );
  const wRun = writer.prepare('UPDATE runs SET spent_nano = spent_nano + ?, calls = calls + 1, last_at = ? WHERE id = ?');
  const write = writer.transaction((round: number, ts: number) => {
    const user = `user_${String(round % USERS).padStart(4, '0')}`;
    const run = `run_${String(RUNS - 1 - (round % 50)).padStart(6, '0')}`;
    wEvent.run(PROJECT, ts, user, run, 5_000_000, `bench_${round}`);
    for (const p of PERIODS) {
      wUsage.run(5_000_000, ts, PROJECT, 'project', '', windowKey(p, ts));
      wUsage.run(5_000_000, ts, PROJECT, 'user', user, windowKey(p, ts));
    }
    wRun.run(5_000_000, ts, run);
  });

  const reader = new DashboardReader({ dbPath: path, projectId: PROJECT });
  t = performance.now();
  reader.changed();
  let snap = reader.read(NOW);
  const coldMs = performance.now() - t;

  // One refresh as the dashboard does it after another process's write.
  let round = 0;
  const refreshOnce = (columns: number, rows: number) => {
    const now = NOW + round * 1000;
    write(round++, now);
    const t0 = performance.now();
    if (!reader.changed()) throw new Error('the write was not noticed');
    snap = reader.read(now);
    const t1 = performance.now();
    const frame = renderFrame(snap, { columns, rows, color: true, mode: 'local' });
    const t2 = performance.now();
    if (frame.length === 0) throw new Error('empty frame');
    return { query: t1 - t0, render: t2 - t1, total: t2 - t0 };
  };
  for (let i = 0; i < 10; i++) refreshOnce(80, 24); // warm-up (JIT), not counted
  const small = Array.from({ length: ROUNDS }, () => refreshOnce(80, 24));
  const large = Array.from({ length: ROUNDS }, () => refreshOnce(120, 40));
  const refresh = small.map((x) => x.total);
  const query = small.map((x) => x.query);
  const render = small.map((x) => x.render);
  const refreshLarge = large.map((x) => x.total);
  reader.close();
  writer.close();

  const stats = (xs: number[]) => {
    return { median: percentile(xs, 50), p95: percentile(xs, 95) };
  };
  const r = stats(refresh);
  const rl = stats(refreshLarge);
  const q = stats(query);
  const d = stats(render);
  const ok = r.median <= 20 && r.p95 <= 20;
  const f = (n: number) => n.toFixed(2);
  if (values.json) {
    const title = `watch refresh on ${EVENTS} events, ${USERS} users, ${RUNS} runs (${ROUNDS} rounds)`;
    emit(title, [
      { name: 'refresh at 80x24 (data_version + queries + render), median', value: r.median, unit: 'ms', goal: '<= 20 ms', met: r.median <= 20 },
      { name: 'refresh at 80x24, p95', value: r.p95, unit: 'ms', goal: '<= 20 ms', met: r.p95 <= 20 },
      { name: 'of which queries, median', value: q.median, unit: 'ms', goal: '-', met: null },
      { name: 'of which render, median', value: d.median, unit: 'ms', goal: '-', met: null },
      { name: 'refresh at 120x40, median', value: rl.median, unit: 'ms', goal: '-', met: null },
      { name: 'first read (cold)', value: coldMs, unit: 'ms', goal: '-', met: null },
    ]);
  } else {
    console.log(`watch refresh on ${EVENTS} events, ${USERS} users, ${RUNS} runs (built in ${(buildMs / 1000).toFixed(1)} s), ${ROUNDS} rounds:`);
    console.log(`  first read (open + burn window search): ${f(coldMs)} ms`);
    console.log(`  refresh at 80x24 (data_version + queries + render): median ${f(r.median)} ms, p95 ${f(r.p95)} ms  [goal <= 20 ms: ${ok ? 'met' : 'MISSED'}]`);
    console.log(`    queries: median ${f(q.median)} ms, p95 ${f(q.p95)} ms`);
    console.log(`    render:  median ${f(d.median)} ms, p95 ${f(d.p95)} ms`);
    console.log(`  refresh at 120x40: median ${f(rl.median)} ms, p95 ${f(rl.p95)} ms`);
    console.log(`  users ${snap.users.length}, runs shown ${snap.runs.length} of ${snap.runsTotal}, blocked feed ${snap.blocked.length}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
