/**
 * `noburn watch` end to end: the built CLI in a real pseudo-terminal (test/tui/pty-driver.py),
 * this process records spend into the same ledger, and the figure is the time from the
 * commit to the new total on the screen. Goal: within a second (p95 <= 1000 ms).
 * (test/tui/live.test.ts checks that the figures do show up; the time is measured here.)
 *
 *   node --import tsx bench/watch-live.ts [--rounds N] [--json]      (needs npm run build)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/lib/ledger/sqlite/sqlite-store.js';
import { emit, percentile, plainFigure } from './stats.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
const ROUNDS = values.quick ? 10 : Number(values.rounds);
const here = new URL('.', import.meta.url).pathname;
const CLI = join(here, '../dist/cli.cjs');
const DRIVER = join(here, '../test/tui/pty-driver.py');
const USD = 1_000_000_000;
const CENT = USD / 100;

// eslint-disable-next-line no-control-regex
const strip = (s: string) => s.replace(/\u001b\[[?0-9;]*[A-Za-z]/g, '').replace(/\u001b[()][0-9A-Za-z]/g, '').replace(/\r/g, '');

const home = mkdtempSync(join(tmpdir(), 'noburn-bench-watch-live-'));
const store = new SqliteStore(join(home, 'noburn.db'));
const env: NodeJS.ProcessEnv = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NOBURN_') && k !== 'CI' && !k.startsWith('CI_')) env[k] = v;
const child = spawn('python3', [DRIVER, '100', '30', process.execPath, CLI, 'watch'], {
  env: { ...env, NOBURN_HOME: home, HOME: home, TERM: 'xterm-256color', NO_COLOR: '1', NODE_ENV: 'production' },
});
let screen = '';
child.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
child.stderr.setEncoding('utf8').on('data', (d: string) => (screen += d));

/** Resolves with the moment the screen text written after `from` matches. */
async function seen(re: RegExp, from: number): Promise<number> {
  const end = performance.now() + 30_000;
  for (;;) {
    if (re.test(strip(screen.slice(from)))) return performance.now();
    if (performance.now() > end) throw new Error(`the screen never showed ${re}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let n = 0;
const record = (costNano: number) =>
  store.record([
    {
      projectId: 'default', userId: 'bench', runId: null, model: 'gpt-4o', tokensIn: 100, tokensOut: 10, cachedTokensIn: 0, cacheWriteTokensIn: 0,
      costNano, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: `live-${++n}`, ts: Date.now(),
    },
  ]);

try {
  await store.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 1000 * USD, period: 'day', now: Date.now() });
  await record(CENT);
  await seen(/bench +\$0\.01 /, 0);
  const samples: number[] = [];
  for (let i = 2; i <= ROUNDS + 1; i++) {
    const from = screen.length;
    await record(CENT);
    const committed = performance.now();
    const shown = `$${(i / 100).toFixed(2)}`.replace('.', '\\.').replace('$', '\\$');
    samples.push((await seen(new RegExp(`bench +${shown} `), from)) - committed);
  }
  const median = percentile(samples, 50);
  const p95 = percentile(samples, 95);
  // An absolute goal, no baseline: the contract is "within a second" on a person's screen.
  emit(`noburn watch in a pseudo-terminal, another process's write to the screen (${ROUNDS} rounds)`, [
    plainFigure('commit to screen, median', median, 'ms', 'built CLI in a pty, default poll'),
    { name: 'commit to screen, p95', value: p95, unit: 'ms', goal: '<= 1000 ms', met: p95 <= 1000 },
  ]);
} finally {
  child.kill('SIGKILL');
  await store.close();
  rmSync(home, { recursive: true, force: true });
}
