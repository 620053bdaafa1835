import { redactSecrets } from '../lib/redact.js';

/**
 * Where CLI output goes. `--json` keeps stdout for data only; every message goes to stderr.
 * Commands receive an Output so tests can capture it; the entry point passes process streams.
 */
export interface Output {
  /** Data for stdout (one line or a block). */
  out(text: string): void;
  /** A message for stderr. */
  err(text: string): void;
  /** Prints a JSON document on stdout. */
  json(value: unknown): void;
  readonly color: boolean;
}

export function processOutput(): Output {
  const color = wantsColor(process.env, process.stdout.isTTY === true);
  return {
    out: (t) => void process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    // Every message passes the one redaction helper (a URL's password never reaches a terminal).
    err: (t) => {
      const r = redactSecrets(t);
      process.stderr.write(r.endsWith('\n') ? r : r + '\n');
    },
    json: (v) => void process.stdout.write(JSON.stringify(v, null, 2) + '\n'),
    color,
  };
}

/** NO_COLOR wins, then FORCE_COLOR, then whether stdout is a terminal. */
export function wantsColor(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force !== 'false';
  return isTTY;
}
