/**
 * The drill-down and the alert markers as frames (ink-testing-library; FORCE_COLOR=0 and
 * TZ=UTC pinned in vitest.config.ts, the clock fixed at NOW): a user's and a run's spend by
 * model, the whole id where the tables cut it, the by-tag list when the ledger keeps tags,
 * and the thresholds of each scope's cap with the ones that fired.
 */
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { Dashboard } from '../../src/tui/components/Dashboard.js';
import type { DashboardProps } from '../../src/tui/components/Dashboard.js';
import type { DashboardDetail } from '../../src/lib/dashboard/snapshot.js';
import { INITIAL_VIEW } from '../../src/tui/view.js';
import { MIN, NOW, USD, fixedSnapshot } from './fixtures.js';

function dashboard(p: Partial<DashboardProps> = {}): string[] {
  const { lastFrame, unmount } = render(
    <Dashboard snapshot={fixedSnapshot()} view={INITIAL_VIEW} columns={80} rows={24} now={NOW} color={false} mode="local" banner={null} interactive {...p} />,
  );
  const text = lastFrame() ?? '';
  unmount();
  return text.split('\n');
}

const daveByModel: DashboardDetail = {
  kind: 'user',
  id: 'dave',
  found: true,
  period: 'day',
  spentNano: 5.5 * USD,
  capNano: 5 * USD,
  models: [
    { model: 'gpt-4o', spentNano: 4 * USD, calls: 40, blockedCalls: 9, unpricedCalls: 0, lastAt: NOW - 40 * MIN },
    { model: 'gpt-4o-mini', spentNano: 1.5 * USD, calls: 20, blockedCalls: 0, unpricedCalls: 0, lastAt: NOW - 3_600_000 },
  ],
};

describe('drill-down (enter on a user or run)', () => {
  it("a user's spend by model replaces the tables, under the header", () => {
    const lines = dashboard({ snapshot: fixedSnapshot({ detail: daveByModel }), view: { ...INITIAL_VIEW, detail: { kind: 'user', id: 'dave' } } });
    expect(lines.slice(3, 9)).toEqual([
      '▶ User breakdown by model · 1-2 of 2 · esc back ────────────────────────────────',
      'user dave',
      '$5.50 today of $5.00 (default cap) · 110.0%X · 60 calls · 9 blocked',
      'MODEL                                        SPEND  SHARE  CALLS BLOCKED    LAST',
      'gpt-4o                                       $4.00  72.7%     40       9 40m ago',
      'gpt-4o-mini                                  $1.50  27.3%     20       0  1h ago',
    ]);
    expect(lines).toHaveLength(23);
    expect(lines.at(-1)).toBe('esc back · ↑↓ PgUp PgDn scroll · q quit');
    expect(lines.join('\n')).not.toContain('Recent blocked');
  });

  it("a run's: its status and label; the list scrolls", () => {
    const detail: DashboardDetail = { ...daveByModel, kind: 'run', id: 'run_nightly', period: null, spentNano: 0.25 * USD, capNano: 1 * USD };
    const lines = dashboard({ snapshot: fixedSnapshot({ detail }), view: { ...INITIAL_VIEW, detail: { kind: 'run', id: 'run_nightly' }, detailScroll: 1 }, rows: 10 });
    expect(lines.slice(3, 8)).toEqual([
      '▶ Run breakdown by model · 2-2 of 2 · esc back ─────────────────────────────────',
      'run run_nightly · nightly eval',
      'open · $0.25 of $1.00 · 25.0% · 10 calls · 0 blocked',
      'MODEL                                        SPEND  SHARE  CALLS BLOCKED    LAST',
      'gpt-4o-mini                                  $1.50  27.3%     20       0  1h ago',
    ]);
    expect(lines).toHaveLength(9);
  });

  it('the whole id, wrapped if it must be, where the table cuts it in the middle', () => {
    const id = 'user-4f6c1d2a-9b7e-4c3f-8a21-0d5e6f7a8b9c@tenant-with-a-long-name.example.com';
    const base = fixedSnapshot();
    const snapshot = fixedSnapshot({ users: [{ ...base.users[0]!, userId: id }], detail: { ...daveByModel, id } });
    const table = dashboard({ snapshot });
    expect(table[5]).toBe('▸ user-4f6c1d2…example.com      $1.70      $2.00   85.0%!     40       1  5s ago');
    const detail = dashboard({ snapshot, view: { ...INITIAL_VIEW, detail: { kind: 'user', id } } });
    expect(detail.slice(4, 6)).toEqual(['user', id]); // wrapped at the space
    expect(detail).toHaveLength(23);
    // wide enough, the table shows it whole
    expect(dashboard({ snapshot, columns: 140 })[5]).toMatch(new RegExp(`^▸ ${id.replace(/[.]/g, '\\.')} +\\$1\\.70`));
  });

  it('by tag, when the ledger keeps tags', () => {
    const detail = { ...daveByModel, tags: [{ tag: 'feature=chat', spentNano: 5 * USD, calls: 50 }, { tag: 'feature=search', spentNano: 0.5 * USD, calls: 10 }] };
    const lines = dashboard({ snapshot: fixedSnapshot({ detail }), view: { ...INITIAL_VIEW, detail: { kind: 'user', id: 'dave' } } });
    expect(lines[3]).toMatch(/^▶ User breakdown by model and tag · 1-2 of 2 · esc back ─+$/);
    const at = lines.indexOf('By tag 2');
    expect(at).toBeGreaterThan(8);
    expect(lines.slice(at + 1, at + 4)).toEqual([
      'TAG                                                          SPEND  SHARE  CALLS',
      'feature=chat                                                 $5.00  90.9%     50',
      'feature=search                                               $0.50   9.1%     10',
    ]);
    expect(lines).toHaveLength(23);
    // without tags (a ledger that keeps none), no such list
    expect(dashboard({ snapshot: fixedSnapshot({ detail: daveByModel }), view: { ...INITIAL_VIEW, detail: { kind: 'user', id: 'dave' } } })).not.toContain('By tag 2');
  });

  it('before the reader has it (the frame right after enter), or for another subject: "reading…"', () => {
    const lines = dashboard({ snapshot: fixedSnapshot({ detail: daveByModel }), view: { ...INITIAL_VIEW, detail: { kind: 'user', id: 'carol' } } });
    expect(lines.slice(4, 7)).toEqual(['user carol', '$3.10 today of $5.00 (default cap) · 62.0%+ · 12 calls · 0 blocked', '  reading…']);
  });

  it('a user gone from the ledger says so', () => {
    const lines = dashboard({ snapshot: fixedSnapshot({ detail: { ...daveByModel, id: 'gone', found: false, models: [] } }), view: { ...INITIAL_VIEW, detail: { kind: 'user', id: 'gone' } } });
    expect(lines.slice(4, 8)).toEqual(['user gone', 'not in the ledger any more', 'MODEL                                        SPEND  SHARE  CALLS BLOCKED    LAST', '  no spend by model recorded']);
  });
});

