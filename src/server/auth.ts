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
  /** The whole key as verified, compared in constant time with the presented one. */
  key: Buffer;
  hashHex: string;
  until: number;
  /** The insertion count when it was last put at the end of the LRU order. */
  tick: number;
}

/** The database link as auth needs it (db-link.ts): whether it is down, and whether an error says so. */
export interface OfflineLink {
  readonly down: boolean;
  failed(e: unknown): boolean;
}

/** Distinct keys the cache holds at most; past it the least recently used is dropped. */
export const AUTH_CACHE_KEYS = 10_000;

/**
 * Checks `Authorization: Bearer <key>` against the stored hashes. Keys are looked up by
 * their SHA-256 and the stored hash is compared with timingSafeEqual. A verified key is
 * cached for `cacheMs` (default 1 s) so that the hot path does not hit the store on every
 * request; a revocation made by another process (`noburn keys revoke`) therefore takes
 * effect within that time, one made through this server's API at once.
 *
 * The cache is keyed by the key's public id (so a lookup leaks nothing of the secret) and
 * holds the verified key itself: a cached key is matched by a constant-time compare, not
 * re-hashed, and an expired entry re-asks the store with the hash it already has. It is a
 * bounded LRU (Map order = use order), so many distinct keys churn only the coldest ones.
 * A hit moves its entry to the end only once half the bound has been inserted since it was
 * last moved (a Map delete + set costs about as much as the SHA-256 it saves): a key used
 * at least that often is never evicted.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();
  private tick = 0;

  constructor(
    private readonly keys: KeyStore,
    private readonly cacheMs = 1000,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = AUTH_CACHE_KEYS,
    private readonly link: OfflineLink | null = null,
  ) {}

  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.length < 8 || header.length > 512 || !/^bearer /i.test(header)) {
      throw new NoburnAuthError('missing or malformed Authorization header (expected: Bearer <key>)');
    }
    const key = header.slice(7).trim();
    const keyId = keyIdOf(key);
    if (keyId === null) throw new NoburnAuthError('invalid API key');
    const presented = Buffer.from(key, 'utf8');
    const hit = this.cache.get(keyId);
    // Same id means same length (the secret part has a fixed length), so the compare runs.
    const same = hit !== undefined && hit.key.length === presented.length && timingSafeEqual(hit.key, presented);
    if (same && hit.until > this.now()) {
      // Recently used goes last; the first entry is the one evicted.
      if (this.tick - hit.tick > this.maxKeys >> 1) {
        this.cache.delete(keyId);
        this.cache.set(keyId, hit);
        hit.tick = ++this.tick;
      }
      return hit.principal;
    }
    // While the database is unreachable a key this replica verified before stays valid
    // (nothing can revoke it meanwhile); a key never seen here cannot be verified (503).
    if (same && this.link?.down === true) return hit.principal;
    const hashHex = same ? hit.hashHex : hashKey(key);
    let row;
    try {
      row = await this.keys.findKeyByHash(hashHex);
    } catch (e) {
      if (same && this.link?.failed(e) === true) return hit.principal;
      throw e;
    }
    const hash = Buffer.from(hashHex, 'hex');
    const stored = row ? Buffer.from(row.hash, 'hex') : null;
    if (!row || !stored || stored.length !== hash.length || !timingSafeEqual(stored, hash) || row.id !== keyId) {
      if (same) this.cache.delete(keyId);
      throw new NoburnAuthError('invalid API key');
    }
    if (row.revokedAt !== null) {
      this.cache.delete(keyId);
      throw new NoburnAuthError('this API key has been revoked');
    }
    const principal: Principal = { keyId: row.id, projectId: row.projectId, role: row.role };
    this.cache.delete(keyId);
    this.cache.set(keyId, { principal, key: presented, hashHex, until: this.now() + this.cacheMs, tick: ++this.tick });
    if (this.cache.size > this.maxKeys) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    return principal;
  }

  /** Forgets a key at once (revoked through this server). */
  forget(keyId: string): void {
    this.cache.delete(keyId);
  }

  /** Keys cached now (for tests and the bound). */
  get size(): number {
    return this.cache.size;
  }
}

export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new NoburnForbiddenError('this needs an admin key');
}
