import type { Authority } from '../authority/authority.js';
import type { NoburnConfig } from '../config.js';
import { NoburnConfigError } from '../errors.js';
import type { OutboxWarning, RecordErrorHandler } from '../record-queue.js';
import type { Outbox } from './outbox.js';
import { RemoteAuthority } from './remote-authority.js';

/**
 * Remote mode (NOBURN_URL set), loaded lazily by the guard: an HTTP authority and the
 * durable outbox for records. undici and the outbox code load only here.
 */
export function createRemoteAuthority(
  config: NoburnConfig,
  opts: { now?: () => number; onError?: (e: unknown) => void; onRecordError?: RecordErrorHandler; onWarning?: (w: OutboxWarning) => void } = {},
): Authority {
  if (!config.url) throw new NoburnConfigError('remote mode needs NOBURN_URL');
  return new RemoteAuthority(config, opts);
}

export function createOutbox(
  _config: NoburnConfig,
  authority: Authority,
  onError: RecordErrorHandler,
  onWarning?: (w: OutboxWarning) => void,
  onDelivered?: (reservationIds: readonly (string | null | undefined)[]) => void,
): Outbox {
  if (!(authority instanceof RemoteAuthority)) throw new NoburnConfigError('the outbox needs the remote authority');
  return authority.outbox(onError, onWarning, onDelivered);
}

/** Queues the end of a run for when the server answers again (throws NoburnStoreError when it cannot be kept). */
export function queueEndRun(authority: Authority, runId: string): void {
  if (!(authority instanceof RemoteAuthority)) throw new NoburnConfigError('queueing a run end needs the remote authority');
  authority.queueEndRun(runId);
}
