import { ExitCodes } from '../exit-codes.js';
import { table, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { SpendOptions } from '../specs.js';

/** `noburn spend [--by user|run|model|day] [--since DATE] [--until DATE]` */
export async function spendCommand(opts: SpendOptions, out: Output): Promise<number> {
  const r = await withGuard((g) => g.spend({ by: opts.by, since: opts.since, until: opts.until }));
  if (opts.json) {
    out.json(r);
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
