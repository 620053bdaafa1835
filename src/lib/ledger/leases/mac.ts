import { nodeCrypto } from '../../lazy-crypto.js';

/**
 * The MAC of a leased approval: the first 16 hex of md5(secret.body). The lease manager
 * signs reservation ids with it and the stores' settle checks it (PostgreSQL's
 * nb_lease_settle computes the same). One-shot `hash`: no Hash object per approval.
 */
export function leaseMac(secret: string, body: string): string {
  return nodeCrypto().hash('md5', `${secret}.${body}`).slice(0, 16);
}
