import { ExitCodes } from '../exit-codes.js';
import { usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { RunEndOptions } from '../specs.js';

/** `noburn run end ID`: closes a run (exit 6 if it had already ended) and prints its result. */
export async function runEndCommand(id: string, opts: RunEndOptions, out: Output): Promise<number> {
  // One request: the end answer carries the whole run.
  const { run, ...r } = await withGuard((g) => g.endRun(id));
  // Every report shows the unpriced count (contract §3); the end result itself does not carry it.
  const unpricedCalls = run.unpricedCalls;
  if (opts.json) {
    out.json({ ...r, unpricedCalls });
    return ExitCodes.OK;
  }
  out.out(`${r.runId} ${r.status}: spent ${usd(r.spendUsd)} of ${usd(r.budgetCapUsd)}, ${r.calls} calls, ${r.blockedCalls} blocked, ${unpricedCalls} unpriced`);
  if (unpricedCalls > 0) out.err(`note: ${unpricedCalls} unpriced call(s) are not in the spend: set a price for their models (see noburn prices)`);
  return ExitCodes.OK;
}
