import type { NoburnErrorCode } from '../lib/errors.js';

/** The one table of exit codes (contract §5, docs/cli.md). */
export const ExitCodes = {
  OK: 0,
  BLOCKED: 1,
  USAGE: 2,
  AUTH: 3,
  UNREACHABLE: 4,
  NOT_FOUND: 5,
  CONFLICT: 6,
  INTERNAL: 70,
  /** `noburn run --stop-on-exhaust`: the child was stopped because the run cap was reached. */
  EXHAUSTED: 124,
  /** `noburn run -- CMD`: CMD exists but cannot be executed (as in shells). */
  COMMAND_NOT_EXECUTABLE: 126,
  /** `noburn run -- CMD`: CMD was not found (as in shells). */
  COMMAND_NOT_FOUND: 127,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes] | number;

/**
 * The exit code of every library error code, in one place (a Record, so the compiler keeps
 * it complete). NOBURN_STORE: the ledger file is the embedded authority, so not being able
 * to open or write it is the local form of "authority unreachable".
 */
export const EXIT_CODE_OF_ERROR: Readonly<Record<NoburnErrorCode, number>> = {
  NOBURN_VALIDATION: ExitCodes.USAGE,
  NOBURN_CONFIG: ExitCodes.USAGE,
  NOBURN_AUTH: ExitCodes.AUTH,
  NOBURN_FORBIDDEN: ExitCodes.AUTH,
  NOBURN_TIMEOUT: ExitCodes.UNREACHABLE,
  NOBURN_UNREACHABLE: ExitCodes.UNREACHABLE,
  NOBURN_STORE: ExitCodes.UNREACHABLE,
  NOBURN_NOT_FOUND: ExitCodes.NOT_FOUND,
  NOBURN_CONFLICT: ExitCodes.CONFLICT,
  NOBURN_BLOCKED: ExitCodes.BLOCKED,
  NOBURN_CLOSED: ExitCodes.INTERNAL,
  NOBURN_INTERNAL: ExitCodes.INTERNAL,
};

/** Maps a library error code to the CLI exit code. */
export function exitCodeFor(code: NoburnErrorCode): number {
  return EXIT_CODE_OF_ERROR[code];
}

/** Whether a string is one of the library's error codes (whichever copy of the library made it). */
export function isErrorCode(code: unknown): code is NoburnErrorCode {
  return typeof code === 'string' && Object.hasOwn(EXIT_CODE_OF_ERROR, code);
}
