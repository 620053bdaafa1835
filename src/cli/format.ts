import { formatUsd, usdNumberToNano } from '../lib/money.js';

/** "$0.001500" from a USD number (exact for the nano-dollar values noburn produces). */
export function usd(v: number | null | undefined, decimals = 6): string {
  if (v === null || v === undefined) return '-';
  // Sums may exceed the $1M input limit: convert without validating.
  return `$${formatUsd(usdNumberToNano(v), decimals)}`;
}

/** Pads columns of a plain-text table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
