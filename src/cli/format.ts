import { formatUsd, usdNumberToNano } from '../lib/money.js';
import type { Output } from './output.js';

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

/** How a list command shows its items as text. */
export interface ListView<T> {
  /** Said on stderr when there are no items. */
  empty: string;
  head: readonly string[];
  row(item: T): readonly string[];
}

/** A list command's output: the items as JSON with --json; else a table of them, or `empty` on stderr when there are none. */
export function printList<T>(out: Output, json: boolean | undefined, items: readonly T[], view: ListView<T>): void {
  if (json) out.json(items);
  else if (items.length === 0) out.err(view.empty);
  else out.out(table(view.head, items.map((i) => view.row(i))));
}
