import { InvalidArgumentError } from '@commander-js/extra-typings';
import { MAX_TOKENS, printable } from '../lib/validate.js';
import { MAX_USD, usdToNano, nanoToUsd } from '../lib/money.js';
import { NoburnValidationError } from '../lib/errors.js';
import { MAX_THRESHOLD, parseThresholds } from '../lib/alerts/thresholds.js';
import { parseTag, parseTagList, tagGroupKey } from '../lib/tags.js';
import { SPEND_GROUPS } from '../lib/types.js';
import type { SpendGroupBy } from '../lib/types.js';

/** Commander argument parsers: a bad value becomes a one-line usage error (exit 2). */
export function tokensArg(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number of tokens');
  const n = Number(value);
  if (n > MAX_TOKENS) throw new InvalidArgumentError(`must be at most ${MAX_TOKENS}`);
  return n;
}

export function usdArg(value: string): number {
  try {
    return nanoToUsd(usdToNano(value, 'amount'));
  } catch (e) {
    if (e instanceof NoburnValidationError) throw new InvalidArgumentError('must be a USD amount such as 0.50');
    throw e;
  }
}

/** `--alert-at 50,80,100` (percents of the cap); `none`: no thresholds. */
export function alertAtArg(value: string): number[] {
  if (value === 'none') return [];
  try {
    if (value.trim() === '') throw new NoburnValidationError('empty');
    return parseThresholds(value, '--alert-at');
  } catch (e) {
    if (e instanceof NoburnValidationError) throw new InvalidArgumentError(`must be whole percents from 1 to ${MAX_THRESHOLD}, comma-separated (e.g. 50,80,100), or none`);
    throw e;
  }
}

/**
 * A price in USD per million tokens for `prices set`: a plain decimal (no sign, no
 * exponent) with at most 9 decimals, so that it is exact in nano-dollars per MTok.
 */
export function priceArg(value: string): number {
  const m = /^(\d{1,7})(?:\.(\d{1,9}))?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a non-negative decimal USD price per million tokens, at most 9 decimals (e.g. 0.15)');
  const n = Number(value.trim());
  if (n > MAX_USD) throw new InvalidArgumentError(`must be at most ${MAX_USD} (USD per million tokens)`);
  return n;
}

export function idArg(value: string): string {
  if (value.length === 0 || value.length > 256 || !printable(value)) {
    throw new InvalidArgumentError('must be 1-256 printable characters');
  }
  return value;
}

export function choiceArg<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`must be one of ${choices.join(', ')}`);
  };
}

/** `--azure-deployment NAME=MODEL`, repeatable: collects [NAME, MODEL] pairs. */
export function deploymentArg(value: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const eq = value.indexOf('=');
  const name = eq > 0 ? value.slice(0, eq) : '';
  const model = eq > 0 ? value.slice(eq + 1) : '';
  if (name === '' || model === '' || !printable(value) || value.length > 512) throw new InvalidArgumentError('must be NAME=MODEL (an Azure deployment and the model it serves)');
  return [...previous, [name, model]];
}

/**
 * `--tag key=value` (repeatable; `a=1,b=2` also works): collects the call's tags, sorted.
 * A bad tag, a key given twice or more than 8 tags is a usage error (exit 2).
 */
export function tagArg(value: string, previous: string[] = []): string[] {
  try {
    return parseTagList([...previous, value], '--tag');
  } catch (e) {
    if (e instanceof NoburnValidationError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** `budget set --tag key=value`: the one tag a cap applies to. */
export function oneTagArg(value: string): string {
  try {
    return parseTag(value, '--tag');
  } catch (e) {
    if (e instanceof NoburnValidationError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** `spend --by`: user, run, model, day or tag:KEY. */
export function spendByArg(value: string): SpendGroupBy {
  if ((SPEND_GROUPS as readonly string[]).includes(value)) return value as SpendGroupBy;
  if (value.startsWith('tag:')) {
    try {
      tagGroupKey(value);
      return value as SpendGroupBy;
    } catch (e) {
      if (e instanceof NoburnValidationError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  }
  throw new InvalidArgumentError(`must be one of ${SPEND_GROUPS.join(', ')} or tag:KEY`);
}
