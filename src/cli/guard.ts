import { NoburnGuard } from '../lib/guard.js';
import { redactSecrets } from '../lib/redact.js';
import type { LedgerWarning } from '../lib/authority/local-authority.js';
import type { OutboxWarning } from '../lib/record-queue.js';

/** The CLI's guard: config from env and $NOBURN_HOME only (flags that change config are passed in). */
export function cliGuard(opts: { longLived?: boolean; onFallback?: (cause: unknown) => void } = {}): NoburnGuard {
  // Queued records waiting for another server or project: said once on stderr (the CLI's
  // own records fail loudly through recordNow; background ones are in the outbox).
  const onWarning = (w: OutboxWarning | LedgerWarning) => void process.stderr.write(`noburn: warning: ${redactSecrets(w.message)}\n`);
  return new NoburnGuard({ onRecordError: () => {}, onWarning, longLived: opts.longLived === true, deliverAlerts: opts.longLived === true, ...(opts.onFallback ? { onFallback: opts.onFallback } : {}) });
}

/** Runs fn with a guard and always closes it (the ledger file handle, pending records). */
export async function withGuard<T>(fn: (g: NoburnGuard) => Promise<T>, opts: { onFallback?: (cause: unknown) => void } = {}): Promise<T> {
  const g = cliGuard(opts);
  try {
    return await fn(g);
  } finally {
    await g.close();
  }
}
