import { timingSafeEqual } from 'node:crypto';
import { NoburnAuthError, NoburnForbiddenError } from '../lib/errors.js';
import type { KeyRole, KeyStore } from '../lib/ledger/key-store.js';
import { hashKey, keyIdOf } from './keys.js';

/** Who is calling: the key's id, project and role (never the key itself). */
export interface Principal {
  keyId: string;
  projectId: string;
  role: KeyRole;
}

interface Cached {
  principal: Principal;
  hash: Buffer;
  until: number;
}

/**
 * Checks `Authorization: Bearer <key>` against the stored hashes. Keys are looked up by
 * their SHA-256 and the stored hash is compared with timingSafeEqual. A verified key is
 * cached for `cacheMs` (default 1 s) so that the hot path does not hit the store on every
 * request; a revocation made by another process (`noburn keys revoke`) therefore takes
 * effect within that time, one made through this server's API at once.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly keys: KeyStore,
    private readonly cacheMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.length < 8 || header.length > 512 || !/^bearer /i.test(header)) {
      throw new NoburnAuthError('missing or malformed Authorization header (expected: Bearer <key>)');
    }
    const key = header.slice(7).trim();
    const keyId = keyIdOf(key);
    if (keyId === null) throw new NoburnAuthError('invalid API key');
    const hashHex = hashKey(key);
    const hash = Buffer.from(hashHex, 'hex');
    const now = this.now();
    const hit = this.cache.get(hashHex);
    if (hit && hit.until > now && timingSafeEqual(hit.hash, hash)) return hit.principal;

    const row = await this.keys.findKeyByHash(hashHex);
    const stored = row ? Buffer.from(row.hash, 'hex') : null;
    if (!row || !stored || stored.length !== hash.length || !timingSafeEqual(stored, hash) || row.id !== keyId) {
      throw new NoburnAuthError('invalid API key');
    }
    if (row.revokedAt !== null) {
      this.cache.delete(hashHex);
      throw new NoburnAuthError('this API key has been revoked');
    }
    const principal: Principal = { keyId: row.id, projectId: row.projectId, role: row.role };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hashHex, { principal, hash, until: now + this.cacheMs });
    return principal;
  }

  /** Forgets a key at once (revoked through this server). */
  forget(keyId: string): void {
    for (const [h, c] of this.cache) if (c.principal.keyId === keyId) this.cache.delete(h);
  }
}

export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new NoburnForbiddenError('this needs an admin key');
}
