/**
 * Every error the library throws extends NoburnError and carries a stable `code`.
 * The CLI maps codes to exit codes in one place (src/cli/exit-codes.ts); the server maps
 * them to HTTP statuses by the wire-error table (src/lib/wire/errors.ts).
 */
import { redactSecrets } from './redact.js';
import type { BlockReason, Decision, DecisionLimit } from './types.js';

export type NoburnErrorCode =
  | 'NOBURN_VALIDATION'
  | 'NOBURN_CONFIG'
  | 'NOBURN_AUTH'
  | 'NOBURN_FORBIDDEN'
  | 'NOBURN_TIMEOUT'
  | 'NOBURN_UNREACHABLE'
  | 'NOBURN_NOT_FOUND'
  | 'NOBURN_CONFLICT'
  | 'NOBURN_STORE'
  | 'NOBURN_BLOCKED'
  | 'NOBURN_CLOSED'
  | 'NOBURN_INTERNAL';

// A registry-wide brand: `instanceof` then works across copies of this module (two
// installed versions of noburn, or the CLI's separately bundled commands), where class
// identity would not.
const BRAND = Symbol.for('noburn.error');

const NAMES: Record<NoburnErrorCode, string> = {
  NOBURN_VALIDATION: 'NoburnValidationError',
  NOBURN_CONFIG: 'NoburnConfigError',
  NOBURN_AUTH: 'NoburnAuthError',
  NOBURN_FORBIDDEN: 'NoburnForbiddenError',
  NOBURN_TIMEOUT: 'NoburnTimeoutError',
  NOBURN_UNREACHABLE: 'NoburnUnreachableError',
  NOBURN_NOT_FOUND: 'NoburnNotFoundError',
  NOBURN_CONFLICT: 'NoburnConflictError',
  NOBURN_STORE: 'NoburnStoreError',
  NOBURN_BLOCKED: 'NoburnBlockedError',
  NOBURN_CLOSED: 'NoburnClosedError',
  NOBURN_INTERNAL: 'NoburnError',
};

export class NoburnError extends Error {
  /** The code every instance of a subclass carries; undefined on the base class. */
  static readonly errorCode: NoburnErrorCode | undefined = undefined;
  readonly code: NoburnErrorCode;
  readonly [BRAND] = true;

  constructor(code: NoburnErrorCode, message: string, options?: { cause?: unknown }) {
    // Every message passes through the one redaction helper: a NOBURN_URL or store URL
    // with a password never reaches a terminal or a log through an error.
    super(redactSecrets(message), options);
    this.name = NAMES[code];
    this.code = code;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true) return false;
    const want = this.errorCode;
    if (want === undefined) return true;
    const code = (value as NoburnError).code;
    // A forbidden key (valid, wrong role or project) is an authentication failure too.
    return code === want || (want === 'NOBURN_AUTH' && code === 'NOBURN_FORBIDDEN');
  }
}

type CauseOptions = { cause?: unknown };

/**
 * The class of one code, as `coded()` makes it: `new X(message, options?)` (the message may
 * be left out where the code has a default one), `X.errorCode`, and an `instanceof` that
 * tests the code, so it holds across copies of this module.
 */
export interface CodedErrorClass<C extends NoburnErrorCode, Args extends unknown[]> {
  new (...args: Args): NoburnError & { readonly code: C };
  readonly prototype: NoburnError & { readonly code: C };
  readonly errorCode: C;
  [Symbol.hasInstance](value: unknown): boolean;
}

function coded<C extends NoburnErrorCode>(code: C): CodedErrorClass<C, [message: string, options?: CauseOptions]>;
function coded<C extends NoburnErrorCode>(code: C, byDefault: string): CodedErrorClass<C, [message?: string, options?: CauseOptions]>;
function coded<C extends NoburnErrorCode>(code: C, byDefault = ''): CodedErrorClass<C, [message?: string, options?: CauseOptions]> {
  const cls = class extends NoburnError {
    static override readonly errorCode: C = code;
    constructor(message = byDefault, options?: CauseOptions) {
      super(code, message, options);
    }
  };
  // The class reads as its error's name in stacks and in the REPL.
  Object.defineProperty(cls, 'name', { value: NAMES[code] });
  return cls as unknown as CodedErrorClass<C, [message?: string, options?: CauseOptions]>;
}

