import type { Alert } from '../../lib/types.js';
import { ExitCodes } from '../exit-codes.js';
import { printList, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { AlertsListOptions } from '../specs.js';

/**
 * `noburn alerts list [--run ID] [--limit N]`: the alerts the project's cap thresholds fired,
 * oldest first, with where each stands in the delivery queue.
 */
export async function alertsListCommand(opts: AlertsListOptions, out: Output): Promise<number> {
  const all = await withGuard((g) => g.alerts({ runId: opts.run }));
  const alerts = opts.limit !== undefined ? all.slice(Math.max(0, all.length - opts.limit)) : all;
  printList(out, opts.json, alerts, {
    empty: 'no alerts fired (set thresholds with noburn budget set ... --alert-at 50,80,100)',
    head: ['FIRED', 'SCOPE', 'SUBJECT', 'USER', 'AT', 'SPENT', 'CAP', 'WINDOW', 'DELIVERY'],
    row: (a) => [a.firedAt, a.scope, a.subject ?? '', a.userId ?? '', `${a.threshold}%`, usd(a.spentUsd), usd(a.capUsd), a.window, delivery(a)],
  });
  return ExitCodes.OK;
}

function delivery(a: Alert): string {
  if (a.deliveredAt !== null) return `delivered ${a.deliveredAt}`;
  if (a.attempts === 0) return 'pending';
  return `retrying (${a.attempts} attempts${a.lastError !== null ? `: ${a.lastError}` : ''})`;
}
