/**
 * Pure text helpers for the dashboard: every cell is a plain string of a known width, so a
 * frame is exactly predictable (and testable) at any terminal size.
 */
import { formatUsd } from '../lib/money.js';

/** Dollars with as many decimals as the amount needs: $0.000123, $1.25, $12.3457, $1234.57. */
export function usd(nano: number): string {
  const abs = Math.abs(nano);
  const decimals = abs < 1_000_000_000 ? 6 : abs < 1_000_000_000_000 ? 4 : 2;
  let s = formatUsd(nano, decimals);
  // trim trailing zeros, keeping at least cents
  const dot = s.indexOf('.');
  if (dot >= 0) {
    let end = s.length;
    while (end > dot + 3 && s[end - 1] === '0') end--;
    s = s.slice(0, end);
  }
  return s.startsWith('-') ? `-$${s.slice(1)}` : `$${s}`;
}

/** Share of a cap in percent (spend / cap), or null without a cap. */
export function pctOf(spent: number, cap: number | null): number | null {
  if (cap === null) return null;
  if (cap <= 0) return spent > 0 ? Infinity : 0;
  return (spent / cap) * 100;
}

export function pctText(pct: number | null): string {
  if (pct === null) return '-';
  if (!Number.isFinite(pct)) return '>999%';
  if (pct >= 1000) return '>999%';
  return `${pct.toFixed(1)}%`;
}

/** The colour thresholds of the issue: 60 / 80 / 100 % of a cap. */
export type Level = 'none' | 'ok' | 'warn' | 'high' | 'over';

export function levelOf(pct: number | null): Level {
  if (pct === null) return 'none';
  if (pct >= 100) return 'over';
  if (pct >= 80) return 'high';
  if (pct >= 60) return 'warn';
  return 'ok';
}

/** Ink colour per level (undefined: default colour). */
export const LEVEL_COLOR: Record<Level, string | undefined> = {
  none: undefined,
  ok: 'green',
  warn: 'yellow',
  high: 'red',
  over: 'redBright',
};

/** A marker that says the same as the colour, for NO_COLOR terminals and screen readers. */
export const LEVEL_MARK: Record<Level, string> = { none: ' ', ok: ' ', warn: '+', high: '!', over: 'X' };

/**
 * A cap's alert thresholds in one short cell (docs/watch.md): the highest that fired with a
 * flag ("⚑80%"), else the next one armed ("·50%"); null when the ledger keeps none.
 */
export function alertCell(thresholdsPct: readonly number[] | undefined, firedPct: readonly number[] | undefined): string | null {
  if (thresholdsPct === undefined || thresholdsPct.length === 0) return null;
  const fired = firedPct ?? [];
  if (fired.length > 0) return `⚑${Math.max(...fired)}%`;
  return `·${Math.min(...thresholdsPct)}%`;
}

/** Every threshold, the fired ones flagged: "50% ⚑ · 80% ⚑ · 90%". */
export function alertList(thresholdsPct: readonly number[], firedPct: readonly number[] | undefined): string {
  const fired = new Set(firedPct ?? []);
  return [...thresholdsPct].sort((a, b) => a - b).map((t) => (fired.has(t) ? `${t}% ⚑` : `${t}%`)).join(' · ');
}

/** The current window of a cap's period, in words: "today", "this month", "all time". */
export function windowName(period: string | null): string {
  if (period === null || period === 'total') return 'all time';
  return period === 'day' ? 'today' : `this ${period}`;
}

/** 1h 02m, 3d 4h, 45s, 12m 30s. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long ago, short: 5s ago, 3m ago, 2h ago, 4d ago; '-' for never. */
export function ago(ts: number | null, now: number): string {
  if (ts === null) return '-';
  const s = Math.max(0, Math.floor((now - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** HH:MM:SS in UTC. */
export function clock(ts: number): string {
  const d = new Date(ts);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** 2026-11-28 14:03:12 UTC */
export function stamp(ts: number): string {
  const d = new Date(ts);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${clock(ts)} UTC`;
}

/** Removes control characters (terminal escapes) from text that came from the ledger. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Cuts or pads to exactly `width` columns (ellipsis when cut). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const chars = Array.from(text);
  if (chars.length > width) return width === 1 ? '…' : chars.slice(0, width - 1).join('') + '…';
  const padding = ' '.repeat(width - chars.length);
  return align === 'left' ? text + padding : padding + text;
}

/**
 * An id in `width` columns: whole when it fits (padded), else cut in the middle so that both
 * ends stay readable (ids often share a prefix: run_2026-11-28_a…, user-org-…).
 */
export function fitId(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width || width < 5) return fit(text, width);
  const tail = Math.floor((width - 1) / 2);
  const head = width - 1 - tail;
  return chars.slice(0, head).join('') + '…' + chars.slice(chars.length - tail).join('');
}

/** A run's id and label in `width` columns: the label gives way first, then the id is cut in the middle. */
export function fitRunName(runId: string, label: string | null, width: number): string {
  const id = Array.from(runId).length;
  if (label === null || label === '' || id + 2 > width) return fitId(runId, width);
  return fit(`${runId} ${label}`, width);
}

/** A horizontal bar of `width` cells filled to `pct` percent (capped at full). */
export function bar(pct: number, width: number): { filled: string; empty: string } {
  const n = Math.max(0, Math.min(width, Math.round((Math.min(pct, 100) / 100) * width)));
  return { filled: '█'.repeat(n), empty: '░'.repeat(width - n) };
}

const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** One block per value, scaled to the largest: zero is the lowest block, any spend at least the second. */
export function sparkline(values: readonly number[], width = values.length): string {
  const vs = values.slice(-width);
  const max = Math.max(0, ...vs);
  const top = SPARKS.length - 1;
  return vs.map((v) => SPARKS[max <= 0 || v <= 0 ? 0 : 1 + Math.round((v / max) * (top - 1))]).join('');
}

/** Rate as $/min with the precision a rate needs. */
export function ratePerMin(nanoPerMin: number): string {
  return `${usd(Math.round(nanoPerMin))}/min`;
}
