import { Box } from 'ink';
import type { DashboardUser } from '../../lib/dashboard/snapshot.js';
import { LEVEL_COLOR, LEVEL_MARK, ago, clean, fit, levelOf, pctOf, pctText, usd } from '../format.js';
import { Line, Title } from './Line.js';

export interface UsersTableProps {
  /** Sorted and filtered. */
  readonly users: readonly DashboardUser[];
  /** All users of the project, before the filter. */
  readonly total: number;
  readonly offset: number;
  readonly height: number;
  readonly width: number;
  readonly now: number;
  readonly color: boolean;
  readonly focused: boolean;
  readonly sortLabel: string;
  readonly filter: string;
  /** e.g. "default cap $5.00/day" */
  readonly note: string | null;
}

// SPEND CAP+default-mark %CAP+level-mark CALLS BLOCKED LAST, one space between cells.
const FIXED = 10 + 11 + 7 + 6 + 7 + 7 + 6;

export function rangeText(offset: number, shown: number, count: number): string {
  return count === 0 ? '' : ` · ${offset + 1}-${offset + shown} of ${count}`;
}

export function UsersTable(p: UsersTableProps) {
  const idWidth = Math.max(8, p.width - FIXED);
  const shown = p.users.slice(p.offset, p.offset + p.height);
  const filtered = p.filter === '' ? '' : ` · filter "${clean(p.filter)}": ${p.users.length}`;
  const title = `Users ${p.total}${filtered}${p.note ? ` · ${p.note}` : ''} · sort ${p.sortLabel}${rangeText(p.offset, shown.length, p.users.length)}`;
  const head = `${fit('USER', idWidth)} ${fit('SPEND', 10, 'right')} ${fit('CAP', 10, 'right')}  ${fit('%CAP', 6, 'right')}  ${fit('CALLS', 6, 'right')} ${fit('BLOCKED', 7, 'right')} ${fit('LAST', 7, 'right')}`;
  const lines = shown.map((u) => {
    const pct = pctOf(u.spentNano, u.capNano);
    const level = levelOf(pct);
    const c = LEVEL_COLOR[level];
    return (
      <Line
        key={u.userId}
        color={p.color}
        segments={[
          { text: fit(clean(u.userId), idWidth) + ' ' },
          { text: fit(usd(u.spentNano), 10, 'right'), color: c },
          { text: ' ' + fit(u.capNano === null ? '-' : usd(u.capNano), 10, 'right') + (u.capSource === 'default' ? '* ' : '  ') },
          { text: fit(pctText(pct), 6, 'right') + LEVEL_MARK[level], color: c, bold: level === 'over' },
          { text: ' ' + fit(String(u.calls), 6, 'right') + ' ' },
          { text: fit(String(u.blockedCalls), 7, 'right'), color: u.blockedCalls > 0 ? 'yellow' : undefined },
          { text: ' ' + fit(ago(u.lastAt, p.now), 7, 'right'), dim: true },
        ]}
      />
    );
  });
  const empty = p.users.length === 0 ? [<Line key="empty" color={p.color} segments={[{ text: p.total === 0 ? '  no end users yet' : '  no user matches the filter', dim: true }]} />] : [];
  return (
    <Box flexDirection="column" height={p.height + 2}>
      <Title text={title} focused={p.focused} width={p.width} color={p.color} />
      <Line color={p.color} segments={[{ text: head, dim: true }]} />
      {lines}
      {empty}
    </Box>
  );
}
