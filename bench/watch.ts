/**
 * `noburn watch` refresh benchmark: a ledger with 1,000,000 events, 1,000 users and
 * 10,000 runs beside one with 1,000 events, 100 users and 100 runs (the baseline, same
 * run); each round another connection commits one record, then the dashboard does one
 * refresh: notice the write (PRAGMA data_version), read the snapshot, render the frame to
 * a string at 80x24 (120x40 reported beside it). Goal: the big ledger's median refresh
 * <= 3x the small one's (a refresh must not grow with the history).
 *
 *   node --import tsx bench/watch.ts [--events N] [--users N] [--runs N] [--rounds N] [--json]
 *
 * Prints the figures (and with --json one JSON line for bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { DashboardReader } from '../src/lib/dashboard/reader.js';
import { migrate } from '../src/lib/ledger/sqlite/schema.js';
import { emit, interleave, percentile, plainFigure, ratioFigure } from './stats.js';
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
// The baseline ledger: the same shape, a thousand times smaller.
const SMALL_EVENTS = 1000;
const SMALL_USERS = 100;
const SMALL_RUNS = 100;
const USERS = Number(values.users);
const RUNS = Number(values.runs);
const ROUNDS = values.quick ? 30 : Number(values.rounds);
const PROJECT = 'default';
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 28, 15, 0, 0);
const SPAN = 30 * DAY; // the events cover the last 30 days

/** Fills a fresh ledger in one transaction with plain SQL, the way the store would have. */
function build(path: string, EVENTS: number, USERS: number, RUNS: number): void {
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

interface Sized {
  events: number;
  refresh: (columns: number, rows: number) => { query: number; render: number; total: number };
  close: () => void;
  buildMs: number;
  coldMs: number;
}

/** Builds a ledger of this size and returns one dashboard refresh after another process's write. */
function ledger(dir: string, events: number, users: number, runs: number): Sized {
  const path = join(dir, `noburn-${events}.db`);
  let t = performance.now();
  build(path, events, users, runs);
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
    const user = `user_${String(round % users).padStart(4, '0')}`;
    const run = `run_${String(runs - 1 - (round % 50)).padStart(6, '0')}`;
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
  reader.read(NOW);
  const coldMs = performance.now() - t;

  let round = 0;
  const refresh = (columns: number, rows: number) => {
    const now = NOW + round * 1000;
    write(round++, now);
    const t0 = performance.now();
    if (!reader.changed()) throw new Error('the write was not noticed');
    const snap = reader.read(now);
    const t1 = performance.now();
    const frame = renderFrame(snap, { columns, rows, color: true, mode: 'local' });
    const t2 = performance.now();
    if (frame.length === 0) throw new Error('empty frame');
    return { query: t1 - t0, render: t2 - t1, total: t2 - t0 };
  };
  return {
    events,
    refresh,
    buildMs,
    coldMs,
    close: () => {
      reader.close();
      writer.close();
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-watch-'));
try {
  const big = ledger(dir, EVENTS, USERS, RUNS);
  const small = ledger(dir, SMALL_EVENTS, SMALL_USERS, SMALL_RUNS);
  const samples = { big: [] as number[], small: [] as number[], bigQuery: [] as number[], bigRender: [] as number[], bigLarge: [] as number[] };
  // Warm-up (JIT), not counted.
  for (let i = 0; i < 10; i++) {
    big.refresh(80, 24);
    small.refresh(80, 24);
  }
  // Alternating rounds: one refresh of each ledger, in turn (A B, B A...).
  await interleave(ROUNDS, {
    big: () => {
      const r = big.refresh(80, 24);
      samples.big.push(r.total);
      samples.bigQuery.push(r.query);
      samples.bigRender.push(r.render);
    },
    small: () => void samples.small.push(small.refresh(80, 24).total),
  });
  for (let i = 0; i < ROUNDS; i++) samples.bigLarge.push(big.refresh(120, 40).total);
  big.close();
  small.close();

  const m = (xs: number[]) => percentile(xs, 50);
  const title = `watch refresh (data_version + queries + render at 80x24; ${ROUNDS} alternating rounds)`;
  emit(title, [
    ratioFigure(
      `refresh at ${fmtCount(EVENTS)} events (${USERS} users, ${RUNS} runs), median`,
      m(samples.big),
      'ms',
      `${fmtCount(SMALL_EVENTS)} events (${SMALL_USERS} users, ${SMALL_RUNS} runs)`,
      m(samples.small),
      { op: '<=', ratio: 3 },
      `ledgers built in ${(big.buildMs / 1000).toFixed(1)} s and ${(small.buildMs / 1000).toFixed(2)} s`,
    ),
    ratioFigure(`refresh at ${fmtCount(EVENTS)} events, p95`, percentile(samples.big, 95), 'ms', `${fmtCount(SMALL_EVENTS)} events p95`, percentile(samples.small, 95)),
    plainFigure(`  of which queries, median`, m(samples.bigQuery), 'ms'),
    plainFigure(`  of which render, median`, m(samples.bigRender), 'ms'),
    plainFigure(`refresh at ${fmtCount(EVENTS)} events, 120x40, median`, m(samples.bigLarge), 'ms'),
    ratioFigure(`first read (cold) at ${fmtCount(EVENTS)} events`, big.coldMs, 'ms', `${fmtCount(SMALL_EVENTS)} events`, small.coldMs),
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function fmtCount(n: number): string {
  return n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}
