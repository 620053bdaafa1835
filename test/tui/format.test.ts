import { describe, expect, it } from 'vitest';
import { ago, bar, clean, duration, fit, levelOf, pctOf, pctText, sparkline, usd } from '../../src/tui/format.js';
import { applyKey } from '../../src/tui/keys.js';
import { INITIAL_VIEW, ZERO, layout, sortLabel, sortRuns, sortUsers } from '../../src/tui/view.js';
import { NOW, USD, fixedSnapshot } from './fixtures.js';

describe('format', () => {
  it('usd: exact decimals from nano-dollars, as many as the amount needs', () => {
    expect(usd(0)).toBe('$0.00');
    expect(usd(1)).toBe('$0.00'); // 1e-9 rounds away at 6 decimals
    expect(usd(123_000)).toBe('$0.000123');
    expect(usd(1_500_000)).toBe('$0.0015');
    expect(usd(1.25 * USD)).toBe('$1.25');
    expect(usd(12_345_678_901)).toBe('$12.3457');
    expect(usd(1234.5 * USD)).toBe('$1234.50');
    expect(usd(-0.5 * USD)).toBe('-$0.50');
  });

  it('percent of a cap and its level (60 / 80 / 100)', () => {
    expect(pctOf(1, null)).toBeNull();
    expect(pctOf(0, 0)).toBe(0);
    expect(pctText(pctOf(5, 0))).toBe('>999%');
    expect(pctText(pctOf(1, 3))).toBe('33.3%');
    expect([59.9, 60, 79.9, 80, 99.9, 100, null].map(levelOf)).toEqual(['ok', 'warn', 'warn', 'high', 'high', 'over', 'none']);
  });

  it('durations and ages', () => {
    expect(duration(45_000)).toBe('45s');
    expect(duration(750_000)).toBe('12m 30s');
    expect(duration(3_720_000)).toBe('1h 02m');
    expect(duration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 4h');
    expect(ago(null, NOW)).toBe('-');
    expect(ago(NOW + 5000, NOW)).toBe('0s ago');
    expect(ago(NOW - 3 * 3_600_000, NOW)).toBe('3h ago');
  });

  it('fit, clean, bar, sparkline', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('ab', 4, 'right')).toBe('  ab');
    expect(clean('a\u001b[2Jb\nc')).toBe('a?[2Jb?c');
    expect(bar(50, 10)).toEqual({ filled: '█████', empty: '░░░░░' });
    expect(bar(250, 4)).toEqual({ filled: '████', empty: '' });
    expect(sparkline([0, 1, 2, 4, 8])).toBe('▁▃▄▅█'); // any spend is at least the second block
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([1, 2, 3], 2)).toBe('▆█');
  });
});