describe('alert thresholds per scope', () => {
  const base = fixedSnapshot();
  const alerting = fixedSnapshot({
    project: { ...base.project, thresholdsPct: [50, 80], firedPct: [] },
    users: base.users.map((u) =>
      u.userId === 'dave' ? { ...u, thresholdsPct: [50, 80, 100], firedPct: [50, 80, 100] } : u.userId === 'alice' ? { ...u, thresholdsPct: [90], firedPct: [] } : u,
    ),
    runs: base.runs.map((r) => (r.runId === 'run_agent7' ? { ...r, thresholdsPct: [50, 90], firedPct: [50, 90] } : r)),
  });

  it('an ALERT column when a row on screen has thresholds: the highest fired (⚑), else the next armed (·)', () => {
    const lines = dashboard({ snapshot: alerting });
    expect(lines[4]).toBe('  USER                   SPEND        CAP    %CAP   ALERT  CALLS BLOCKED    LAST');
    expect(lines[5]).toBe('▸ dave                   $5.50      $5.00* 110.0%X  ⚑100%     60       9 40m ago');
    expect(lines[7]).toBe('  alice                  $1.70      $2.00   85.0%!   ·90%     40       1  5s ago');
    expect(lines[8]).toBe('  bob                    $0.25      $5.00*   5.0%       -      3       0  2m ago');
    expect(lines[11]).toBe('  RUN        STATUS         SPEND         CAP  ALERT  CALLS  BLK STARTED ELAPSED');
    expect(lines[13]).toBe('  run_agent7 exhausted      $0.49!      $0.50   ⚑90%     31    2  3h ago 45m 00s');
    // the project cap: in the spend line
    expect(lines[1]).toBe('Spend $12.50 / $50.00 month ███████░░░░░░░░░░░░░░░░░░░░░  25.0% ·50%  held $0.25');
    for (const l of lines) expect(Array.from(l).length).toBeLessThanOrEqual(80);
  });

  it('the breakdown lists every threshold, the fired ones flagged', () => {
    const lines = dashboard({ snapshot: fixedSnapshot({ ...alerting, detail: daveByModel }), view: { ...INITIAL_VIEW, detail: { kind: 'user', id: 'dave' } } });
    expect(lines.slice(5, 8)).toEqual([
      '$5.50 today of $5.00 (default cap) · 110.0%X · 60 calls · 9 blocked',
      'alerts 50% ⚑ · 80% ⚑ · 100% ⚑',
      'MODEL                                        SPEND  SHARE  CALLS BLOCKED    LAST',
    ]);
    expect(lines).toHaveLength(23);
  });

  it('a ledger without thresholds: no column, no marker', () => {
    const lines = dashboard();
    expect(lines.join('\n')).not.toMatch(/ALERT|⚑|·\d+%/);
  });
});
