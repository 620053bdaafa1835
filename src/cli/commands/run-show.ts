import type { RunInfo } from '../../lib/types.js';
import { ExitCodes } from '../exit-codes.js';
import { printList, table, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { RunListOptions, RunShowOptions } from '../specs.js';

function status(r: RunInfo): string {
  if (r.status === 'open') return r.exhausted ? 'open (exhausted)' : 'open';
  if (r.status === 'abandoned') return r.exhausted ? 'abandoned (exhausted)' : 'abandoned';
  return r.exhausted ? 'exhausted' : 'ended';
}

/** `noburn run show ID` */
export async function runShowCommand(id: string, opts: RunShowOptions, out: Output): Promise<number> {
  const [r, children] = await withGuard(async (g) => [await g.getRun(id), await g.listRuns(undefined, { parentRunId: id })] as const);
  if (opts.json) {
    out.json({ ...r, children });
    return ExitCodes.OK;
  }
  const lines = [
    `run      ${r.runId}${r.label ? ` (${r.label})` : ''}`,
    ...(r.parentRunId ? [`parent   ${r.parentRunId}`] : []),
    `status   ${status(r)}`,
    `spend    ${usd(r.spendUsd)} of ${usd(r.budgetCapUsd)} (held ${usd(r.heldUsd)})${children.length > 0 ? ', nested runs included' : ''}`,
    `calls    ${r.calls} (${r.blockedCalls} blocked, ${r.unpricedCalls} unpriced)`,
    `started  ${r.startedAt}`,
    `ended    ${r.endedAt ?? '-'}`,
  ];
  if (children.length > 0) {
    lines.push('', `children (${children.length})`, table(['RUN', 'LABEL', 'STATUS', 'SPEND', 'CAP', 'CALLS'], children.map((c) => [c.runId, c.label ?? '', status(c), usd(c.spendUsd), usd(c.budgetCapUsd), String(c.calls)])));
  }
  out.out(lines.join('\n'));
  return ExitCodes.OK;
}

/** `noburn run list [--status open|ended]` */
export async function runListCommand(opts: RunListOptions, out: Output): Promise<number> {
  printList(out, opts.json, await withGuard((g) => g.listRuns(opts.status)), {
    empty: 'no runs',
    head: ['RUN', 'LABEL', 'STATUS', 'SPEND', 'CAP', 'CALLS', 'BLOCKED', 'UNPRICED', 'STARTED', 'PARENT'],
    row: (r) => [r.runId, r.label ?? '', status(r), usd(r.spendUsd), usd(r.budgetCapUsd), String(r.calls), String(r.blockedCalls), String(r.unpricedCalls), r.startedAt, r.parentRunId ?? ''],
  });
  return ExitCodes.OK;
}
