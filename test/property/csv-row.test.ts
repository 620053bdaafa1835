/**
 * The events CSV (docs: `noburn events --format csv`, RFC 4180): an event's row is the
 * generic row of its columns in EVENT_COLUMNS order, whatever its text fields hold (commas,
 * quotes, CR, LF), with null as the empty field and the tags in their header syntax.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvRow, csvUsd, EVENT_COLUMNS, eventCsvRow } from '../../src/cli/csv.js';
import type { LedgerEvent } from '../../src/lib/types.js';

const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ',', '"', '\r', '\n', ' ', '=', 'é'), maxLength: 12 });
const maybe = fc.option(text, { nil: null });

const event: fc.Arbitrary<LedgerEvent> = fc.record(
  {
    seq: fc.nat(),
    ts: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
    kind: fc.constantFrom('check', 'record', 'run_end') as fc.Arbitrary<LedgerEvent['kind']>,
    projectId: text,
    userId: maybe,
    runId: maybe,
    model: maybe,
    amountUsd: fc.nat({ max: 10 ** 12 }).map((n) => n / 1e9),
    blocked: fc.boolean(),
    reason: maybe as fc.Arbitrary<LedgerEvent['reason']>,
    unpriced: fc.boolean(),
    tokensIn: fc.nat(),
    tokensOut: fc.nat(),
    ref: maybe,
    tags: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), text, { maxKeys: 3 }),
  },
  { requiredKeys: ['seq', 'ts', 'kind', 'projectId', 'userId', 'runId', 'model', 'amountUsd', 'blocked', 'reason', 'unpriced', 'tokensIn', 'tokensOut', 'ref'] },
);

function generic(e: LedgerEvent): string {
  const tags = e.tags === undefined || Object.keys(e.tags).length === 0 ? null : Object.keys(e.tags).sort().map((k) => `${k}=${e.tags?.[k] ?? ''}`).join(',');
  const byColumn: Record<(typeof EVENT_COLUMNS)[number], string | number | boolean | null> = { ...e, amountUsd: csvUsd(e.amountUsd), tags };
  return csvRow(EVENT_COLUMNS.map((c) => byColumn[c]));
}

describe('events CSV rows', () => {
  it("an event's row is csvRow of its columns, quoting and nulls included", () => {
    fc.assert(
      fc.property(event, (e) => {
        expect(eventCsvRow(e)).toBe(generic(e));
      }),
      { numRuns: 500 },
    );
  });

  it('a field with a comma, a quote or a line break is quoted, its quotes doubled', () => {
    const e: LedgerEvent = { seq: 1, ts: '2026-12-04T00:00:00.000Z', kind: 'record', projectId: 'p', userId: 'a,"b"', runId: null, model: 'm\nx', amountUsd: 0.0015, blocked: false, reason: null, unpriced: false, tokensIn: 3, tokensOut: 4, ref: 'k', tags: { team: 'core' } };
    expect(eventCsvRow(e)).toBe('1,2026-12-04T00:00:00.000Z,record,p,"a,""b""",,"m\nx",0.001500000,false,,false,3,4,k,team=core\r\n');
  });
});
