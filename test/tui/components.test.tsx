/**
 * The pure components with fixed data and a fixed clock (NOW), colour off (FORCE_COLOR=0
 * and TZ=UTC are pinned in vitest.config.ts): every line of the frame is asserted.
 */
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { BlockedFeed } from '../../src/tui/components/BlockedFeed.js';
import { Dashboard } from '../../src/tui/components/Dashboard.js';
import type { DashboardProps } from '../../src/tui/components/Dashboard.js';
import { Header } from '../../src/tui/components/Header.js';
import { RunsTable } from '../../src/tui/components/RunsTable.js';
import { UsersTable } from '../../src/tui/components/UsersTable.js';
import { INITIAL_VIEW, ZERO } from '../../src/tui/view.js';
import { emptySnapshot } from '../../src/lib/dashboard/reader.js';
import { MIN, NOW, USD, fixedSnapshot } from './fixtures.js';

function frame(node: React.ReactElement): string[] {
  const { lastFrame, unmount } = render(node);
  const text = lastFrame() ?? '';
  unmount();
  return text.split('\n');
}

const HELP = 'tab focus · ↑↓ move · enter breakdown · s sort · r reverse · / filter · q quit';

function dashboard(p: Partial<DashboardProps> = {}): string[] {
  return frame(
    <Dashboard snapshot={fixedSnapshot()} view={INITIAL_VIEW} columns={80} rows={24} now={NOW} color={false} mode="local" banner={null} interactive {...p} />,
  );
}

