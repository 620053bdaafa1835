import { windowKey } from '../../periods.js';
import type { Period } from '../../periods.js';
import { USER_MODEL_SEP, globMatches, userModelGlob, userModelSubject } from '../../model-glob.js';
import type { StoreLimit } from '../store.js';
import type { Statements } from './statements.js';
import type { BatchBudgets } from './batch-budgets.js';

/**
 * Per-model caps in the SQLite store. A cap is a budgets row of scope 'model' (subject: the
 * glob) or 'user_model' (subject: user U+001F glob). Spend is kept per model in usage rows
 * of the same scopes (subject: the model, or user U+001F model), so a cap's spend in a window
 * is the sum of the rows whose model the glob matches (SQLite GLOB, the same rule as
 * globMatches), and a cap set mid-window sees what was spent before it.
 */
export interface ModelBudgetRow {
  scope: 'model' | 'user_model';
  subject: string;
  cap_nano: number;
  period: Period;
}

/** The usage scopes a record or blocked check of (user, model) adds to, besides project and user. */
export function modelScopes(userId: string | null, model: string): [scope: string, subject: string][] {
  const out: [string, string][] = [['model', model]];
  if (userId !== null) out.push(['user_model', userModelSubject(userId, model)]);
  return out;
}

/** Splits a budgets row's subject into (user, glob). */
export function splitModelSubject(r: Pick<ModelBudgetRow, 'scope' | 'subject'>): { userId: string | null; glob: string } {
  if (r.scope === 'model') return { userId: null, glob: r.subject };
  const i = r.subject.indexOf(USER_MODEL_SEP);
  return { userId: r.subject.slice(0, i), glob: r.subject.slice(i + 1) };
}

/** Spent (in the cap's current window) and held (open holds of matching models) of one model cap. */
export function modelCapUsage(st: Statements, projectId: string, r: ModelBudgetRow, now: number): { spent: number; held: number; unpriced: number } {
  const { userId, glob } = splitModelSubject(r);
  const pattern = userId === null ? glob : userModelGlob(userId, glob);
  const u = st.modelSpent.get(projectId, r.scope, windowKey(r.period, now), pattern) as { spent: number; unpriced: number };
  const h = st.modelHeld.get({ project: projectId, now, glob, user: userId }) as { held: number };
  return { spent: u.spent, unpriced: u.unpriced, held: h.held };
}

/** The model caps that apply to a call: the project's whose glob matches, and the user's own. */
export function modelLimits(st: Statements, budgets: BatchBudgets, projectId: string, userId: string | null, model: string, now: number): StoreLimit[] {
  const lo = userId === null ? '' : `${userId}${USER_MODEL_SEP}`;
  const hi = userId === null ? '' : `${userId}\u0020`;
  const rows = budgets.modelRows(projectId, lo, hi);
  const out: StoreLimit[] = [];
  for (const r of rows) {
    if (!globMatches(splitModelSubject(r).glob, model)) continue;
    const u = modelCapUsage(st, projectId, r, now);
    out.push({ scope: 'model', capNano: r.cap_nano, spentNano: u.spent, heldNano: u.held });
  }
  return out;
}