// One line a code; the type of the same name is its instances.
/** Bad arguments: negative tokens, bad money, unknown period... */
export const NoburnValidationError = coded('NOBURN_VALIDATION');
/** Unreadable or malformed configuration (config.json, env values, NOBURN_HOME). */
export const NoburnConfigError = coded('NOBURN_CONFIG');
/** The key was missing or not accepted (HTTP 401). */
export const NoburnAuthError = coded('NOBURN_AUTH', 'authentication failed');
/** The key is valid but may not do this (wrong role or project, HTTP 403). `instanceof NoburnAuthError` holds for it. */
export const NoburnForbiddenError = coded('NOBURN_FORBIDDEN', 'forbidden');
export const NoburnTimeoutError = coded('NOBURN_TIMEOUT', 'the noburn authority did not answer in time');
export const NoburnUnreachableError = coded('NOBURN_UNREACHABLE', 'the noburn authority cannot be reached');
export const NoburnNotFoundError = coded('NOBURN_NOT_FOUND');
export const NoburnConflictError = coded('NOBURN_CONFLICT');
/** The ledger could not be opened or written (unwritable file, corrupt database). */
export const NoburnStoreError = coded('NOBURN_STORE');
/** The guard was closed: check() and the other calls refuse (never a silent fail-open). */
export const NoburnClosedError = coded('NOBURN_CLOSED', 'this NoburnGuard is closed (close() was called): create a new one');

export type NoburnValidationError = InstanceType<typeof NoburnValidationError>;
export type NoburnConfigError = InstanceType<typeof NoburnConfigError>;
export type NoburnAuthError = InstanceType<typeof NoburnAuthError>;
export type NoburnForbiddenError = InstanceType<typeof NoburnForbiddenError>;
export type NoburnTimeoutError = InstanceType<typeof NoburnTimeoutError>;
export type NoburnUnreachableError = InstanceType<typeof NoburnUnreachableError>;
export type NoburnNotFoundError = InstanceType<typeof NoburnNotFoundError>;
export type NoburnConflictError = InstanceType<typeof NoburnConflictError>;
export type NoburnStoreError = InstanceType<typeof NoburnStoreError>;
export type NoburnClosedError = InstanceType<typeof NoburnClosedError>;

/**
 * The ledger was written by a newer noburn (its schema version is higher than this build
 * knows): it is refused rather than used, since its rules may be ones this build cannot
 * enforce. A NoburnStoreError (exit 4, HTTP 503); `instanceof NoburnLedgerVersionError`
 * tells it apart from other store errors.
 */
export class NoburnLedgerVersionError extends NoburnStoreError {
  readonly foundVersion: number;
  readonly knownVersion: number;
  constructor(
    readonly ledger: string,
    foundVersion: number,
    knownVersion: number,
  ) {
    super(`the ledger ${ledger} has schema version ${foundVersion}, newer than this noburn knows (${knownVersion}): upgrade noburn`);
    this.foundVersion = foundVersion;
    this.knownVersion = knownVersion;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NoburnStoreError && typeof (value as { foundVersion?: unknown }).foundVersion === 'number';
  }
}

/**
 * A call was refused by a cap (or by the fallback's rules): thrown by `guard.assert()`
 * and the AI SDK middleware. Carries the decision with its figures, so a handler can tell
 * the end user which cap, how much is left, and what would fit.
 */
export class NoburnBlockedError extends NoburnError {
  static override readonly errorCode = 'NOBURN_BLOCKED' as const;
  /** The refused decision, whole (its estimate split, remaining, maxTokensOut...). */
  readonly decision: Decision;
  readonly reason: BlockReason | null;
  /** The estimate of the refused call, USD. */
  readonly estimatedCostUsd: number;
  /** The cap that refused it (scope, cap, spent, held, left), when a cap did. */
  readonly limit: DecisionLimit | null;
  /** What to change when the output bound is what does not fit, e.g. "set max_tokens <= 1234". */
  readonly hint: string | null;
  constructor(decision: Decision, options?: { cause?: unknown }) {
    super('NOBURN_BLOCKED', blockedMessage(decision), options);
    this.decision = decision;
    this.reason = decision.blockReason;
    this.estimatedCostUsd = decision.estimatedCostUsd;
    this.limit = decision.limit ?? null;
    this.hint = decision.hint ?? null;
  }
}

const usd = (v: number): string => `$${v.toFixed(6)}`;

/** One line with the figures: which cap, its spend and holds, the room left, the estimate, the hint. */
function blockedMessage(d: Decision): string {
  const parts: string[] = [];
  const l = d.limit;
  if (l) parts.push(`${l.scope} cap ${usd(l.capUsd)}, spent ${usd(l.spentUsd)}, held ${usd(l.heldUsd)}, left ${usd(l.leftUsd)}`);
  else {
    const left = Object.entries(d.remaining).map(([k, v]) => `${k.replace(/Usd$/, '')} ${usd(v as number)} left`);
    if (left.length > 0) parts.push(left.join(', '));
  }
  const split = d.estimate ? ` (input ${usd(d.estimate.inputUsd)}, output ${usd(d.estimate.outputUsd)})` : '';
  parts.push(`estimate ${usd(d.estimatedCostUsd)}${split}`);
  if (d.hint) parts.push(d.hint);
  return `blocked by noburn: ${d.blockReason ?? 'blocked'}: ${parts.join('; ')}`;
}

export function isNoburnError(e: unknown): e is NoburnError {
  return e instanceof NoburnError;
}