describe('view', () => {
  const s = fixedSnapshot();
  it('sorts users and runs, ties by id', () => {
    expect(sortUsers(s.users, 'spend').map((u) => u.userId)).toEqual(['dave', 'carol', 'alice', 'bob', 'erin']);
    expect(sortUsers(s.users, 'pct').map((u) => u.userId)).toEqual(['dave', 'alice', 'carol', 'bob', 'erin']);
    expect(sortUsers(s.users, 'last').map((u) => u.userId)).toEqual(['alice', 'bob', 'dave', 'carol', 'erin']);
    expect(sortRuns([...s.runs].reverse(), 'open').map((r) => r.runId)).toEqual(['run_nightly', 'run_agent7', 'run_old']);
    expect(sortRuns(s.runs, 'pct').map((r) => r.runId)).toEqual(['run_agent7', 'run_nightly', 'run_old']);
  });

  it('splits the rows: 80x24 and a tiny terminal; short lists give their rows to the users', () => {
    expect(layout(24, false)).toEqual({ users: 4, runs: 4, models: 2, blocked: 2, detail: 15 });
    expect(layout(24, true)).toEqual({ users: 4, runs: 5, models: 1, blocked: 1, detail: 14 });
    expect(layout(8, false)).toEqual({ users: 1, runs: 1, models: 1, blocked: 1, detail: 1 });
    // 3 runs, 1 model, no blocked call (its "none" line): the users get the rest
    expect(layout(24, false, { users: 30, runs: 3, models: 1, blocked: 0 })).toEqual({ users: 7, runs: 3, models: 1, blocked: 1, detail: 15 });
    // few users too: the runs take what the users do not need
    expect(layout(24, false, { users: 4, runs: 9, models: 1, blocked: 0 })).toEqual({ users: 4, runs: 6, models: 1, blocked: 1, detail: 15 });
  });

  it('reverse sort turns the whole order around, and the title says so', () => {
    expect(sortUsers(s.users, 'spend', true).map((u) => u.userId)).toEqual(['erin', 'bob', 'alice', 'carol', 'dave']);
    expect(sortRuns(s.runs, 'open', true).map((r) => r.runId)).toEqual(['run_old', 'run_agent7', 'run_nightly']);
    expect([sortLabel('spend', true), sortLabel('id', true), sortLabel('open', true), sortLabel('last', false)]).toEqual(['spend ↑', 'id ↓', 'ended first', 'last activity ↓']);
  });

  const ctx = {
    layout: { users: 5, runs: 6, models: 2, blocked: 3, detail: 10 },
    counts: { users: 30, runs: 2, models: 3, blocked: 10 },
    ids: { users: Array.from({ length: 30 }, (_, i) => `u${i}`), runs: ['run_a', 'run_b'] },
    detailRows: 25,
  };

  it('keys: the cursor moves through users and runs and the scroll follows it; models and the feed scroll', () => {
    let v = applyKey(INITIAL_VIEW, '', { downArrow: true }, ctx).view;
    expect([v.cursor.users, v.scroll.users]).toEqual([1, 0]);
    v = applyKey(v, '', { pageDown: true }, ctx).view; // a page is the visible rows less one
    expect([v.cursor.users, v.scroll.users]).toEqual([5, 1]);
    v = applyKey(v, '', { end: true }, ctx).view;
    expect([v.cursor.users, v.scroll.users]).toEqual([29, 25]);
    v = applyKey(v, '', { upArrow: true }, ctx).view;
    expect([v.cursor.users, v.scroll.users]).toEqual([28, 25]);
    v = applyKey(v, '', { home: true }, ctx).view;
    expect([v.cursor.users, v.scroll.users]).toEqual([0, 0]);
    v = applyKey(v, '', { tab: true, shift: true }, ctx).view;
    expect(v.focus).toBe('blocked');
    expect(applyKey(v, 's', {}, ctx).view).toBe(v);
    expect(applyKey(v, 'r', {}, ctx).view).toBe(v); // the feed is newest first, always
    v = applyKey(v, '', { downArrow: true }, ctx).view;
    expect(v.scroll.blocked).toBe(1);
    v = applyKey(v, '', { tab: true, shift: true }, ctx).view;
    expect(v.focus).toBe('models');
    v = applyKey(v, 'r', {}, ctx).view;
    expect(v.reversed).toEqual({ users: false, runs: false, models: true });
    expect(applyKey(v, 'q', {}, ctx).quit).toBe(true);
    expect(applyKey({ ...v, editing: true }, 'q', {}, ctx)).toEqual({ view: { ...v, editing: true, filter: 'q', scroll: ZERO, cursor: ZERO }, quit: false });
    expect(applyKey({ ...v, editing: true }, 'c', { ctrl: true }, ctx).quit).toBe(true);
  });

  it('keys: r reverses the focused table and selects its first row; s and r start from the top', () => {
    let v = applyKey({ ...INITIAL_VIEW, cursor: { ...ZERO, users: 7 }, scroll: { ...ZERO, users: 4 } }, 'r', {}, ctx).view;
    expect([v.reversed.users, v.cursor.users, v.scroll.users]).toEqual([true, 0, 0]);
    v = applyKey(v, 'r', {}, ctx).view;
    expect(v.reversed.users).toBe(false);
  });

  it('keys: enter opens the selected user or run, esc goes back, nothing else leaks through', () => {
    let v = applyKey({ ...INITIAL_VIEW, cursor: { ...ZERO, users: 3 } }, '', { return: true }, ctx).view;
    expect(v.detail).toEqual({ kind: 'user', id: 'u3' });
    // in the breakdown: arrows scroll its rows, tab / s / r / enter do nothing, esc goes back
    v = applyKey(v, '', { pageDown: true }, ctx).view;
    expect(v.detailScroll).toBe(9);
    for (const [input, key] of [['', { tab: true }], ['s', {}], ['r', {}], ['', { return: true }], ['/', {}]] as const) expect(applyKey(v, input, key, ctx).view).toBe(v);
    v = applyKey(v, '', { end: true }, ctx).view;
    expect(v.detailScroll).toBe(15);
    expect(applyKey(v, 'q', {}, ctx).quit).toBe(true);
    v = applyKey(v, '', { escape: true }, ctx).view;
    expect([v.detail, v.detailScroll, v.focus, v.cursor.users]).toEqual([null, 0, 'users', 3]);
    // runs too; the models panel and the feed have no breakdown
    v = applyKey({ ...v, focus: 'runs', cursor: { ...ZERO, runs: 5 } }, '', { return: true }, ctx).view;
    expect(v.detail).toEqual({ kind: 'run', id: 'run_b' }); // a cursor past the end is the last row
    const models = { ...INITIAL_VIEW, focus: 'models' as const };
    expect(applyKey(models, '', { return: true }, ctx).view).toBe(models);
    // an empty list: nothing to open
    const none = { ...ctx, counts: { ...ctx.counts, users: 0 }, ids: { users: [], runs: [] } };
    expect(applyKey(INITIAL_VIEW, '', { return: true }, none).view).toBe(INITIAL_VIEW);
    // pasted control characters never reach the filter
    expect(applyKey({ ...INITIAL_VIEW, editing: true }, 'a\u001b[2Jb', {}, ctx).view.filter).toBe('a[2Jb');
  });
});
