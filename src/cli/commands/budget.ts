import { NoburnValidationError } from '../../lib/errors.js';
import type { BudgetScope } from '../../lib/types.js';
import { ExitCodes } from '../exit-codes.js';
import { printList, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { BudgetSetOptions, BudgetShowOptions } from '../specs.js';

/** `noburn budget set (--project | --user ID | --default-user) USD [--period P]`; "none" removes the cap. */
export async function budgetSetCommand(amount: number | null, opts: BudgetSetOptions, out: Output): Promise<number> {
  const chosen = [opts.project === true, opts.user !== undefined, opts.defaultUser === true].filter(Boolean).length;
  if (chosen !== 1) throw new NoburnValidationError('choose exactly one of --project, --user ID, --default-user');
  const scope: BudgetScope = opts.project ? 'project' : opts.user !== undefined ? 'user' : 'default_user';
  const period = opts.period ?? 'month';
  await withGuard((g) => g.setBudget({ scope, userId: opts.user, capUsd: amount, period }));
  const who = scope === 'user' ? `user ${opts.user}` : scope === 'default_user' ? 'default user' : 'project';
  if (opts.json) out.json({ scope, userId: opts.user ?? null, capUsd: amount, period });
  else out.err(amount === null ? `${who}: cap removed` : `${who}: cap ${usd(amount, 2)} per ${period === 'total' ? 'all time' : period}`);
  return ExitCodes.OK;
}

/** `noburn budget show` */
export async function budgetShowCommand(opts: BudgetShowOptions, out: Output): Promise<number> {
  printList(out, opts.json, await withGuard((g) => g.getBudgets()), {
    empty: 'no caps set (every scope is unlimited, and still metered)',
    head: ['SCOPE', 'USER', 'CAP', 'PERIOD', 'SPENT', 'HELD', 'UNPRICED', 'WINDOW START'],
    row: (b) => [
      b.scope, b.userId ?? '', usd(b.capUsd), b.period, b.scope === 'default_user' ? '-' : usd(b.spentUsd), usd(b.heldUsd),
      b.scope === 'default_user' ? '-' : String(b.unpricedCalls), b.windowStart,
    ],
  });
  return ExitCodes.OK;
}
