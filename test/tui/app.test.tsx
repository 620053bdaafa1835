/**
 * The container with a fake ledger source: polling (re-read only when changed), keys,
 * the remote banner, and that unmounting stops every timer.
 */
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadOptions } from '../../src/lib/dashboard/reader.js';
import type { DashboardDetail, DashboardSnapshot } from '../../src/lib/dashboard/snapshot.js';
import { NoburnAuthError, NoburnUnreachableError } from '../../src/lib/errors.js';
import { App } from '../../src/tui/App.js';
import type { SyncFn } from '../../src/tui/hooks/use-remote-sync.js';
import { NOW, USD, fixedSnapshot } from './fixtures.js';

class FakeSource {
  snapshot: DashboardSnapshot = fixedSnapshot();
  dirty = false;
  reads = 0;
  /** Calls of changed(): one per poll. */
  polls = 0;
  lastOptions: ReadOptions | undefined;
  changed(): boolean {
    this.polls++;
    const d = this.dirty;
    this.dirty = false;
    return d;
  }
  read(now: number, options?: ReadOptions): DashboardSnapshot {
    this.reads++;
    this.lastOptions = options;
    const d = options?.detail ?? null;
    // A breakdown as the reader gives it: two models for whoever is asked.
    const detail: DashboardDetail | null =
      d === null
        ? null
        : {
            ...d,
            found: true,
            period: null,
            spentNano: 0,
            capNano: null,
            models: [
              { model: `model-of-${d.id}`, spentNano: 4 * USD, calls: 40, blockedCalls: 9, unpricedCalls: 0, lastAt: now - 60_000 },
              { model: 'gpt-4o-mini', spentNano: 1.5 * USD, calls: 20, blockedCalls: 0, unpricedCalls: 0, lastAt: now - 3_600_000 },
            ],
          };
    return { ...this.snapshot, generatedAt: now, detail };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 10;
/**
 * n rounds of the poll interval on the test's own timer, started now. Timers of one duration
 * fire in the order they fall due, so a poll still running would have run in between.
 */
function ticks(n: number): Promise<void> {
  return new Promise((resolve) => {
    let left = n;
    const t = setInterval(() => {
      if (--left === 0) {
        clearInterval(t);
        resolve();
      }
    }, POLL_MS);
  });
}
/**
 * The turn after React's pending work: Ink's root is a legacy one, whose effect clean-ups
 * (the poll timer's among them) React's scheduler runs in a setImmediate queued at commit.
 */
const afterCommit = () => new Promise((r) => setImmediate(r));
const KEYS = { tab: '\t', down: '\u001b[B', up: '\u001b[A', pageDown: '\u001b[6~', enter: '\r', escape: '\u001b', ctrlC: '\u0003' };

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const mounted: (() => void)[] = [];
afterEach(() => {
  for (const u of mounted.splice(0)) u();
});

function mount(source: FakeSource, sync: SyncFn | null = null) {
  const app = render(<App source={source} clock={() => NOW} color={false} mode={sync ? 'remote' : 'local'} sync={sync} keys pollMs={POLL_MS} staleMs={60_000} />);
  mounted.push(app.unmount);
  const frame = () => app.lastFrame() ?? '';
  // Ink reads keys once useInput's effects have attached its reader: a key written before
  // that is lost. It reads each write at once, except a lone escape, which it holds for one
  // turn (setImmediate) to see whether a sequence follows; the next key must wait that turn.
  const stdin = app.stdin as unknown as { data: string | null; listenerCount(e: string): number };
  const press = async (...keys: string[]) => {
    await until(() => stdin.listenerCount('readable') > 0, 'the app to read keys');
    for (const k of keys) {
      app.stdin.write(k);
      await until(() => stdin.data === null, `the key ${JSON.stringify(k)} to be read`);
      if (k === KEYS.escape) await new Promise((r) => setImmediate(r));
    }
  };
  /** Key presses render asynchronously: wait for the text rather than trust a fixed sleep. */
  const see = (text: string) => until(() => frame().includes(text), JSON.stringify(text));
  return { app, frame, press, see };
}

describe('App (container)', () => {
  it('re-reads only when the ledger changed, and shows the new figures', async () => {
    const src = new FakeSource();
    const { frame } = mount(src);
    expect(frame()).toMatch(/alice +\$1\.70 /);
    const before = src.reads;
    const polls = src.polls;
    await until(() => src.polls >= polls + 10, 'ten polls');
    expect(src.reads).toBe(before); // ten polls, nothing changed, no read

    src.snapshot = fixedSnapshot({
      users: fixedSnapshot().users.map((u) => (u.userId === 'alice' ? { ...u, spentNano: 1.95 * USD } : u)),
    });
    src.dirty = true;
    await until(() => /alice +\$1\.95 /.test(frame()), 'the new figure');
    expect(src.reads).toBe(before + 1);
  });

  it('tab moves the focus, s cycles the sort of the focused table', async () => {
    const { frame, press, see } = mount(new FakeSource());
    await see('▶ Users');
    await press('s');
    await see('sort % of cap ↓');
    await press(KEYS.tab);
    await see('▶ Runs');
    await see('  Users');
    await press('s');
    await see('sort spend ↓ · 1-3 of 3'); // runs by spend
    const runs = frame().split('\n').filter((l) => l.slice(2).startsWith('run_'));
    expect(runs.map((l) => l.slice(2).split(' ')[0])).toEqual(['run_old', 'run_agent7', 'run_nightly']);
    await press(KEYS.tab);
    await see('▶ Models');
    await press(KEYS.tab, KEYS.tab);
    await see('▶ Users');
  });

  it('arrows and PageDown move the selection; the table scrolls to keep it on screen', async () => {
    const src = new FakeSource();
    const user = fixedSnapshot().users[0]!;
    src.snapshot = fixedSnapshot({ users: Array.from({ length: 30 }, (_, i) => ({ ...user, userId: `u${String(i).padStart(2, '0')}`, spentNano: (100 - i) * USD })) });
    const { frame, press, see } = mount(src);
    await see('1-5 of 30');
    await press(KEYS.down);
    await see('▸ u01');
    expect(frame()).toContain('1-5 of 30');
    await press(KEYS.down, KEYS.down, KEYS.down, KEYS.down);
    await see('2-6 of 30'); // the sixth row: one line down
    await see('▸ u05');
    await press(KEYS.pageDown);
    await see('6-10 of 30');
    await see('▸ u09');
    await press(KEYS.up);
    await see('▸ u08');
    expect(frame()).toContain('6-10 of 30');
    for (let i = 0; i < 8; i++) await press(KEYS.pageDown);
    await see('26-30 of 30');
    await see('▸ u29');
  });

  it('/ filters by id (the runs through the reader too); enter keeps it, escape clears it', async () => {
    const src = new FakeSource();
    const { frame, press, see } = mount(src);
    await press('/', 'a', 'l', 'i');
    await see('/ filter by id: ali█');
    expect(frame()).toContain('Users 5 · filter "ali": 1');
    await until(() => src.lastOptions?.runFilter === 'ali', 'the reader to get the filter');
    await press(KEYS.enter);
    await see('filter "ali" · tab focus');
    // q while typing a filter is a letter, not quit
    await press('/', 'q');
    await see('/ filter by id: aliq█');
    await press(KEYS.escape);
    await until(() => !frame().includes('filter "'), 'the filter to clear');
    expect(frame()).toContain('Users 5 · *default cap');
  });

  it('enter on a user opens its breakdown by model (read from the source), esc returns to the tables', async () => {
    const src = new FakeSource();
    const { frame, press, see } = mount(src);
    await see('▸ dave');
    await press(KEYS.down, KEYS.down); // dave, carol, alice
    await see('▸ alice');
    await press(KEYS.enter);
    await see('▶ User breakdown by model · 1-2 of 2 · esc back');
    expect(src.lastOptions?.detail).toEqual({ kind: 'user', id: 'alice' });
    const lines = frame().split('\n');
    expect(lines[4]).toBe('user alice');
    expect(lines[5]).toBe('$1.70 today of $2.00 · 85.0%! · 40 calls · 1 blocked');
    expect(lines[7]).toMatch(/^model-of-alice +\$4\.00 +72\.7% +40 +9 +1m ago$/);
    expect(lines.at(-1)).toBe('esc back · ↑↓ PgUp PgDn scroll · q quit');
    expect(frame()).not.toContain('Recent blocked');
    await press(KEYS.escape);
    await see('Recent blocked');
    await see('▸ alice'); // back where it was
    await until(() => src.lastOptions?.detail === null, 'the reader to stop reading the breakdown');

    // a run too: tab to the runs, down to the second, enter
    await press(KEYS.tab, KEYS.down, KEYS.enter);
    await see('model-of-run_agent7'); // read for that run
    expect(frame()).toContain('▶ Run breakdown by model');
    expect(frame()).toContain('exhausted · $0.49 of $0.50 · 98.0%! · 31 calls · 2 blocked');
  });

  it('r reverses the focused table', async () => {
    const { frame, press, see } = mount(new FakeSource());
    await press('r');
    await see('sort spend ↑');
    const users = frame().split('\n').filter((l) => /^[▸ ] [a-z]+ +\$/.test(l));
    expect(users.map((l) => l.slice(2).split(' ')[0])).toEqual(['erin', 'bob', 'alice', 'carol', 'dave']);
    expect(frame()).toContain('▸ erin'); // the selection starts at the top again
  });

  it('q quits: the app unmounts and stops polling', async () => {
    const src = new FakeSource();
    const { frame, press } = mount(src);
    await press('q');
    await afterCommit();
    const reads = src.reads;
    const polls = src.polls;
    src.dirty = true;
    await ticks(5);
    expect(src.polls).toBe(polls);
    expect(src.reads).toBe(reads);
    expect(frame()).toContain('noburn watch'); // the last frame stays on screen
  });

  it('Ctrl-C quits too', async () => {
    const src = new FakeSource();
    const { press } = mount(src);
    await press(KEYS.ctrlC);
    await afterCommit();
    const reads = src.reads;
    const polls = src.polls;
    src.dirty = true;
    await ticks(5);
    expect(src.polls).toBe(polls);
    expect(src.reads).toBe(reads);
  });

  it('remote: an unreachable server is a banner (no stack trace) and clears once the server answers', async () => {
    let fail: Error | null = new NoburnUnreachableError('connect ECONNREFUSED 127.0.0.1:9');
    let calls = 0;
    const sync: SyncFn = () => {
      calls++;
      return fail ? Promise.reject(fail) : Promise.resolve(0);
    };
    const { frame } = mount(new FakeSource(), sync);
    await until(() => frame().includes('Server unreachable'), 'the banner');
    expect(frame()).toContain('Server unreachable (connect ECONNREFUSED 127.0.0.1:9) · showing the local mirror, retrying in 1s');
    expect(frame()).not.toMatch(/\n\s+at /);
    fail = null;
    await until(() => !frame().includes('Server unreachable'), 'the banner to clear', 3000);
    const n = calls;
    await until(() => calls > n + 1, 'more pulls'); // pulls on every tick while healthy
  });

  it('remote: a refused key says so', async () => {
    const { frame } = mount(new FakeSource(), () => Promise.reject(new NoburnAuthError('the server refused the API key (401)')));
    await until(() => frame().includes('Server refused the API key'), 'the banner');
    expect(frame()).toContain('check NOBURN_API_KEY');
  });
});
