import { describe, expect, it } from 'vitest';
import { ago, bar, clean, duration, fit, levelOf, pctOf, pctText, sparkline, usd } from '../../src/tui/format.js';
import { applyKey } from '../../src/tui/keys.js';
import { INITIAL_VIEW, layout, sortRuns, sortUsers } from '../../src/tui/view.js';
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

  it('splits the rows: 80x24 and a tiny terminal', () => {
    expect(layout(24, false)).toEqual({ users: 5, runs: 6, blocked: 3 });
    expect(layout(24, true)).toEqual({ users: 5, runs: 5, blocked: 3 });
    expect(layout(8, false)).toEqual({ users: 1, runs: 1, blocked: 1 });
  });

  it('keys: page sizes follow the layout; s does nothing on the feed; shift-tab goes back', () => {
    const ctx = { layout: { users: 5, runs: 6, blocked: 3 }, counts: { users: 30, runs: 2, blocked: 10 } };
    let v = applyKey(INITIAL_VIEW, '', { pageDown: true }, ctx).view;
    expect(v.scroll.users).toBe(4);
    v = applyKey(v, '', { end: true }, ctx).view;
    expect(v.scroll.users).toBe(25);
    v = applyKey(v, '', { tab: true, shift: true }, ctx).view;
    expect(v.focus).toBe('blocked');
    expect(applyKey(v, 's', {}, ctx).view).toBe(v);
    v = applyKey(v, '', { downArrow: true }, ctx).view;
    expect(v.scroll.blocked).toBe(1);
    expect(applyKey(v, 'q', {}, ctx).quit).toBe(true);
    expect(applyKey({ ...v, editing: true }, 'q', {}, ctx)).toEqual({ view: { ...v, editing: true, filter: 'q', scroll: { users: 0, runs: 0, blocked: 0 } }, quit: false });
    expect(applyKey({ ...v, editing: true }, 'c', { ctrl: true }, ctx).quit).toBe(true);
    // pasted control characters never reach the filter
    expect(applyKey({ ...INITIAL_VIEW, editing: true }, 'a\u001b[2Jb', {}, ctx).view.filter).toBe('a[2Jb');
  });
});
