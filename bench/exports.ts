/**
 * Export memory benchmark: peak RSS of the built CLI running `noburn events --format
 * jsonl|csv` and `noburn spend --by user --format csv` over a ledger of 1,000,000 events,
 * beside the same commands over 1,000 events (the baseline) and over a quarter of the big
 * ledger. What grows with the file is fixed-size: SQLite's page cache (better-sqlite3
 * builds with a 16 MB default) and its sorter fill, and V8 sizes its heap for the garbage
 * of a page stream; so the goals are 1M vs 1k <= 2.5x (those fixed costs on a ~55 MB
 * process) and 1M vs 250k <= 1.15x (flat once the caches are full: at 250k the events
 * table is already larger than the cache; an export holds one page, not the feed). The ledgers are
 * built with plain SQL in one transaction (records and their events); each command's
 * stdout is drained by this process, which counts the lines it got.
 *
 *   npm run build && node --import tsx bench/exports.ts [--events N] [--users N] [--json]
 *
 * Peak RSS is the child's own getrusage maxRSS, written by a preload at its exit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { migrate } from '../src/lib/ledger/sqlite/schema.js';
import { emit, plainFigure, ratioFigure } from './stats.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    // bench/run.ts --quick: the ledger keeps its full size (that is the figure)
    quick: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const USERS = Number(values.users);
const SMALL_EVENTS = 1000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);
const CLI = join(new URL('..', import.meta.url).pathname, 'dist', 'cli.cjs');
if (!existsSync(CLI)) throw new Error('dist/cli.cjs is missing: npm run build first');

/** n records (each with its record event), a tenth of them from a run, over 30 days. */
function build(home: string, n: number): void {
  mkdirSync(home, { recursive: true });
  const db = new Database(join(home, 'noburn.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  migrate(db);
  const rec = db.prepare(
    `INSERT INTO records (project_id, idem_key, ts, user_id, run_id, model, tokens_in, tokens_out, cost_nano, unpriced) VALUES ('default', ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
  );
  const ev = db.prepare(
    `INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, tokens_in, tokens_out, ref) VALUES ('default', ?, 'record', ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const ts = T0 + Math.floor((i / n) * 30 * DAY);
      const user = `user_${String(i % USERS).padStart(4, '0')}`;
      const run = i % 10 === 0 ? `run_${i % 1000}` : null;
      const model = i % 2 ? 'gpt-4o' : 'claude-sonnet-4';
      const cost = 1000 + (i % 997) * 1003;
      rec.run(`k_${i}`, ts, user, run, model, 500 + (i % 300), 50 + (i % 70), cost);
      ev.run(ts, user, run, model, cost, 500 + (i % 300), 50 + (i % 70), `k_${i}`);
    }
  })();
  db.close();
}

interface Measured {
  maxRssMb: number;
  lines: number;
  seconds: number;
}

/** Runs the CLI with stdout drained here; its peak RSS comes from the preload. */
function measure(dir: string, home: string, args: string[]): Promise<Measured> {
  const rssFile = join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', join(dir, 'rss.mjs'), CLI, ...args], {
    env: { ...process.env, NOBURN_HOME: home, HOME: home, NOBURN_URL: '', NOBURN_STORE: '', NOBURN_BENCH_RSS: rssFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lines = 0;
  child.stdout.on('data', (b: Buffer) => {
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`noburn ${args.join(' ')} exited ${code}`));
      resolve({ maxRssMb: Number(readFileSync(rssFile, 'utf8')) / 1024, lines, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-exports-'));
try {
  writeFileSync(join(dir, 'rss.mjs'), "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.NOBURN_BENCH_RSS, String(process.resourceUsage().maxRSS)));\n");
  const t = performance.now();
  build(join(dir, 'big'), EVENTS);
  const buildS = (performance.now() - t) / 1000;
  const MID = Math.round(EVENTS / 4);
  build(join(dir, 'mid'), MID);
  build(join(dir, 'small'), SMALL_EVENTS);
  const figures = [];
  for (const [label, args] of [
    ['events --format jsonl', ['events', '--format', 'jsonl']],
    ['events --format csv', ['events', '--format', 'csv']],
    ['spend --by user --format csv', ['spend', '--by', 'user', '--format', 'csv']],
  ] as const) {
    const small = await measure(dir, join(dir, 'small'), [...args]);
    const mid = await measure(dir, join(dir, 'mid'), [...args]);
    const big = await measure(dir, join(dir, 'big'), [...args]);
    const expected = label.startsWith('events') ? EVENTS + (label.includes('csv') ? 1 : 0) : Math.min(USERS, EVENTS) + 1;
    if (big.lines !== expected) throw new Error(`${label}: ${big.lines} lines, expected ${expected}`);
    figures.push(
      ratioFigure(`${label}: peak RSS at ${fmtCount(EVENTS)} events`, big.maxRssMb, 'MB', `${fmtCount(SMALL_EVENTS)} events`, small.maxRssMb, { op: '<=', ratio: 2.5 }),
      ratioFigure(`${label}: peak RSS at ${fmtCount(EVENTS)} events`, big.maxRssMb, 'MB', `${fmtCount(MID)} events`, mid.maxRssMb, { op: '<=', ratio: 1.15 }),
      plainFigure(`  ${label}: ${fmtCount(EVENTS)} events in`, big.seconds, 's', `${Math.round(EVENTS / big.seconds)} events/s, ${big.lines} lines`),
    );
  }
  emit(`exports: peak RSS of the CLI, ${fmtCount(EVENTS)} events vs ${fmtCount(SMALL_EVENTS)} and ${fmtCount(MID)} (big ledger built in ${buildS.toFixed(1)} s)`, figures);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function fmtCount(n: number): string {
  return n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}
