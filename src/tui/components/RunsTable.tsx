/** The runs table: open runs first, their spend against the run's cap, how long they ran. */
import { Box } from 'ink';
import type { DashboardRun } from '../../lib/dashboard/snapshot.js';
import { LEVEL_COLOR, LEVEL_MARK, ago, alertCell, clean, duration, fit, fitRunName, levelOf, pctOf, usd } from '../format.js';
import { Line, Title } from './Line.js';
import { gutter, rangeText } from './UsersTable.js';

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
  /** The selected row of the live dashboard (a gutter for its marker); undefined: none. */
  readonly cursor?: number | undefined;
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
/** The ALERT column (thresholds of the run's cap), shown when a run on screen has any. */
const ALERT_WIDTH = 6;

export function RunsTable(p: RunsTableProps) {
  const shown = p.runs.slice(p.offset, p.offset + p.height);
  const bounds = shown.some(hasBounds);
  const alerts = shown.some((r) => alertCell(r.thresholdsPct, r.firedPct) !== null);
  const lead = p.cursor === undefined ? 0 : 2;
  const idWidth = Math.max(8, p.width - FIXED - lead - (bounds ? BOUNDS_WIDTH : 0) - (alerts ? ALERT_WIDTH + 1 : 0));
  const filtered = p.filter === '' ? '' : ` · filter "${clean(p.filter)}": ${p.runs.length}`;
  const title = `Runs ${p.total} (${p.open} open)${filtered} · sort ${p.sortLabel}${rangeText(p.offset, shown.length, p.runs.length)}`;
  const head = `${' '.repeat(lead)}${fit('RUN', idWidth)} ${fit('STATUS', 9)} ${fit('SPEND', 10, 'right')}  ${fit('CAP', 10, 'right')}${alerts ? ' ' + fit('ALERT', ALERT_WIDTH, 'right') : ''} ${fit('CALLS', 6, 'right')} ${fit('BLK', 4, 'right')}${bounds ? ' ' + fit('CLMP/OVR', BOUNDS_WIDTH - 1, 'right') : ''} ${fit('STARTED', 7, 'right')} ${fit('ELAPSED', 7, 'right')}`;
  const lines = shown.map((r, i) => {
    const level = levelOf(pctOf(r.spentNano, r.capNano));
    const fired = (r.firedPct?.length ?? 0) > 0;
    const dur = (r.endedAt ?? p.now) - r.startedAt;
    return (
      <Line
        key={r.runId}
        color={p.color}
        segments={[
          ...gutter(p.cursor, p.offset + i, p.focused),
          { text: fitRunName(clean(r.runId), r.label === null ? null : clean(r.label), idWidth) + ' ', bold: r.open },
          { text: fit(r.status, 9), color: STATUS_COLOR[r.status] },
          { text: ' ' + fit(usd(r.spentNano), 10, 'right') + LEVEL_MARK[level], color: LEVEL_COLOR[level], bold: level === 'over' },
          { text: ' ' + fit(r.capNano === null ? '-' : usd(r.capNano), 10, 'right') },
          ...(alerts ? [{ text: ' ' + fit(alertCell(r.thresholdsPct, r.firedPct) ?? '-', ALERT_WIDTH, 'right'), color: fired ? 'yellow' : undefined, dim: !fired }] : []),
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
