/**
 * Each command's options type is derived from its flag spec (src/cli/specs.ts), so that a
 * renamed flag cannot compile against a command still reading the old name. These checks
 * run in the typecheck (npm test): with a hand-written or index-signature type they fail.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { BudgetSetOptions, CheckOptions, KeysCreateOptions, RunExecOptions, ServeOptions, WatchOptions } from '../../src/cli/specs.js';
import type { Period } from '../../src/lib/periods.js';

describe('options types follow the flag specs', () => {
  it('a flag gives a property of its camel-cased name, typed by its parser, required only when the flag is', () => {
    expectTypeOf<CheckOptions['model']>().toEqualTypeOf<string>();
    expectTypeOf<CheckOptions['tokensOut']>().toEqualTypeOf<number>();
    expectTypeOf<CheckOptions['tokensIn']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<CheckOptions['minTokensOut']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<CheckOptions['clamp']>().toEqualTypeOf<true | undefined>();
    expectTypeOf<CheckOptions['json']>().toEqualTypeOf<true | undefined>();
  });

  it('a name no flag declares is not a property (so a rename breaks its uses)', () => {
    expectTypeOf<CheckOptions>().not.toHaveProperty('endUser');
    expectTypeOf<CheckOptions>().not.toHaveProperty('tokens');
    expectTypeOf<WatchOptions>().not.toHaveProperty('one');
    expectTypeOf<RunExecOptions>().not.toHaveProperty('noProxy');
  });

  it('--no-X flags, defaults, choices and repeatable flags have their run-time types', () => {
    expectTypeOf<RunExecOptions['proxy']>().toEqualTypeOf<boolean>();
    expectTypeOf<RunExecOptions['clamp']>().toEqualTypeOf<boolean>();
    expectTypeOf<RunExecOptions['azureDeployment']>().toEqualTypeOf<Array<[string, string]>>();
    expectTypeOf<BudgetSetOptions['period']>().toEqualTypeOf<Period>();
    expectTypeOf<KeysCreateOptions['role']>().toEqualTypeOf<'app' | 'admin'>();
    expectTypeOf<KeysCreateOptions['project']>().toEqualTypeOf<string>();
    expectTypeOf<ServeOptions['port']>().toEqualTypeOf<string>();
  });
});
