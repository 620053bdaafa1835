/**
 * The key cache of src/server/auth.ts over a real SQLite file: a verified key is trusted
 * for `cacheMs` without the store, a revocation by another process is honoured once that
 * time has passed, and the cache is a bounded LRU (more distinct keys than the bound still
 * work; a key in steady use is never pushed out by the churn of others).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { Authenticator } from '../../src/server/auth.js';
import { createApiKey } from '../../src/server/keys.js';

let dir: string;
let store: SqliteStore;
/** Hashes the authenticator asked the store for, in order. */
let lookups: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'noburn-auth-'));
  store = new SqliteStore(join(dir, 'keys.db'));
  lookups = [];
  const find = store.findKeyByHash.bind(store);
  store.findKeyByHash = (h: string) => {
    lookups.push(h);
    return find(h);
  };
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (k: string) => `Bearer ${k}`;

describe('Authenticator cache', () => {
  it('a key revoked by another process is refused once cacheMs has passed, not before', async () => {
    let t = 1_000_000;
    const auth = new Authenticator(store, 1000, () => t);
    const { key, row } = await createApiKey(store, { projectId: 'acme', role: 'app' });
    await expect(auth.authenticate(bearer(key))).resolves.toMatchObject({ keyId: row.id, projectId: 'acme' });
    // Another process revokes it in the shared file (this server is not told).
    await store.revokeKey(row.id, t);
    t += 999;
    await expect(auth.authenticate(bearer(key))).resolves.toMatchObject({ keyId: row.id });
    t += 1;
    await expect(auth.authenticate(bearer(key))).rejects.toThrow('this API key has been revoked');
    await expect(auth.authenticate(bearer(key))).rejects.toThrow('this API key has been revoked');
  });

  it('more distinct keys than the bound all work; the cache stays within the bound', async () => {
    const t = 5_000;
    const auth = new Authenticator(store, 60_000, () => t, 20);
    const keys = [];
    for (let i = 0; i < 50; i++) keys.push((await createApiKey(store, { projectId: `p${i}`, role: 'app' })).key);
    for (let round = 0; round < 2; round++) {
      for (const [i, k] of keys.entries()) await expect(auth.authenticate(bearer(k))).resolves.toMatchObject({ projectId: `p${i}` });
    }
    expect(auth.size).toBe(20);
  });

  it('a key in steady use is asked of the store once per cacheMs, whatever the churn of other keys', async () => {
    const t = 5_000;
    const auth = new Authenticator(store, 60_000, () => t, 20);
    const hot = await createApiKey(store, { projectId: 'hot', role: 'app' });
    await auth.authenticate(bearer(hot.key));
    for (let i = 0; i < 100; i++) {
      const { key } = await createApiKey(store, { projectId: `c${i}`, role: 'app' });
      await auth.authenticate(bearer(key));
      await auth.authenticate(bearer(hot.key));
    }
    expect(lookups.filter((h) => h === hot.row.hash)).toHaveLength(1);
    expect(lookups).toHaveLength(101);
  });

  it('a wrong secret under a cached key id is refused and does not evict the real key', async () => {
    const t = 5_000;
    const auth = new Authenticator(store, 60_000, () => t);
    const { key, row } = await createApiKey(store, { projectId: 'acme', role: 'app' });
    await auth.authenticate(bearer(key));
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const forged = `${key.slice(0, -1)}${last}`;
    await expect(auth.authenticate(bearer(forged))).rejects.toThrow('invalid API key');
    await expect(auth.authenticate(bearer(key))).resolves.toMatchObject({ keyId: row.id });
    expect(lookups.filter((h) => h === row.hash)).toHaveLength(1);
  });

  it('forget() drops a key at once (revoked through this server)', async () => {
    const t = 5_000;
    const auth = new Authenticator(store, 60_000, () => t);
    const { key, row } = await createApiKey(store, { projectId: 'acme', role: 'app' });
    await auth.authenticate(bearer(key));
    await store.revokeKey(row.id, t);
    auth.forget(row.id);
    await expect(auth.authenticate(bearer(key))).rejects.toThrow('this API key has been revoked');
  });
});
