import type { RunInfo } from '../../lib/types.js';
import { ExitCodes } from '../exit-codes.js';
import { table, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';

function status(r: RunInfo): string {
  return r.status === 'open' ? (r.exhausted ? 'open (exhausted)' : 'open') : r.exhausted ? 'exhausted' : 'ended';
}

/** `noburn run show ID` */
export async function runShowCommand(id: string, opts: { json?: boolean }, out: Output): Promise<number> {
  const r = await withGuard((g) => g.getRun(id));
  if (opts.json) {
    out.json(r);
    return ExitCodes.OK;
  }
  out.out(
    [
      `run      ${r.runId}${r.label ? ` (${r.label})` : ''}`,
      `status   ${status(r)}`,
      `spend    ${usd(r.spendUsd)} of ${usd(r.budgetCapUsd)} (held ${usd(r.heldUsd)})`,
      `calls    ${r.calls} (${r.blockedCalls} blocked, ${r.unpricedCalls} unpriced)`,
      `started  ${r.startedAt}`,
      `ended    ${r.endedAt ?? '-'}`,
    ].join('\n'),
  );
  return ExitCodes.OK;
}

/** `noburn run list [--status open|ended]` */
export async function runListCommand(opts: { status?: 'open' | 'ended'; json?: boolean }, out: Output): Promise<number> {
  const runs = await withGuard((g) => g.listRuns(opts.status));
  if (opts.json) {
    out.json(runs);
    return ExitCodes.OK;
  }
  if (runs.length === 0) {
    out.err('no runs');
    return ExitCodes.OK;
  }
  out.out(
    table(
      ['RUN', 'LABEL', 'STATUS', 'SPEND', 'CAP', 'CALLS', 'BLOCKED', 'STARTED'],
      runs.map((r) => [r.runId, r.label ?? '', status(r), usd(r.spendUsd), usd(r.budgetCapUsd), String(r.calls), String(r.blockedCalls), r.startedAt]),
    ),
  );
  return ExitCodes.OK;
}
