/**
 * Issue 4, "live": the real built `noburn watch` in a real pseudo-terminal (Python's pty
 * module drives it: node-pty is not installed). This process records spend for a user and
 * a run into the same ledger; the screen shows the new figures (how fast is measured in
 * bench/watch-live.ts, not asserted here). Then a resize, enter on a user (her breakdown by
 * model) and esc back, and `q`: exit 0 with the terminal restored (alternate screen left,
 * cursor shown).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { removeHomes, snapshotDist, tempHome } from '../helpers/cli.js';
import type { Dist } from '../helpers/cli.js';

const DRIVER = join(dirname(fileURLToPath(import.meta.url)), 'pty-driver.py');
const USD = 1_000_000_000;
const ESC = '\u001b';

let dist: Dist;
let home: string;
let store: SqliteStore;

beforeAll(async () => {
  dist = await snapshotDist();
  home = tempHome('noburn-watch-live-');
  const probe = spawnSync(process.execPath, [dist.cli, 'watch', '--once', '--json'], { encoding: 'utf8', env: terminalEnv() });
  if (probe.status !== 0) throw new Error(`the built CLI cannot run watch (src/cli/registry.ts): ${probe.stderr.trim()}`);
  store = new SqliteStore(join(home, 'noburn.db'));
  const now = Date.now();
  await store.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 100 * USD, period: 'day', now });
  await store.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 5 * USD, period: 'day', now });
  await store.startRun({ projectId: 'default', runId: 'run_live', capNano: 2 * USD, label: 'live test', now });
  await record('alice', null, 0.5 * USD);
});

afterAll(async () => {
  await store?.close();
  dist?.dispose();
  removeHomes();
});

let n = 0;
function record(userId: string, runId: string | null, costNano: number) {
  return store.record([
    {
      projectId: 'default', userId, runId, model: 'gpt-4o', tokensIn: 100, tokensOut: 10, cachedTokensIn: 0, cacheWriteTokensIn: 0,
      costNano, unpriced: false, wasBlocked: false, reservationId: null, idempotencyKey: `live-${++n}`, ts: Date.now(),
    },
  ]);
}

/** The environment of a person's terminal: no CI variables (Ink stops drawing in CI), no colour. */
function terminalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('NOBURN_') || k === 'CI' || k === 'CONTINUOUS_INTEGRATION' || k.startsWith('CI_') || v === undefined) continue;
    env[k] = v;
  }
  return { ...env, NOBURN_HOME: home, HOME: home, TERM: 'xterm-256color', NO_COLOR: '1', FORCE_COLOR: undefined, NODE_ENV: undefined };
}

/** The screen's text so far: escape sequences dropped. */
// eslint-disable-next-line no-control-regex
const strip = (s: string) => s.replace(/\u001b\[[?0-9;]*[A-Za-z]/g, '').replace(/\u001b[()][0-9A-Za-z]/g, '').replace(/\r/g, '');

class Terminal {
  readonly child: ChildProcessWithoutNullStreams;
  private chunks: Buffer[] = [];
  readonly exited: Promise<number | null>;

  constructor(cols: number, rows: number, args: string[]) {
    this.child = spawn('python3', [DRIVER, String(cols), String(rows), process.execPath, dist.cli, ...args], { env: terminalEnv() });
    this.child.stdout.on('data', (d: Buffer) => this.chunks.push(d));
    this.child.stderr.on('data', (d: Buffer) => this.chunks.push(d));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Everything the program wrote to the terminal. */
  raw(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** Waits until the screen text written after `from` (a raw() length) matches. */
  async waitFor(re: RegExp, from = 0, ms = 10_000): Promise<void> {
    const start = Date.now();
    for (;;) {
      if (re.test(strip(this.raw().slice(from)))) return;
      if (Date.now() - start > ms) throw new Error(`screen never matched ${re}:\n${strip(this.raw().slice(from)).slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  send(keys: string): void {
    this.child.stdin.write(keys);
  }

  resize(cols: number, rows: number): void {
    this.child.stdin.write(`\0RESIZE ${cols} ${rows}\n`);
  }
}

describe('noburn watch in a pseudo-terminal', () => {
  it('shows another process\'s writes, follows a resize, enter opens a user\'s breakdown, and q restores the terminal', async () => {
    const term = new Terminal(80, 24, ['watch']);
    try {
      await term.waitFor(/alice +\$0\.50 +\$5\.00\* +10\.0%/);
      await term.waitFor(/run_live live te… +open +\$0\.00 +\$2\.00/);
      expect(term.raw()).toContain(`${ESC}[?1049h`); // the alternate screen

      // another process (this one) records $1.25 for alice in run_live
      const from = term.raw().length;
      await record('alice', 'run_live', 1.25 * USD);
      await term.waitFor(/alice +\$1\.75 +\$5\.00\* +35\.0%/, from);
      await term.waitFor(/run_live live te… +open +\$1\.25\+ +\$2\.00/, from); // 62.5 %: the 60 % mark

      // a resize redraws at the new width
      const before = term.raw().length;
      term.resize(100, 30);
      await term.waitFor(/noburn watch · project default · local {20,}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, before);
      const wide = strip(term.raw().slice(before)).split('\n').find((l) => l.includes('noburn watch · project default'));
      expect(Array.from(wide ?? '').length).toBe(100);

      // enter on the selected user (alice, the only one) opens her spend by model and tag; esc goes back
      const enterAt = term.raw().length;
      term.send('\r');
      await term.waitFor(/User breakdown by model and tag · 1-1 of 1 · esc back/, enterAt);
      await term.waitFor(/\(untagged\) +\$1\.75 +100\.0% +2/, enterAt); // the ledger keeps tags: none on these calls
      await term.waitFor(/user alice/, enterAt);
      await term.waitFor(/gpt-4o +\$1\.75 +100\.0% +2 +0 +\d+s ago/, enterAt);
      const escAt = term.raw().length;
      term.send(ESC);
      await term.waitFor(/Recent blocked/, escAt);
      await term.waitFor(/▸ alice +\$1\.75/, escAt);

      const quitAt = term.raw().length;
      term.send('q');
      expect(await term.exited).toBe(0);
      const tail = term.raw().slice(quitAt);
      expect(tail).toContain(`${ESC}[?1049l`); // left the alternate screen
      expect(tail).toContain(`${ESC}[?25h`); // cursor shown again
      expect(tail.lastIndexOf(`${ESC}[?1049l`)).toBeGreaterThan(tail.lastIndexOf('noburn watch ·'));
      expect(term.raw()).not.toMatch(/\n\s+at .*\.js:\d+/); // no stack trace
    } finally {
      term.child.kill('SIGKILL');
    }
  });

  it('Ctrl-C quits with the terminal restored too', async () => {
    const term = new Terminal(80, 24, ['watch']);
    try {
      await term.waitFor(/alice +\$/);
      const at = term.raw().length;
      term.send('\u0003');
      expect(await term.exited).toBe(0);
      expect(term.raw().slice(at)).toContain(`${ESC}[?1049l`);
    } finally {
      term.child.kill('SIGKILL');
    }
  });

  it('--once in a terminal prints one frame and exits 0, without the alternate screen', async () => {
    const term = new Terminal(80, 24, ['watch', '--once']);
    expect(await term.exited).toBe(0);
    expect(strip(term.raw())).toMatch(/alice +\$1\.75/);
    expect(term.raw()).not.toContain(`${ESC}[?1049h`);
  });
});
