/**
 * CSV as RFC 4180 writes it (what `spend --format csv` and `events --format csv` print):
 * CRLF line ends, a field quoted only when it holds a comma, a quote, CR or LF, with its
 * quotes doubled. null is the empty field. USD amounts are exact decimals made from the
 * nano-dollar integers (9 places), never a float's shortest form.
 */
import { formatUsd, usdNumberToNano } from '../lib/money.js';
import type { LedgerEvent } from '../lib/types.js';

export type CsvValue = string | number | boolean | null;

const NEEDS_QUOTES = /[",\r\n]/;

export function csvField(v: CsvValue): string {
  return v === null ? '' : textField(String(v));
}

/** A text field (null: empty), quoted only when it must be. */
function textField(s: string | null): string {
  return s === null ? '' : NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One record, CRLF included. */
export function csvRow(fields: readonly CsvValue[]): string {
  return fields.map(csvField).join(',') + '\r\n';
}

/** A USD number noburn produced (nano-dollar exact) as an exact decimal: 0.0015 -> "0.001500000". */
export function csvUsd(v: number): string {
  return formatUsd(usdNumberToNano(v), 9);
}

/** The events CSV columns: the JSON fields of an event, in the same order. */
export const EVENT_COLUMNS = ['seq', 'ts', 'kind', 'projectId', 'userId', 'runId', 'model', 'amountUsd', 'blocked', 'reason', 'unpriced', 'tokensIn', 'tokensOut', 'ref', 'tags'] as const;

/** The tags as their header syntax, sorted by key (`feature=search,team=core`); empty when none. */
function tagsField(tags: Record<string, string> | undefined): string | null {
  if (tags === undefined) return null;
  const list = Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k] ?? ''}`);
  return list.length > 0 ? list.join(',') : null;
}

/**
 * The same row as csvRow of the columns, without an array per row or a quoting test of the
 * numbers and booleans (which never need quotes): an export of 1M events makes that many.
 */
export function eventCsvRow(e: LedgerEvent): string {
  return `${e.seq},${textField(e.ts)},${textField(e.kind)},${textField(e.projectId)},${textField(e.userId)},${textField(e.runId)},${textField(e.model)},${csvUsd(e.amountUsd)},${e.blocked},${textField(e.reason)},${e.unpriced},${e.tokensIn},${e.tokensOut},${textField(e.ref)},${textField(tagsField(e.tags))}\r\n`;
}
