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
  /**
   * Writes a chunk of a long export on stdout as is, and resolves once stdout can take more
   * (backpressure: an export never queues more than one chunk in memory). Rejects with the
   * stream's error (EPIPE when the reader went away).
   */
  write(chunk: string): Promise<void>;
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
    write: streamWriter(process.stdout),
    color,
  };
}

/**
 * write() for a stream: resolves at once while the stream takes data, else on 'drain'.
 * Its error listener is added on first use only (other commands keep Node's default).
 */
export function streamWriter(stream: NodeJS.WritableStream): (chunk: string) => Promise<void> {
  let failed: Error | null = null;
  let pending: { resolve: () => void; reject: (e: Error) => void } | null = null;
  let listening = false;
  return (chunk) => {
    if (!listening) {
      listening = true;
      stream.on('error', (e: Error) => {
        failed = e;
        pending?.reject(e);
        pending = null;
      });
    }
    if (failed) return Promise.reject(failed);
    if (stream.write(chunk)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      pending = { resolve, reject };
      stream.once('drain', () => {
        pending = null;
        resolve();
      });
    });
  };
}

/** NO_COLOR wins, then FORCE_COLOR, then whether stdout is a terminal. */
export function wantsColor(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force !== 'false';
  return isTTY;
}
