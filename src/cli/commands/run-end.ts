import { ExitCodes } from '../exit-codes.js';
import { usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';

/** `noburn run end ID`: closes a run (exit 6 if it had already ended) and prints its result. */
export async function runEndCommand(id: string, opts: { json?: boolean }, out: Output): Promise<number> {
  const r = await withGuard((g) => g.endRun(id));
  if (opts.json) out.json(r);
  else out.out(`${r.runId} ${r.status}: spent ${usd(r.spendUsd)} of ${usd(r.budgetCapUsd)}, ${r.calls} calls, ${r.blockedCalls} blocked`);
  return ExitCodes.OK;
}
