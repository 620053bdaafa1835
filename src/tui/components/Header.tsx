import { Box } from 'ink';
import type { DashboardSnapshot } from '../../lib/dashboard/snapshot.js';
import { LEVEL_COLOR, alertCell, bar, clean, duration, fit, levelOf, pctOf, pctText, ratePerMin, sparkline, stamp, usd } from '../format.js';
import { Line } from './Line.js';
import type { Segment } from './Line.js';

export interface HeaderProps {
  readonly snapshot: DashboardSnapshot;
  readonly now: number;
  readonly width: number;
  readonly color: boolean;
  /** "local" or "remote": where the figures come from. */
  readonly mode: 'local' | 'remote';
}

function exhaustionText(s: DashboardSnapshot, now: number): Segment {
  const e = s.burn.exhaustion;
  switch (e.kind) {
    case 'none':
      return { text: 'no project cap', dim: true };
    case 'idle':
      return { text: 'not burning', color: 'green' };
    case 'exhausted':
      return { text: 'cap reached', color: 'redBright', bold: true };
    case 'at':
      return { text: `exhausts in ${duration((e.atMs ?? now) - now)}`, color: 'yellow', bold: true };
    case 'afterReset':
      return { text: `lasts until reset (in ${duration((s.project.windowEnd ?? now) - now)})`, color: 'green' };
  }
}

const len = (t: string) => Array.from(t).length;

/** Three lines: title and clock; project spend vs cap with a bar; burn rate, sparkline, exhaustion, unpriced. */
export function Header({ snapshot: s, now, width, color, mode }: HeaderProps) {
  const p = s.project;
  const right = stamp(now);
  const left = `noburn watch · project ${clean(s.projectId)} · ${mode}`;
  const title: Segment[] = [
    { text: fit(left, Math.max(0, width - right.length - 1)) + ' ', bold: true },
    { text: right, dim: true },
  ];

  const held = p.heldNano > 0 ? `  held ${usd(p.heldNano)}` : '';
  const counts = `  ${p.calls} calls · ${p.blockedCalls} blocked`;
  let spend: Segment[];
  if (p.capNano === null) {
    spend = [{ text: 'Spend ' }, { text: usd(p.spentNano), bold: true }, { text: ` all time · no project cap${held}${counts}` }];
  } else {
    const pct = pctOf(p.spentNano, p.capNano);
    const level = levelOf(pct);
    const lead = ` / ${usd(p.capNano)} ${p.period ?? ''} `;
    // The project cap's alert thresholds, when the ledger keeps them: "⚑80%" fired, "·50%" armed.
    const alert = alertCell(p.thresholdsPct, p.firedPct);
    const tail = ` ${pctText(pct).padStart(6)}${alert === null ? '' : ` ${alert}`}${held}`;
    const room = width - len(`Spend ${usd(p.spentNano)}${lead}${tail}`);
    const showCounts = room - len(counts) >= 10;
    const b = bar(pct ?? 0, Math.max(4, Math.min(30, showCounts ? room - len(counts) : room)));
    spend = [
      { text: 'Spend ' },
      { text: usd(p.spentNano), bold: true },
      { text: lead },
      { text: b.filled, color: LEVEL_COLOR[level] },
      { text: b.empty, dim: true },
      { text: tail, color: LEVEL_COLOR[level] },
      { text: showCounts ? counts : '', dim: true },
    ];
  }

  const unpriced = `unpriced ${s.unpricedTotal}`;
  const burnLead = `Burn  ${ratePerMin(s.burn.rateNanoPerMin)} `;
  const exhaust = exhaustionText(s, now);
  // The sparkline gives up buckets (oldest first) when the line is short.
  const fixed = len(burnLead) + len(' 15m · ') + len(exhaust.text) + 2 + unpriced.length;
  const n = Math.max(6, Math.min(s.burn.buckets.length, width - fixed));
  const spark = sparkline(s.burn.buckets, n);
  const span = ` ${Math.round((n * s.burn.bucketMs) / 60_000)}m · `;
  const gap = Math.max(2, width - len(burnLead + spark + span + exhaust.text) - unpriced.length);
  const burn: Segment[] = [
    { text: burnLead },
    { text: spark, color: 'cyan' },
    { text: span, dim: true },
    exhaust,
    { text: ' '.repeat(gap) },
    { text: unpriced, color: s.unpricedTotal > 0 ? 'yellow' : undefined, dim: s.unpricedTotal === 0, bold: s.unpricedTotal > 0 },
  ];

  return (
    <Box flexDirection="column">
      <Line color={color} segments={title} />
      <Line color={color} segments={spend} />
      <Line color={color} segments={burn} />
    </Box>
  );
}
