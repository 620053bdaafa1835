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

describe('NoburnBlockedError and guard.assert()', () => {
  it('assert() returns an allowed decision and throws NoburnBlockedError, with the figures, for a blocked one', async () => {
    const { NoburnBlockedError } = await import('../../src/lib/errors.js');
    const { NoburnGuard } = await import('../../src/lib/guard.js');
    const guard = new NoburnGuard({ env: {}, home: '/nonexistent-never-opened' });
    const allowed = {
      blocked: false, blockReason: null, estimatedCostUsd: 0.01, reservationId: 'res_x', remaining: {}, source: 'ledger' as const, unpriced: false,
      tokensIn: 1000, tokensOut: 100, clamped: false, estimate: { inputUsd: 0.008, outputUsd: 0.002 }, limit: null, maxTokensOut: null, hint: null,
    };
    expect(guard.assert(allowed)).toBe(allowed);
    const limit = { scope: 'user' as const, capUsd: 1, spentUsd: 0.99, heldUsd: 0.008, leftUsd: 0.002 };
    const blocked = { ...allowed, blocked: true, blockReason: 'user_budget_exceeded' as const, reservationId: null, remaining: { userUsd: 0.002 }, limit, maxTokensOut: 0, hint: 'shorten the prompt' };
    let caught: unknown = null;
    try {
      guard.assert(blocked);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NoburnBlockedError);
    expect(caught).toBeInstanceOf(NoburnError);
    const e = caught as InstanceType<typeof NoburnBlockedError>;
    expect(e.code).toBe('NOBURN_BLOCKED');
    expect(e.name).toBe('NoburnBlockedError');
    expect(e.decision).toBe(blocked);
    expect(e.reason).toBe('user_budget_exceeded');
    expect(e.message).toContain('user_budget_exceeded');
    expect(e.limit).toEqual(limit);
    expect(e.hint).toBe('shorten the prompt');
    expect(e.message).toBe(
      'blocked by noburn: user_budget_exceeded: user cap $1.000000, spent $0.990000, held $0.008000, left $0.002000; estimate $0.010000 (input $0.008000, output $0.002000); shorten the prompt',
    );
  });
});

describe('the classes made from one line a code', () => {
  it('each has its code, name, default message (where it has one) and an instanceof that tests only its code', async () => {
    const E = await import('../../src/lib/errors.js');
    const classes = [
      [E.NoburnValidationError, 'NOBURN_VALIDATION', 'NoburnValidationError'],
      [E.NoburnConfigError, 'NOBURN_CONFIG', 'NoburnConfigError'],
      [E.NoburnAuthError, 'NOBURN_AUTH', 'NoburnAuthError'],
      [E.NoburnForbiddenError, 'NOBURN_FORBIDDEN', 'NoburnForbiddenError'],
      [E.NoburnTimeoutError, 'NOBURN_TIMEOUT', 'NoburnTimeoutError'],
      [E.NoburnUnreachableError, 'NOBURN_UNREACHABLE', 'NoburnUnreachableError'],
      [E.NoburnNotFoundError, 'NOBURN_NOT_FOUND', 'NoburnNotFoundError'],
      [E.NoburnConflictError, 'NOBURN_CONFLICT', 'NoburnConflictError'],
      [E.NoburnStoreError, 'NOBURN_STORE', 'NoburnStoreError'],
      [E.NoburnClosedError, 'NOBURN_CLOSED', 'NoburnClosedError'],
    ] as const;
    for (const [cls, code, name] of classes) {
      const cause = new Error('below');
      const e = new cls('why', { cause });
      expect(cls.errorCode).toBe(code);
      expect(cls.name).toBe(name);
      expect(e).toMatchObject({ code, name, message: 'why', cause });
      expect(e).toBeInstanceOf(Error);
      expect(e.stack).toContain(name);
      for (const [other, otherCode] of classes) {
        const expected = other === cls || (otherCode === 'NOBURN_AUTH' && code === 'NOBURN_FORBIDDEN');
        expect(e instanceof other, `${name} instanceof ${other.name}`).toBe(expected);
      }
    }
    expect(new E.NoburnAuthError().message).toBe('authentication failed');
    expect(new E.NoburnUnreachableError().message).toBe('the noburn authority cannot be reached');
    expect(new E.NoburnClosedError().message).toMatch(/closed/);
    // A subclass of a made class is still one of its code.
    const v = new E.NoburnLedgerVersionError('/x.db', 9, 3);
    expect(v).toBeInstanceOf(E.NoburnStoreError);
    expect(v).toBeInstanceOf(E.NoburnLedgerVersionError);
    expect(new E.NoburnStoreError('x')).not.toBeInstanceOf(E.NoburnLedgerVersionError);
    expect(v.code).toBe('NOBURN_STORE');
  });
});
