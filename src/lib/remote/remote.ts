import type { Authority } from '../authority/authority.js';
import type { NoburnConfig } from '../config.js';
import { NoburnConfigError } from '../errors.js';
import type { RecordSink } from '../record-queue.js';

/**
 * Remote mode (NOBURN_URL set): an HTTP authority and a durable outbox for records.
 * Placeholder until the shared-authority work lands; loaded lazily by the guard.
 */
export function createRemoteAuthority(_config: NoburnConfig, _opts: { now?: () => number }): Authority {
  throw new NoburnConfigError('remote mode (NOBURN_URL) is not available in this build');
}

export function createOutbox(_config: NoburnConfig, _authority: Authority, _onError: (e: unknown) => void): RecordSink {
  throw new NoburnConfigError('remote mode (NOBURN_URL) is not available in this build');
}
