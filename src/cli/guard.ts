import { NoburnGuard } from '../lib/guard.js';

/** The CLI's guard: config from env and $NOBURN_HOME only (flags that change config are passed in). */
export function cliGuard(opts: { longLived?: boolean; onFallback?: (cause: unknown) => void } = {}): NoburnGuard {
  return new NoburnGuard({ onRecordError: () => {}, longLived: opts.longLived === true, ...(opts.onFallback ? { onFallback: opts.onFallback } : {}) });
}

/** Runs fn with a guard and always closes it (the ledger file handle, pending records). */
export async function withGuard<T>(fn: (g: NoburnGuard) => Promise<T>): Promise<T> {
  const g = cliGuard();
  try {
    return await fn(g);
  } finally {
    await g.close();
  }
}
