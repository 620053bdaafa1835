import { ExitCodes } from '../exit-codes.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { RunStartOptions } from '../specs.js';

/** `noburn run start`: prints the new run id alone on stdout (ID=$(noburn run start --cap 1)). */
export async function runStartCommand(opts: RunStartOptions, out: Output): Promise<number> {
  const run = await withGuard((g) => g.startRun({ budgetCapUsd: opts.cap ?? null, label: opts.label, parentRunId: opts.parent ?? null, alertAt: opts.alertAt }));
  if (opts.json) out.json(run);
  else out.out(run.runId);
  return ExitCodes.OK;
}
