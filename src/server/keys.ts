import { createHash, randomBytes } from 'node:crypto';
import { NoburnValidationError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { ApiKeyRow, KeyRole, KeyStore } from '../lib/ledger/key-store.js';
import { idString } from '../lib/validate.js';

/**
 * API keys: `nb_<id>.<secret>` with 32 random bytes of secret. Only the SHA-256 of the
 * whole key is stored (a key is high-entropy, so a fast hash is enough; no salt needed);
 * the id part lets an operator name a key (`keys revoke ID`) without ever seeing it again.
 */
const KEY_RE = /^nb_(key_[A-Za-z0-9_-]{6,32})\.([A-Za-z0-9_-]{43})$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The id embedded in a well-formed key, or null. */
export function keyIdOf(key: string): string | null {
  const m = KEY_RE.exec(key);
  return m ? (m[1] as string) : null;
}

export interface CreatedKey {
  /** Shown once; never stored. */
  key: string;
  row: ApiKeyRow;
}

export const ROLES: readonly KeyRole[] = ['app', 'admin'];

export async function createApiKey(
  store: KeyStore,
  opts: { projectId: string; role: KeyRole; label?: string | null; now?: number },
): Promise<CreatedKey> {
  if (!ROLES.includes(opts.role)) throw new NoburnValidationError('role must be app or admin');
  const projectId = idString(opts.projectId, 'project');
  const label = opts.label === undefined || opts.label === null ? null : idString(opts.label, 'label');
  const id = newId('key');
  const key = `nb_${id}.${randomBytes(32).toString('base64url')}`;
  const row: ApiKeyRow = {
    id,
    projectId,
    role: opts.role,
    hash: hashKey(key),
    label,
    createdAt: new Date(opts.now ?? Date.now()).toISOString(),
    revokedAt: null,
  };
  await store.createKey(row);
  return { key, row };
}

/** The public view of a key row: never the hash. */
export function keyView(r: ApiKeyRow): Omit<ApiKeyRow, 'hash'> {
  return { id: r.id, projectId: r.projectId, role: r.role, label: r.label, createdAt: r.createdAt, revokedAt: r.revokedAt };
}
