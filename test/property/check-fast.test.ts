/**
 * The check body's fast path (src/lib/wire/check-fast.ts) agrees with the zod schema
 * (CheckBody) on random bodies near the valid shape, each sent through JSON as on the wire:
 * it accepts exactly the bodies zod accepts, and what it returns equals zod's output. (So
 * removing any one of its hand checks makes it accept a body zod refuses, or refuse one
 * zod accepts.) Rerun a failure with FC_SEED=<seed> FC_PATH=<path>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TOKENS } from '../../src/lib/validate.js';
import { fastCheckBody } from '../../src/lib/wire/check-fast.js';
import { CheckBody } from '../../src/lib/wire/schemas.js';

const replay = process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']), path: process.env['FC_PATH'] } : {};

/** Values of every JSON type, with the edges of each rule: lengths, control and surrogate characters, bounds. */
const strings = fc.oneof(
  fc.constantFrom('', 'm', 'gpt-4o', 'a'.repeat(256), 'a'.repeat(257), 'tab\there', 'del\u007f', 'lone\ud800', 'pair\ud83d\ude00', 'nl\n', 'exact', 'tokenizer', 'EXACT'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const numbers = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 1.5, MAX_TOKENS, MAX_TOKENS + 1, 2 ** 53, 1e300),
  fc.integer({ min: -10, max: MAX_TOKENS + 10 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const scalars = fc.oneof(strings, numbers, fc.boolean(), fc.constant(null));
const tags = fc.oneof(
  fc.dictionary(fc.constantFrom('feature', 'team', 'a', ''), fc.oneof({ weight: 4, arbitrary: strings }, scalars), { maxKeys: 3 }),
  fc.array(strings, { maxLength: 2 }),
  scalars,
);
const anyValue = fc.oneof({ weight: 3, arbitrary: scalars }, { weight: 1, arbitrary: tags });

/** Each field: absent, its valid kind (often), or any JSON value. */
const field = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 12, arbitrary: valid }, { weight: 1, arbitrary: anyValue });
/** A required field: rarely absent or wrong, so that many bodies get past it. */
const required = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 24, arbitrary: valid }, { weight: 1, arbitrary: anyValue });
const ids = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('gpt-4o', 'u1', 'run_1') }, strings);
const tokens = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 5000 }) }, numbers);

const body = fc
  .record({
    model: required(ids),
    estimatedTokensIn: required(tokens),
    estimatedTokensOut: required(tokens),
    endUserId: field(fc.option(ids)),
    runId: field(fc.option(ids)),
    clamp: field(fc.option(fc.boolean())),
    minTokensOut: field(fc.option(tokens)),
    provider: field(fc.option(ids)),
    tokensInSource: field(fc.option(fc.constantFrom('exact', 'tokenizer'))),
    tags: field(fc.option(tags)),
    // A misspelt field: strict objects refuse it.
    endUserID: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: scalars }),
  })
  .map((o) => JSON.parse(JSON.stringify(o)) as unknown);

const top = fc.oneof({ weight: 8, arbitrary: body }, { weight: 1, arbitrary: fc.oneof(scalars, fc.array(body, { maxLength: 1 })) });

describe('check body fast path vs zod', () => {
  it('accepts exactly what zod accepts, and returns what zod returns', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(top, (b) => {
        const fast = fastCheckBody(b);
        const slow = CheckBody.safeParse(b);
        expect(fast !== null).toBe(slow.success);
        if (slow.success) {
          expect(fast).toEqual(slow.data);
          accepted++;
        } else {
          refused++;
        }
      }),
      { numRuns: 3000, ...replay },
    );
    // The generator must reach both sides, or the property says nothing.
    expect(accepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });
});