describe('Dashboard at 80x24', () => {
  it('renders the whole frame', () => {
    expect(dashboard()).toEqual([
      'noburn watch · project default · local                   2026-11-28 14:03:12 UTC',
      'Spend $12.50 / $50.00 month ████████░░░░░░░░░░░░░░░░░░░░░░  25.0%  held $0.25',
      'Burn  $0.07/min ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▄▁▁▁▁▁▁▁▅█ 14m · exhausts in 2h 13m  unpriced 3',
      '▶ Users 5 · *default cap $5.00/day · sort spend ↓ · 1-5 of 5 ───────────────────',
      '  USER                          SPEND        CAP    %CAP   CALLS BLOCKED    LAST',
      '▸ dave                          $5.50      $5.00* 110.0%X     60       9 40m ago',
      '  carol                         $3.10      $5.00*  62.0%+     12       0  3h ago',
      '  alice                         $1.70      $2.00   85.0%!     40       1  5s ago',
      '  bob                           $0.25      $5.00*   5.0%       3       0  2m ago',
      '  erin                      $0.000123          -       -       1       0  2d ago',
      '  Runs 3 (1 open) · sort open first · 1-3 of 3 ─────────────────────────────────',
      '  RUN               STATUS         SPEND         CAP  CALLS  BLK STARTED ELAPSED',
      '› run_nightly nigh… open           $0.25       $1.00     10    0 10m ago 10m 00s',
      '  run_agent7        exhausted      $0.49!      $0.50     31    2  3h ago 45m 00s',
      '  run_old           ended          $2.00           -      5    0  2d ago  1m 30s',
      '  Models 3 · this month · sort spend ↓ · 1-2 of 3 ──────────────────────────────',
      '  MODEL                                      SPEND  SHARE  CALLS BLOCKED    LAST',
      '  gpt-4o                                     $9.00  72.0%    900       5  5s ago',
      '  gpt-4o-mini                                $3.00  24.0%    300       2  1m ago',
      '  Recent blocked · 1-2 of 2 ────────────────────────────────────────────────────',
      '14:03:05 user_budget_exceeded     user dave · gpt-4o                       $0.02',
      '14:02:12 run_budget_exceeded      run run_agent7 · gpt-4o-mini            $0.011',
      'tab focus · ↑↓ move · enter breakdown · s sort · r reverse · / filter · q quit',
    ]);
  });

  it('fits 80x24: 23 lines (Ink redraws the whole screen when a frame fills it), none wider than 80', () => {
    const lines = dashboard();
    expect(lines).toHaveLength(23);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(80);
  });

  it('uses a larger terminal: more rows per table (short lists give theirs to the users), whole ids, still within bounds', () => {
    const user = fixedSnapshot().users[0]!;
    const many = fixedSnapshot({
      users: Array.from({ length: 40 }, (_, i) => ({ ...user, userId: `user_${String(i).padStart(2, '0')}`, spentNano: (40 - i) * USD })),
    });
    const lines = dashboard({ snapshot: many, columns: 120, rows: 40 });
    expect(lines).toHaveLength(39);
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(120);
    expect(lines[1]).toBe('Spend $12.50 / $50.00 month ████████░░░░░░░░░░░░░░░░░░░░░░  25.0%  held $0.25  1234 calls · 7 blocked');
    expect(lines[3]).toMatch(/^▶ Users 40 · sort spend ↓ · 1-20 of 40 ─+$/);
    expect(lines[5]).toBe(`▸ user_00${' '.repeat(62)}$40.00      $2.00   >999%X     40       1  5s ago`);
    expect(lines[27]).toMatch(/^› run_nightly nightly eval +open +\$0\.25 +\$1\.00 +10 +0 10m ago 10m 00s$/);
    expect(lines[30]).toMatch(/^ {2}Models 3 · this month · sort spend ↓ · 1-3 of 3 ─+$/);
    expect(lines[34]).toMatch(/^ {2}claude-3-5-haiku +\$0\.50 +4\.0% +34 +0 +3h ago$/);
  });

  it('scrolls, sorts and filters from the view state', () => {
    // 20 rows: 4 user rows, so there is something to scroll
    const lines = dashboard({ rows: 20, view: { ...INITIAL_VIEW, userSort: 'id', scroll: { ...ZERO, users: 1 } } });
    expect(lines[3]).toContain('sort id ↑ · 2-4 of 5');
    expect(lines.slice(5, 8).map((l) => l.slice(2).split(' ')[0])).toEqual(['bob', 'carol', 'dave']);
    // an offset past the end is clamped to the last page
    const end = dashboard({ rows: 20, view: { ...INITIAL_VIEW, scroll: { ...ZERO, users: 99 } } });
    expect(end[3]).toContain('sort spend ↓ · 3-5 of 5');

    const filtered = dashboard({ view: { ...INITIAL_VIEW, filter: 'agent' } });
    expect(filtered[3]).toContain('Users 5 · filter "agent": 0');
    expect(filtered[5]).toBe('  no user matches the filter');
    expect(filtered.find((l) => l.startsWith('  Runs'))).toContain('filter "agent": 1');
    expect(filtered.some((l) => l.startsWith('› run_agent7'))).toBe(true);
    expect(filtered.some((l) => l.includes('run_nightly'))).toBe(false);
    expect(filtered.filter((l) => /^\d\d:\d\d:\d\d /.test(l))).toEqual(['14:02:12 run_budget_exceeded      run run_agent7 · gpt-4o-mini            $0.011']);
    expect(filtered.at(-1)).toBe('filter "agent" · tab focus · ↑↓ move · enter breakdown · s sort · r reverse · /…');
  });

  it('shows the filter prompt while typing', () => {
    const lines = dashboard({ view: { ...INITIAL_VIEW, filter: 'ali', editing: true } });
    expect(lines.at(-1)).toBe('/ filter by id: ali█   enter: keep · esc: clear');
  });

  it('shows a banner (remote problems) and keeps the frame within 23 lines', () => {
    const lines = dashboard({ mode: 'remote', banner: { tone: 'error', text: 'Server unreachable (connect ECONNREFUSED 127.0.0.1:9) · showing the local mirror' } });
    expect(lines[0]).toContain('· remote');
    expect(lines[3]).toBe('Server unreachable (connect ECONNREFUSED 127.0.0.1:9) · showing the local mirror');
    expect(lines).toHaveLength(23);
  });

  it('--once frames have no key help and no focus marker', () => {
    const lines = dashboard({ interactive: false });
    expect(lines[3]).toMatch(/^ {2}Users 5/);
    expect(lines.some((l) => l.includes('q quit'))).toBe(false);
  });
});

