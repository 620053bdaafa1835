/**
 * `noburn spend [--by user|run|model|day] [--since DATE] [--until DATE] [--json | --format csv|json]`.
 * The stores sum in SQL, so the report holds one row per group, whatever the number of
 * calls; CSV writes those rows (RFC 4180, exact USD), `--format json` is `--json`.
 */
import { NoburnValidationError } from '../../lib/errors.js';
import type { SpendReport } from '../../lib/types.js';
import { csvRow, csvUsd } from '../csv.js';
import { ExitCodes } from '../exit-codes.js';
import { table, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { SpendOptions } from '../specs.js';

export async function spendCommand(opts: SpendOptions, out: Output): Promise<number> {
  if (opts.json && opts.format === 'csv') throw new NoburnValidationError('--json and --format csv: choose one');
  const r = await withGuard((g) => g.spend({ by: opts.by, since: opts.since, until: opts.until }));
  if (opts.json || opts.format === 'json') {
    out.json(r);
    return ExitCodes.OK;
  }
  if (opts.format === 'csv') {
    await out.write(spendCsv(r));
    return ExitCodes.OK;
  }
  if (r.by) {
    out.out(
      table(
        [r.by.toUpperCase(), 'SPEND', 'CALLS', 'BLOCKED', 'UNPRICED', 'TOKENS IN', 'TOKENS OUT'],
        r.rows.map((x) => [x.key ?? '(none)', usd(x.spendUsd), String(x.calls), String(x.blockedCalls), String(x.unpricedCalls), String(x.tokensIn), String(x.tokensOut)]),
      ),
    );
  }
  out.out(`total ${usd(r.totalUsd)}  calls ${r.calls}  blocked ${r.blockedCalls}  unpriced ${r.unpricedCalls}`);
  if (r.unpricedCalls > 0) out.err(`note: ${r.unpricedCalls} unpriced call(s) are not in the total: set a price for their models (see noburn prices)`);
  return ExitCodes.OK;
}

/** With --by: a row per group, named by the group (the JSON row fields after it); else one row of totals. */
export function spendCsv(r: SpendReport): string {
  if (!r.by) return csvRow(['totalUsd', 'calls', 'blockedCalls', 'unpricedCalls']) + csvRow([csvUsd(r.totalUsd), r.calls, r.blockedCalls, r.unpricedCalls]);
  const head = csvRow([r.by, 'spendUsd', 'calls', 'blockedCalls', 'unpricedCalls', 'tokensIn', 'tokensOut']);
  return head + r.rows.map((x) => csvRow([x.key, csvUsd(x.spendUsd), x.calls, x.blockedCalls, x.unpricedCalls, x.tokensIn, x.tokensOut])).join('');
}
