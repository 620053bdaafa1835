import type { NoburnGuard } from '../../lib/guard.js';
import type { Alert } from '../../lib/types.js';
import { usd } from '../format.js';

/**
 * `noburn run --alert-at`: a line on stderr for each alert of its own run's cap, as it fires
 * (polled from the ledger, off the proxy's path) and once more after the run ends so that
 * an alert fired by the last records is not missed.
 */
const POLL_MS = 500;

export function alertLine(a: Alert): string {
  return `noburn: run ${a.subject ?? ''} reached ${a.threshold}% of its ${usd(a.capUsd, 2)} cap (${usd(a.spentUsd, 2)} spent)`;
}

export interface AlertLines {
  /** Prints what fired since the last look; resolves when printed (errors are skipped: the next look retries). */
  drain(): Promise<void>;
  stop(): void;
}

export function watchRunAlerts(guard: NoburnGuard, runId: string, print: (line: string) => void): AlertLines {
  let after = 0;
  let busy: Promise<void> | null = null;
  const drain = (): Promise<void> => {
    busy ??= guard
      .alerts({ runId, afterSeq: after })
      .then(
        (list) => {
          for (const a of list) {
            after = Math.max(after, a.seq);
            print(alertLine(a));
          }
        },
        () => undefined,
      )
      .finally(() => {
        busy = null;
      });
    return busy;
  };
  const timer = setInterval(() => void drain(), POLL_MS);
  timer.unref();
  return { drain, stop: () => clearInterval(timer) };
}
