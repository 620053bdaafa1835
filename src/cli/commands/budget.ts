import { NoburnValidationError } from '../../lib/errors.js';
import type { BudgetScope } from '../../lib/types.js';
import { ExitCodes } from '../exit-codes.js';
import { printList, usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { BudgetSetOptions, BudgetShowOptions } from '../specs.js';

/**
 * `noburn budget set (--project | --user ID | --default-user | --model GLOB [--user ID] | --tag KEY=VALUE) USD [--period P] [--alert-at 50,80]`;
 * "none" removes the cap.
 */
export async function budgetSetCommand(amount: number | null, opts: BudgetSetOptions, out: Output): Promise<number> {
  const model = opts.model;
  const tag = opts.tag;
  if (model !== undefined && (opts.project === true || opts.defaultUser === true)) {
    throw new NoburnValidationError('--model caps the project (alone) or one user (with --user ID): not with --project or --default-user');
  }
  if (tag !== undefined && (opts.project === true || opts.defaultUser === true || opts.user !== undefined || model !== undefined)) {
    throw new NoburnValidationError('--tag caps the calls carrying the tag, project-wide: not with --project, --user, --default-user or --model');
  }
  const chosen = [opts.project === true, opts.user !== undefined || model !== undefined, opts.defaultUser === true, tag !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new NoburnValidationError('choose exactly one of --project, --user ID, --default-user, --model GLOB, --tag KEY=VALUE');
  const scope: BudgetScope = tag !== undefined ? 'tag' : model !== undefined ? 'model' : opts.project ? 'project' : opts.user !== undefined ? 'user' : 'default_user';
  const period = opts.period ?? 'month';
  const alertAt = opts.alertAt;
  if (alertAt !== undefined && alertAt.length > 0 && amount === null) throw new NoburnValidationError('--alert-at needs a cap (not none)');
  await withGuard((g) => g.setBudget({ scope, userId: opts.user, capUsd: amount, period, alertAt, ...(model !== undefined ? { model } : {}), ...(tag !== undefined ? { tag } : {}) }));
  const who =
    scope === 'tag' ? `tag ${tag ?? ''}`
    : scope === 'model' ? `model ${model ?? ''}${opts.user !== undefined ? ` for user ${opts.user}` : ''}`
    : scope === 'user' ? `user ${opts.user}` : scope === 'default_user' ? 'default user' : 'project';
  if (opts.json) out.json({ scope, userId: opts.user ?? null, ...(model !== undefined ? { model } : {}), ...(tag !== undefined ? { tag } : {}), capUsd: amount, period, ...(alertAt !== undefined ? { alertAt } : {}) });
  else {
    const alerts = alertAt === undefined ? '' : alertAt.length === 0 ? ', no alerts' : `, alerts at ${alertAt.join(', ')} %`;
    out.err(amount === null ? `${who}: cap removed` : `${who}: cap ${usd(amount, 2)} per ${period === 'total' ? 'all time' : period}${alerts}`);
  }
  return ExitCodes.OK;
}

/** `noburn budget show` */
export async function budgetShowCommand(opts: BudgetShowOptions, out: Output): Promise<number> {
  const budgets = await withGuard((g) => g.getBudgets());
  // The MODEL column appears only when a model cap exists, so the usual table keeps its shape.
  const models = budgets.some((b) => b.model !== undefined);
  // Likewise the TAG column, only when a tag cap exists, and ALERT AT, only when a cap has thresholds.
  const tags = budgets.some((b) => b.tag !== undefined);
  const alerts = budgets.some((b) => b.alertAt !== undefined);
  printList(out, opts.json, budgets, {
    empty: 'no caps set (every scope is unlimited, and still metered)',
    head: ['SCOPE', 'USER', ...(models ? ['MODEL'] : []), ...(tags ? ['TAG'] : []), 'CAP', 'PERIOD', 'SPENT', 'HELD', 'UNPRICED', 'WINDOW START', ...(alerts ? ['ALERT AT'] : [])],
    row: (b) => [
      b.scope, b.userId ?? '', ...(models ? [b.model ?? ''] : []), ...(tags ? [b.tag ?? ''] : []), usd(b.capUsd), b.period, b.scope === 'default_user' ? '-' : usd(b.spentUsd), usd(b.heldUsd),
      b.scope === 'default_user' ? '-' : String(b.unpricedCalls), b.windowStart, ...(alerts ? [b.alertAt?.map((t) => `${t}%`).join(',') ?? ''] : []),
    ],
  });
  return ExitCodes.OK;
}
