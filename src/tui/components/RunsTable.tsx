import { Box } from 'ink';
import type { DashboardRun } from '../../lib/dashboard/snapshot.js';
import { LEVEL_COLOR, LEVEL_MARK, ago, clean, duration, fit, levelOf, pctOf, usd } from '../format.js';
import { Line, Title } from './Line.js';
import { rangeText } from './UsersTable.js';

export interface RunsTableProps {
  /** Sorted and filtered. */
  readonly runs: readonly DashboardRun[];
  readonly total: number;
  readonly open: number;
  readonly offset: number;
  readonly height: number;
  readonly width: number;
  readonly now: number;
  readonly color: boolean;
  readonly focused: boolean;
  readonly sortLabel: string;
  readonly filter: string;
}

// STATUS SPEND+mark CAP CALLS BLK STARTED DURATION, one space between cells.
const FIXED = 9 + 11 + 10 + 6 + 4 + 7 + 7 + 7;

const STATUS_COLOR = { open: 'green', ended: undefined, exhausted: 'redBright' } as const;

/**
 * The CLMP/OVR column ("clamped calls/over-holds", docs/watch.md) is shown only when a run
 * on screen has any: most runs never clamp, and the id keeps the width.
 */
const BOUNDS_WIDTH = 9;
const hasBounds = (r: DashboardRun): boolean => (r.clampedCalls ?? 0) > 0 || (r.overHolds ?? 0) > 0;

export function RunsTable(p: RunsTableProps) {
  const shown = p.runs.slice(p.offset, p.offset + p.height);
  const bounds = shown.some(hasBounds);
  const idWidth = Math.max(8, p.width - FIXED - (bounds ? BOUNDS_WIDTH : 0));
  const filtered = p.filter === '' ? '' : ` · filter "${clean(p.filter)}": ${p.runs.length}`;
  const title = `Runs ${p.total} (${p.open} open)${filtered} · sort ${p.sortLabel}${rangeText(p.offset, shown.length, p.runs.length)}`;
  const head = `${fit('RUN', idWidth)} ${fit('STATUS', 9)} ${fit('SPEND', 10, 'right')}  ${fit('CAP', 10, 'right')} ${fit('CALLS', 6, 'right')} ${fit('BLK', 4, 'right')}${bounds ? ' ' + fit('CLMP/OVR', BOUNDS_WIDTH - 1, 'right') : ''} ${fit('STARTED', 7, 'right')} ${fit('ELAPSED', 7, 'right')}`;
  const lines = shown.map((r) => {
    const level = levelOf(pctOf(r.spentNano, r.capNano));
    const name = r.label ? `${r.runId} ${r.label}` : r.runId;
    const dur = (r.endedAt ?? p.now) - r.startedAt;
    return (
      <Line
        key={r.runId}
        color={p.color}
        segments={[
          { text: fit(clean(name), idWidth) + ' ', bold: r.open },
          { text: fit(r.status, 9), color: STATUS_COLOR[r.status] },
          { text: ' ' + fit(usd(r.spentNano), 10, 'right') + LEVEL_MARK[level], color: LEVEL_COLOR[level], bold: level === 'over' },
          { text: ' ' + fit(r.capNano === null ? '-' : usd(r.capNano), 10, 'right') },
          { text: ' ' + fit(String(r.calls), 6, 'right') + ' ' },
          { text: fit(String(r.blockedCalls), 4, 'right'), color: r.blockedCalls > 0 ? 'yellow' : undefined },
          ...(bounds
            ? [{ text: ' ' + fit(hasBounds(r) ? `${r.clampedCalls ?? 0}/${r.overHolds ?? 0}` : '-', BOUNDS_WIDTH - 1, 'right'), color: (r.overHolds ?? 0) > 0 ? 'yellow' : undefined, dim: !hasBounds(r) }]
            : []),
          { text: ' ' + fit(ago(r.startedAt, p.now), 7, 'right') + ' ' + fit(duration(dur), 7, 'right'), dim: !r.open },
        ]}
      />
    );
  });
  const empty = p.runs.length === 0 ? [<Line key="empty" color={p.color} segments={[{ text: p.total === 0 ? '  no runs yet' : '  no run matches the filter', dim: true }]} />] : [];
  return (
    <Box flexDirection="column" height={p.height + 2}>
      <Title text={title} focused={p.focused} width={p.width} color={p.color} />
      <Line color={p.color} segments={[{ text: head, dim: true }]} />
      {lines}
      {empty}
    </Box>
  );
}
