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

/** Maps a library error code to the CLI exit code, in one place. */
export function exitCodeFor(code: NoburnErrorCode): number {
  switch (code) {
    case 'NOBURN_VALIDATION':
    case 'NOBURN_CONFIG':
      return ExitCodes.USAGE;
    case 'NOBURN_AUTH':
    case 'NOBURN_FORBIDDEN':
      return ExitCodes.AUTH;
    case 'NOBURN_TIMEOUT':
    case 'NOBURN_UNREACHABLE':
    case 'NOBURN_STORE':
      // the ledger file is the embedded authority: not being able to open or write it
      // is the local form of "authority unreachable"
      return ExitCodes.UNREACHABLE;
    case 'NOBURN_NOT_FOUND':
      return ExitCodes.NOT_FOUND;
    case 'NOBURN_CONFLICT':
      return ExitCodes.CONFLICT;
    case 'NOBURN_BLOCKED':
      return ExitCodes.BLOCKED;
    case 'NOBURN_CLOSED':
    case 'NOBURN_INTERNAL':
      return ExitCodes.INTERNAL;
  }
}
