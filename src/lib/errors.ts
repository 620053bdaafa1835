/**
 * Every error the library throws extends NoburnError and carries a stable `code`.
 * The CLI maps codes to exit codes in one place (src/cli/exit-codes.ts); the server maps
 * them to HTTP statuses (src/server/errors.ts).
 */
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
  | 'NOBURN_INTERNAL';

export class NoburnError extends Error {
  readonly code: NoburnErrorCode;
  constructor(code: NoburnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad arguments: negative tokens, bad money, unknown period... */
export class NoburnValidationError extends NoburnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOBURN_VALIDATION', message, options);
  }
}

/** Unreadable or malformed configuration (config.json, env values, NOBURN_HOME). */
export class NoburnConfigError extends NoburnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOBURN_CONFIG', message, options);
  }
}

/** The key was missing or not accepted (HTTP 401). */
export class NoburnAuthError extends NoburnError {
  constructor(message = 'authentication failed', options?: { cause?: unknown }) {
    super('NOBURN_AUTH', message, options);
  }
}

/** The key is valid but may not do this (wrong role or project, HTTP 403). */
export class NoburnForbiddenError extends NoburnError {
  constructor(message = 'forbidden', options?: { cause?: unknown }) {
    super('NOBURN_FORBIDDEN', message, options);
  }
}

export class NoburnTimeoutError extends NoburnError {
  constructor(message = 'the noburn authority did not answer in time', options?: { cause?: unknown }) {
    super('NOBURN_TIMEOUT', message, options);
  }
}

export class NoburnUnreachableError extends NoburnError {
  constructor(message = 'the noburn authority cannot be reached', options?: { cause?: unknown }) {
    super('NOBURN_UNREACHABLE', message, options);
  }
}

export class NoburnNotFoundError extends NoburnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOBURN_NOT_FOUND', message, options);
  }
}

export class NoburnConflictError extends NoburnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOBURN_CONFLICT', message, options);
  }
}

/** The ledger could not be opened or written (unwritable file, corrupt database). */
export class NoburnStoreError extends NoburnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOBURN_STORE', message, options);
  }
}

export function isNoburnError(e: unknown): e is NoburnError {
  return e instanceof NoburnError;
}
