/**
 * A real ledger file for the export tests: records written through the SQLite store (one
 * transaction), a budget and a run, a blocked check, and another project's events that no
 * export of project "default" may show; plus an RFC 4180 parser to read CSV back and the
 * ledger's own rows to compare with.
 */
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreRecord } from '../../src/lib/ledger/store.js';
import type { EventRow } from '../../src/lib/ledger/rows.js';

/** Tuesday 2026-11-24 00:00 UTC: the records span three days from here. */
export const DAY0 = Date.UTC(2026, 10, 24);
const HOUR = 3_600_000;
/** Ids a CSV writer must quote (comma, quote) or keep as is (space, unicode). */
export const USERS = ['alice', 'b,ob', 'c"arol', 'd a v e', 'ërin'];

/** Writes `n` records (plus a budget, a run, a blocked check, another project's record) into the ledger at dbPath. */
export async function writeExportLedger(dbPath: string, n: number): Promise<void> {
  const store = new SqliteStore(dbPath);
  try {
    await store.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 1000 * 1e9, period: 'month', now: DAY0 - HOUR });
    const run = await store.startRun({ projectId: 'default', runId: 'run_export', capNano: null, label: null, now: DAY0 });
    const recs: StoreRecord[] = [];
    for (let i = 0; i < n; i++) {
      recs.push({
        projectId: 'default',
        userId: i % 7 === 6 ? null : (USERS[i % USERS.length] ?? null),
        runId: i % 3 === 0 ? run.runId : null,
        model: i % 2 === 0 ? 'gpt-4o' : 'claude-x',
        tokensIn: 100 + i,
        tokensOut: i % 50,
        cachedTokensIn: 0,
        cacheWriteTokensIn: 0,
        // Odd nano amounts (1 nano, sub-cent) that a float's shortest form would not show exactly.
        costNano: i % 11 === 0 ? 1 : 123_457 * (i % 13) + 999,
        unpriced: i % 17 === 0,
        wasBlocked: false,
        reservationId: null,
        idempotencyKey: `k-${i}`,
        ts: DAY0 + Math.floor((i * 3 * 24 * HOUR) / n),
        // Tags: the CSV field holds their commas (quoted).
        ...(i % 5 === 0 ? { tags: ['feature=search', 'team=core'] } : i % 5 === 1 ? { tags: ['team=ops'] } : {}),
      });
    }
    await store.record(recs);
    await store.check({ projectId: 'default', userId: 'alice', runId: null, model: 'gpt-4o', estimateNano: 0, tokensIn: 1, tokensOut: 1, unpriced: true, forceBlock: 'unknown_model_price', now: DAY0 + 3 * 24 * HOUR, holdTtlMs: 60_000 });
    const first = recs[0];
    if (first) await store.record([{ ...first, projectId: 'other', runId: null, idempotencyKey: 'other-1' }]);
  } finally {
    await store.close();
  }
}

/** An events row as stored (the store's own row type; tags present since migration 5). */
export type EventDbRow = Required<EventRow>;

/** The ledger's event rows of a project, by seq (a fresh read-only connection). */
export function ledgerEvents(dbPath: string, where = '1 = 1', ...args: unknown[]): EventDbRow[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT * FROM events WHERE project_id = 'default' AND ${where} ORDER BY seq`).all(...args) as EventDbRow[];
  } finally {
    db.close();
  }
}

/** A row as the CSV must show it: the JSON field order, exact USD, ISO UTC, '' for null. */
export function expectedCsvRow(r: EventDbRow): string[] {
  const s = (v: string | null) => v ?? '';
  return [String(r.seq), new Date(r.ts).toISOString(), r.kind, r.project_id, s(r.user_id), s(r.run_id), s(r.model), nanoText(r.amount_nano), String(r.blocked === 1), s(r.reason), String(r.unpriced === 1), String(r.tokens_in), String(r.tokens_out), s(r.ref), s(r.tags)];
}

/** 1 -> "0.000000001": nano-dollars as the exact 9-place decimal. */
export function nanoText(nano: number): string {
  return `${Math.floor(nano / 1e9)}.${String(nano % 1e9).padStart(9, '0')}`;
}

/**
 * RFC 4180 parser (strict): CRLF line ends, quoted fields with doubled quotes. Throws on a
 * bare LF line end, a quote inside an unquoted field or text after a closing quote.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i];
        i++;
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`quote in an unquoted field at ${i}`);
        field += text[i];
        i++;
      }
    }
    row.push(field);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
      continue;
    }
    throw new Error(`expected , or CRLF at ${i}, got ${JSON.stringify(text.slice(i, i + 10))}`);
  }
  if (row.length > 0) throw new Error('the last record has no CRLF');
  return rows;
}
