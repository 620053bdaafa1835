/** The options of NoburnGuard, and the shape of the calls its warm-up rehearses. */
import type { Authority, AuthorityWarning } from './authority/authority.js';
import type { ConfigOverrides } from './config.js';

export interface GuardOptions extends ConfigOverrides {
  /** Injected clock (ms since epoch), for tests. */
  now?: () => number;
  /** Use this authority instead of the one the config names. */
  authority?: Authority;
  /**
   * Called when a record fails: `info.rejected` > 0 when the record will never count
   * (invalid, refused by the server, could not be kept), absent when delivery is only
   * delayed (retried). record() itself never throws. Without it, each kind of rejection
   * raises one process warning (process.emitWarning), so nothing is dropped silently.
   */
  onRecordError?: (err: unknown, info?: { rejected: number }) => void;
  /** Remote mode: queued records wait for another server or project (default: one process warning each). */
  onWarning?: (w: AuthorityWarning) => void;
  /**
   * This process keeps the guard for a long time (a server, a worker, `noburn run`): the
   * ledger's WAL is then checkpointed on a timer between calls instead of inside a commit,
   * which removes a few-millisecond stall from the tail latency. Leave it off for
   * short-lived processes (their timer would never fire).
   */
  longLived?: boolean;
  /**
   * Embedded mode: deliver the project's fired alerts in the background when config names
   * alerts.webhook or alerts.command (default true; its timer never keeps the process
   * alive). Short-lived processes (the CLI's one-shot commands) turn it off.
   */
  deliverAlerts?: boolean;
  /** Environment to read NOBURN_* from (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Called when a check is decided without the authority (source "fallback") after one
   * that was not: once per outage, with the reason (`noburn run` warns on stderr with it).
   */
  onFallback?: (cause: unknown) => void;
}

/** What the calls a warm-up rehearses look like (guard.warmUp). */
export interface WarmUpShape {
  endUserId?: string | null | undefined;
  provider?: string | undefined;
  tags?: Readonly<Record<string, string>> | undefined;
}
