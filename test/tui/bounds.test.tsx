/**
 * The runs table shows what the hard cap did to a run: calls clamped to fit and records
 * that cost more than their hold (CLMP/OVR), only when a run on screen has any.
 */
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { RunsTable } from '../../src/tui/components/RunsTable.js';
import { NOW, fixedSnapshot } from './fixtures.js';

function frame(node: React.ReactElement): string[] {
  const { lastFrame, unmount } = render(node);
  const text = lastFrame() ?? '';
  unmount();
  return text.split('\n');
}

describe('RunsTable clamped calls and over-holds', () => {
  it('adds a CLMP/OVR column when a run has clamped calls or over-holds, "-" for the others', () => {
    const runs = fixedSnapshot().runs.map((r) => (r.runId === 'run_agent7' ? { ...r, clampedCalls: 4, overHolds: 1 } : r));
    const lines = frame(<RunsTable runs={runs} total={3} open={1} offset={0} height={3} width={80} color={false} now={NOW} focused={false} sortLabel="open first" filter="" />);
    expect(lines[1]).toBe('RUN        STATUS         SPEND         CAP  CALLS  BLK CLMP/OVR STARTED ELAPSED');
    // an id that must be cut keeps both ends (ids often share a prefix)
    expect(lines[2]).toBe('run_n…htly open           $0.25       $1.00     10    0        - 10m ago 10m 00s');
    expect(lines[3]).toBe('run_agent7 exhausted      $0.49!      $0.50     31    2      4/1  3h ago 45m 00s');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  });

  it('without any, the table keeps its columns', () => {
    const lines = frame(<RunsTable runs={fixedSnapshot().runs} total={3} open={1} offset={0} height={3} width={80} color={false} now={NOW} focused={false} sortLabel="open first" filter="" />);
    expect(lines[1]).not.toContain('CLMP');
  });
});
