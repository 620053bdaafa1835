/**
 * Structured logs: one JSON object per line on stderr. Callers pass only safe fields
 * (method, route, status, key id, project); the Authorization header, request bodies
 * (prompts never reach the server, but model names, user ids and labels do) and keys are
 * never logged. Successful requests are logged at "debug" only: at thousands of checks
 * per second a line each would cost more than the check itself.
 */
import type { LogLevel } from '../lib/config.js';
import { redactSecrets } from '../lib/redact.js';

export type { LogLevel } from '../lib/config.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, msg: string, fields?: LogFields): void;
}

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => void process.stderr.write(l)): Logger {
  const min = ORDER[level];
  return {
    level,
    enabled: (l) => ORDER[l] >= min,
    log(l, msg, fields) {
      if (ORDER[l] < min) return;
      // Redacted as a whole line: a URL with a password in any field never reaches the log.
      write(redactSecrets(JSON.stringify({ ts: new Date().toISOString(), level: l, msg, ...fields })) + '\n');
    },
  };
}

export const silentLogger: Logger = { level: 'error', enabled: () => false, log: () => {} };
