/** The last line: the keys of the moment, or the `/` filter prompt while typing. */
import type { TableId } from '../view.js';
import { clean, fit } from '../format.js';
import { Line } from './Line.js';

export interface StatusBarProps {
  readonly focus: TableId;
  readonly filter: string;
  readonly editing: boolean;
  /** The drill-down is open: its keys. */
  readonly detail?: boolean;
  readonly width: number;
  readonly color: boolean;
  /** False when stdin is not a terminal: no keys to offer. */
  readonly keys: boolean;
}

export function StatusBar(p: StatusBarProps) {
  if (p.editing) {
    return (
      <Line
        color={p.color}
        segments={[
          { text: '/', bold: true, color: 'cyan' },
          { text: ` filter by id: ${clean(p.filter)}` },
          { text: '█', color: 'cyan' },
          { text: '   enter: keep · esc: clear', dim: true },
        ]}
      />
    );
  }
  const help = !p.keys
    ? 'stdin is not a terminal: keys are off (Ctrl-C quits)'
    : p.detail
      ? 'esc back · ↑↓ PgUp PgDn scroll · q quit'
      : 'tab focus · ↑↓ move · enter breakdown · s sort · r reverse · / filter · q quit';
  const filter = p.filter === '' ? '' : `filter "${clean(p.filter)}" · `;
  return <Line color={p.color} segments={[{ text: fit(filter + help, p.width), dim: true }]} />;
}
