import { NoburnValidationError } from './errors.js';
import type { BudgetScope } from './types.js';
import { idString } from './validate.js';

/**
 * Model globs of per-model caps (`claude-opus-*`): `*` matches any run of characters, `?`
 * one character, everything else itself, case-sensitively, over the whole model name.
 * `[` and `]` are refused so that the same glob means the same thing in SQLite's GLOB and,
 * translated by nb_glob_like, in PostgreSQL's LIKE.
 */
export function parseModelGlob(v: unknown, name = 'model'): string {
  const g = idString(v, name);
  if (/[[\]]/.test(g)) throw new NoburnValidationError(`${name} may use * and ? as wildcards; [ and ] are not allowed`);
  return g;
}

/** True when `model` matches the glob (the rule the stores apply in SQL). */
export function globMatches(glob: string, model: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${re}$`, 'u').test(model);
}

/** The subject of a user's per-model usage row and budget: the user id and the model (or glob). Ids are printable, so U+001F cannot occur in either. */
export const USER_MODEL_SEP = '\u001f';
export const userModelSubject = (userId: string, model: string): string => `${userId}${USER_MODEL_SEP}${model}`;

/** The GLOB pattern (SQLite) that matches a user's usage rows of the models a glob names. */
export function userModelGlob(userId: string, glob: string): string {
  return `${userId.replace(/[*?[]/g, '[$&]')}${USER_MODEL_SEP}${glob}`;
}

/** The budgets row key of a cap (the same in both stores). */
export function budgetKey(b: { scope: BudgetScope; userId: string | null; model?: string | null | undefined; tag?: string | null | undefined }): { scope: string; subject: string } {
  if (b.scope === 'tag') return { scope: 'tag', subject: b.tag ?? '' };
  if (b.scope === 'model') return b.userId === null ? { scope: 'model', subject: b.model ?? '' } : { scope: 'user_model', subject: userModelSubject(b.userId, b.model ?? '') };
  return { scope: b.scope, subject: b.scope === 'user' ? (b.userId ?? '') : '' };
}

