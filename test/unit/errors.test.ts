import { describe, expect, it } from 'vitest';
import { NoburnAuthError, NoburnError, NoburnTimeoutError, NoburnValidationError, isNoburnError } from '../../src/lib/errors.js';

describe('NoburnError', () => {
  it('carries a stable code and a readable name', () => {
    const e = new NoburnAuthError('bad key');
    expect(e.code).toBe('NOBURN_AUTH');
    expect(e.name).toBe('NoburnAuthError');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(NoburnError);
    expect(e).toBeInstanceOf(NoburnAuthError);
    expect(e).not.toBeInstanceOf(NoburnTimeoutError);
  });

  it('instanceof works for an error made by another copy of the module (other bundle or version)', () => {
    // What a second copy of errors.ts produces: a different class, the same global brand.
    class OtherCopy extends Error {
      readonly code = 'NOBURN_VALIDATION';
    }
    const foreign = Object.assign(new OtherCopy('negative tokens'), { [Symbol.for('noburn.error')]: true });
    expect(foreign instanceof NoburnError).toBe(true);
    expect(foreign instanceof NoburnValidationError).toBe(true);
    expect(foreign instanceof NoburnAuthError).toBe(false);
    expect(isNoburnError(foreign)).toBe(true);
    expect(isNoburnError(new Error('plain'))).toBe(false);
    expect(isNoburnError({ code: 'NOBURN_AUTH' })).toBe(false);
  });
});

describe('NoburnForbiddenError', () => {
  it('is an authentication failure to callers that catch NoburnAuthError (check() may only throw Auth or Validation)', async () => {
    const { NoburnForbiddenError } = await import('../../src/lib/errors.js');
    const e = new NoburnForbiddenError('wrong project');
    expect(e.code).toBe('NOBURN_FORBIDDEN');
    expect(e instanceof NoburnAuthError).toBe(true);
    expect(new NoburnAuthError() instanceof NoburnForbiddenError).toBe(false);
  });
});
