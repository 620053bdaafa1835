/**
 * Spend by model: the models panel of the project's window, and the same rows in the
 * drill-down of one user or run. SHARE is the model's part of the spend shown above it.
 */
import { Box } from 'ink';
import type { DashboardModel } from '../../lib/dashboard/snapshot.js';
import { ago, clean, fit, fitId, pctText, usd } from '../format.js';
import { Line, Title } from './Line.js';
import { rangeText } from './UsersTable.js';

// SPEND SHARE CALLS BLOCKED LAST, one space between cells.
const FIXED = 11 + 7 + 7 + 8 + 8;

export interface ModelRowsProps {
  /** Sorted. */
  readonly models: readonly DashboardModel[];
  readonly offset: number;
  readonly height: number;
  readonly width: number;
  readonly now: number;
  readonly color: boolean;
  /** The spend the shares are of (the project's, the user's, the run's). */
  readonly spentNano: number;
  readonly empty: string;
  /** Blank columns before each row: the live tables' selection gutter, so the columns line up. */
  readonly lead?: number;
}

/** The column header and the rows (no title). */
export function ModelRows(p: ModelRowsProps) {
  const pad = ' '.repeat(p.lead ?? 0);
  const idWidth = Math.max(8, p.width - FIXED - pad.length);
  const head = `${pad}${fit('MODEL', idWidth)} ${fit('SPEND', 10, 'right')} ${fit('SHARE', 6, 'right')} ${fit('CALLS', 6, 'right')} ${fit('BLOCKED', 7, 'right')} ${fit('LAST', 7, 'right')}`;
  const lines = p.models.slice(p.offset, p.offset + p.height).map((m) => (
    <Line
      key={m.model}
      color={p.color}
      segments={[
        { text: pad + fitId(clean(m.model === '' ? '(none)' : m.model), idWidth) + ' ' },
        { text: fit(usd(m.spentNano), 10, 'right'), bold: true },
        { text: ' ' + fit(p.spentNano > 0 ? pctText((m.spentNano / p.spentNano) * 100) : '-', 6, 'right'), dim: true },
        { text: ' ' + fit(String(m.calls), 6, 'right') + ' ' },
        { text: fit(String(m.blockedCalls), 7, 'right'), color: m.blockedCalls > 0 ? 'yellow' : undefined },
        { text: ' ' + fit(ago(m.lastAt, p.now), 7, 'right'), dim: true },
      ]}
    />
  ));
  return (
    <>
      <Line color={p.color} segments={[{ text: head, dim: true }]} />
      {lines}
      {p.models.length === 0 ? <Line color={p.color} segments={[{ text: `  ${p.empty}`, dim: true }]} /> : null}
    </>
  );
}

export interface ModelsPanelProps extends Omit<ModelRowsProps, 'empty'> {
  /** Models in the window, before the panel's limit. */
  readonly total: number;
  /** "month", "all time"... */
  readonly windowLabel: string;
  readonly sortLabel: string;
  readonly focused: boolean;
}

export function ModelsPanel(p: ModelsPanelProps) {
  const shown = Math.min(p.height, Math.max(0, p.models.length - p.offset));
  const more = p.total > p.models.length ? ` (top ${p.models.length})` : '';
  const title = `Models ${p.total}${more} · ${p.windowLabel} · sort ${p.sortLabel}${rangeText(p.offset, shown, p.models.length)}`;
  return (
    <Box flexDirection="column" height={p.height + 2}>
      <Title text={title} focused={p.focused} width={p.width} color={p.color} />
      <ModelRows {...p} empty="no spend by model in this window" />
    </Box>
  );
}