describe('messages instead of tables', () => {
  it('missing ledger: says where it looks and that it waits', () => {
    const s = emptySnapshot('default', '/tmp/x/noburn.db', NOW, 'missing', 'No ledger at /tmp/x/noburn.db yet: it is created by the first noburn check, record or run.');
    expect(dashboard({ snapshot: s })).toEqual([
      'noburn watch · project default',
      '',
      '  No ledger at /tmp/x/noburn.db yet: it is created by the first noburn check,',
      '  record or run.',
      '',
      '  Waiting for it to appear…',
      HELP,
    ]);
  });

  it('empty ledger: the header and a message', () => {
    const s = fixedSnapshot({ status: 'empty', message: 'No spend recorded yet for project "default".' });
    expect(dashboard({ snapshot: s }).slice(3)).toEqual(['', '  No spend recorded yet for project "default".', '', HELP]);
  });

  it('an unreadable ledger: the error, no stack trace', () => {
    const s = emptySnapshot('default', '/tmp/x/noburn.db', NOW, 'error', 'Cannot open the ledger /tmp/x/noburn.db: file is not a database');
    const lines = dashboard({ snapshot: s, interactive: false });
    expect(lines).toEqual(['noburn watch · project default', '', '  Cannot open the ledger /tmp/x/noburn.db: file is not a database', '']);
  });
});

describe('Header', () => {
  const header = (over: Parameters<typeof fixedSnapshot>[0], width = 80) =>
    frame(<Header snapshot={fixedSnapshot(over)} now={NOW} width={width} color={false} mode="local" />);

  it('no project cap: all-time spend, no bar', () => {
    const base = fixedSnapshot();
    const lines = header({ project: { ...base.project, capNano: null, period: null, heldNano: 0 }, burn: { ...base.burn, exhaustion: { kind: 'none', atMs: null } } });
    expect(lines[1]).toBe('Spend $12.50 all time · no project cap  1234 calls · 7 blocked');
    // a shorter exhaustion text leaves room for the whole 15-minute sparkline
    expect(lines[2]).toBe('Burn  $0.07/min ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▄▁▁▁▁▁▁▁▅█ 15m · no project cap   unpriced 3');
  });

  it('exhaustion states', () => {
    const base = fixedSnapshot();
    const at = (exhaustion: typeof base.burn.exhaustion) => header({ burn: { ...base.burn, exhaustion } })[2];
    expect(at({ kind: 'idle', atMs: null })).toContain('· not burning');
    expect(at({ kind: 'exhausted', atMs: NOW })).toContain('· cap reached');
    expect(at({ kind: 'afterReset', atMs: NOW + 40 * 86_400_000 })).toContain('· lasts until reset (in 2d 9h)');
    expect(at({ kind: 'at', atMs: NOW + 90_000 })).toContain('· exhausts in 1m 30s');
  });

  it('a project over its cap: a full bar and the percentage', () => {
    const base = fixedSnapshot();
    expect(header({ project: { ...base.project, spentNano: 51 * USD, heldNano: 0 } })[1]).toBe(
      'Spend $51.00 / $50.00 month █████████████████████ 102.0%  1234 calls · 7 blocked',
    );
  });
});

describe('tables alone', () => {
  it('UsersTable: empty project', () => {
    const lines = frame(<UsersTable users={[]} total={0} offset={0} height={2} width={80} now={NOW} color={false} focused sortLabel="spend ↓" filter="" note={null} />);
    expect(lines[0]).toBe('▶ Users 0 · sort spend ↓ ' + '─'.repeat(80 - 25));
    expect(lines[2]).toBe('  no end users yet');
  });

  it('RunsTable: open runs age live, ended runs keep their duration', () => {
    const runs = fixedSnapshot().runs;
    const later = (now: number) => frame(<RunsTable runs={runs} total={3} open={1} offset={0} height={3} width={80} now={now} color={false} focused={false} sortLabel="open first" filter="" />);
    expect(later(NOW + 5 * MIN)[2]).toContain('15m ago 15m 00s');
    expect(later(NOW + 5 * MIN)[3]).toContain(' 3h ago 45m 00s');
  });

  it('BlockedFeed: a record reported as blocked has no reason', () => {
    const lines = frame(
      <BlockedFeed events={[{ seq: 1, ts: NOW, kind: 'record', userId: 'u\u001b[31m1', runId: null, model: 'm', amountNano: 0, reason: null }]} offset={0} height={1} width={80} color={false} focused={false} />,
    );
    // control characters from the ledger never reach the terminal
    expect(lines[1]).toBe('14:03:12 reported blocked         user u?[31m1 · m');
  });
});
