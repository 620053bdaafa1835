/**
 * `noburn events [--since] [--until] [--kind] [--format jsonl|csv | --json]`: the event feed on
 * stdout, streamed. Pages of the feed (keyset paging, embedded or GET /v1/events remote)
 * are written one at a time and the next is read only once stdout has taken the last, so
 * a million events cost one page of memory. Nothing is printed before the first page is
 * read: a bad --since fails with stdout empty.
 */
import { NoburnValidationError } from '../../lib/errors.js';
import { ExitCodes } from '../exit-codes.js';
import { EVENT_COLUMNS, csvRow, eventCsvRow } from '../csv.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { EventsOptions } from '../specs.js';
import type { LedgerEvent } from '../../lib/types.js';

export async function eventsCommand(opts: EventsOptions, out: Output): Promise<number> {
  if (opts.json && opts.format === 'csv') throw new NoburnValidationError('--json and --format csv: choose one');
  const line = opts.format === 'csv' ? eventCsvRow : (e: LedgerEvent) => JSON.stringify(e) + '\n';
  return withGuard(async (g) => {
    const pages = g.eventPages({ since: opts.since, until: opts.until, kind: opts.kind });
    let first = true;
    try {
      for (;;) {
        const next = await pages.next();
        if (first && opts.format === 'csv') await out.write(csvRow(EVENT_COLUMNS));
        first = false;
        if (next.done === true) return ExitCodes.OK;
        await out.write(next.value.map(line).join(''));
      }
    } catch (e) {
      // The reader went away (`noburn events | head`): the export ends quietly, as in shells.
      if (isBrokenPipe(e)) return ExitCodes.OK;
      throw e;
    } finally {
      await pages.return(undefined);
    }
  });
}

function isBrokenPipe(e: unknown): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === 'EPIPE';
}
