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
  if (v === null) return '';
  const s = String(v);
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
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

export function eventCsvRow(e: LedgerEvent): string {
  return csvRow([e.seq, e.ts, e.kind, e.projectId, e.userId, e.runId, e.model, csvUsd(e.amountUsd), e.blocked, e.reason, e.unpriced, e.tokensIn, e.tokensOut, e.ref, tagsField(e.tags)]);
}
