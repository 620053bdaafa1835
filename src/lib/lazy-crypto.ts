import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';

let crypto: typeof Crypto | undefined;

/**
 * node:crypto, loaded on first use: loading it costs about 3 ms of start-up, and `noburn
 * check` never needs it (ids come from Math.random, leases and keys are other paths).
 */
export function nodeCrypto(): typeof Crypto {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return crypto;
}
