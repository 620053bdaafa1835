/** The users table: one row per end user, their spend against the cap that applies to them. */
import { Box } from 'ink';
import type { DashboardUser } from '../../lib/dashboard/snapshot.js';
import { LEVEL_COLOR, LEVEL_MARK, ago, alertCell, clean, fit, fitId, levelOf, pctOf, pctText, usd } from '../format.js';
import { Line, Title } from './Line.js';
import type { Segment } from './Line.js';

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
  /**
   * The selected row (an index in `users`) of the live dashboard, which keeps a two-column
   * gutter for its marker; undefined (--once): no gutter.
   */
  readonly cursor?: number | undefined;
}

// SPEND CAP+default-mark %CAP+level-mark CALLS BLOCKED LAST, one space between cells.
const FIXED = 10 + 11 + 7 + 6 + 7 + 7 + 6;
/** The ALERT column (thresholds of the cap), shown when a user on screen has any. */
const ALERT_WIDTH = 6;

export function rangeText(offset: number, shown: number, count: number): string {
  return count === 0 ? '' : ` · ${offset + 1}-${offset + shown} of ${count}`;
}

/** The selection marker of a live table: "▸ " on the selected row (bold, so it survives NO_COLOR), else blanks. */
export function gutter(cursor: number | undefined, index: number, focused: boolean): Segment[] {
  if (cursor === undefined) return [];
  const on = index === cursor;
  return [{ text: on ? (focused ? '▸ ' : '› ') : '  ', color: on && focused ? 'cyan' : undefined, bold: on }];
}

export function UsersTable(p: UsersTableProps) {
  const shown = p.users.slice(p.offset, p.offset + p.height);
  const alerts = shown.some((u) => alertCell(u.thresholdsPct, u.firedPct) !== null);
  const lead = p.cursor === undefined ? 0 : 2;
  const idWidth = Math.max(8, p.width - FIXED - lead - (alerts ? ALERT_WIDTH + 1 : 0));
  const filtered = p.filter === '' ? '' : ` · filter "${clean(p.filter)}": ${p.users.length}`;
  const title = `Users ${p.total}${filtered}${p.note ? ` · ${p.note}` : ''} · sort ${p.sortLabel}${rangeText(p.offset, shown.length, p.users.length)}`;
  const alertHead = alerts ? ` ${fit('ALERT', ALERT_WIDTH, 'right')}` : '';
  const head = `${' '.repeat(lead)}${fit('USER', idWidth)} ${fit('SPEND', 10, 'right')} ${fit('CAP', 10, 'right')}  ${fit('%CAP', 6, 'right')} ${alertHead} ${fit('CALLS', 6, 'right')} ${fit('BLOCKED', 7, 'right')} ${fit('LAST', 7, 'right')}`;
  const lines = shown.map((u, i) => {
    const pct = pctOf(u.spentNano, u.capNano);
    const level = levelOf(pct);
    const c = LEVEL_COLOR[level];
    const alert = alertCell(u.thresholdsPct, u.firedPct);
    return (
      <Line
        key={u.userId}
        color={p.color}
        segments={[
          ...gutter(p.cursor, p.offset + i, p.focused),
          { text: fitId(clean(u.userId), idWidth) + ' ' },
          { text: fit(usd(u.spentNano), 10, 'right'), color: c },
          { text: ' ' + fit(u.capNano === null ? '-' : usd(u.capNano), 10, 'right') + (u.capSource === 'default' ? '* ' : '  ') },
          { text: fit(pctText(pct), 6, 'right') + LEVEL_MARK[level], color: c, bold: level === 'over' },
          ...(alerts ? [{ text: ' ' + fit(alert ?? '-', ALERT_WIDTH, 'right'), color: (u.firedPct?.length ?? 0) > 0 ? 'yellow' : undefined, dim: (u.firedPct?.length ?? 0) === 0 }] : []),
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
