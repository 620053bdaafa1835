import { Box } from 'ink';
import type { DashboardBlocked } from '../../lib/dashboard/snapshot.js';
import { clean, clock, fit, usd } from '../format.js';
import { Line, Title } from './Line.js';
import { rangeText } from './UsersTable.js';

export interface BlockedFeedProps {
  /** Newest first, filtered. */
  readonly events: readonly DashboardBlocked[];
  readonly offset: number;
  readonly height: number;
  readonly width: number;
  readonly color: boolean;
  readonly focused: boolean;
}

/** "who" of a blocked decision: user, run and model, whichever are known. */
function who(e: DashboardBlocked): string {
  const parts: string[] = [];
  if (e.userId !== null) parts.push(`user ${e.userId}`);
  if (e.runId !== null) parts.push(`run ${e.runId}`);
  if (e.model !== null) parts.push(e.model);
  return clean(parts.join(' · '));
}

export function BlockedFeed(p: BlockedFeedProps) {
  const shown = p.events.slice(p.offset, p.offset + p.height);
  const whoWidth = Math.max(4, p.width - 8 - 1 - 24 - 1 - 1 - 10);
  const lines = shown.map((e) => (
    <Line
      key={e.seq}
      color={p.color}
      segments={[
        { text: clock(e.ts) + ' ', dim: true },
        { text: fit(clean(e.reason ?? (e.kind === 'record' ? 'reported blocked' : 'blocked')), 24) + ' ', color: 'redBright' },
        { text: fit(who(e), whoWidth) + ' ' },
        { text: fit(e.amountNano > 0 ? usd(e.amountNano) : '', 10, 'right'), dim: true },
      ]}
    />
  ));
  const empty = p.events.length === 0 ? [<Line key="empty" color={p.color} segments={[{ text: '  no blocked calls', dim: true }]} />] : [];
  return (
    <Box flexDirection="column" height={p.height + 1}>
      <Title text={`Recent blocked${rangeText(p.offset, shown.length, p.events.length)}`} focused={p.focused} width={p.width} color={p.color} />
      {lines}
      {empty}
    </Box>
  );
}
