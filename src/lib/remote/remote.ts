import type { Authority, AuthorityHooks } from '../authority/authority.js';
import type { NoburnConfig } from '../config.js';
import { NoburnConfigError } from '../errors.js';
import { RemoteAuthority } from './remote-authority.js';

/**
 * Remote mode (NOBURN_URL set), loaded lazily by the guard: an HTTP authority with its
 * durable outbox for records. undici and the outbox code load only here.
 */
export function createRemoteAuthority(config: NoburnConfig, hooks: AuthorityHooks = {}): Authority {
  if (!config.url) throw new NoburnConfigError('remote mode needs NOBURN_URL');
  return new RemoteAuthority(config, hooks);
}
