/**
 * The API keys `noburn serve` accepts, kept in the same backend as the ledger (one place
 * for an operator to back up) but behind their own seam: the server's authenticator and
 * `noburn keys` use this, never the ledger store.
 */
export type KeyRole = 'app' | 'admin';

export interface ApiKeyRow {
  id: string;
  projectId: string;
  role: KeyRole;
  hash: string;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface KeyStore {
  createKey(k: ApiKeyRow): Promise<void>;
  listKeys(projectId: string | null): Promise<ApiKeyRow[]>;
  /** Throws NoburnNotFoundError. */
  revokeKey(id: string, now: number): Promise<void>;
  findKeyByHash(hash: string): Promise<ApiKeyRow | null>;
}

/** A row of the `api_keys` table, the same in both backends (times in epoch ms). */
export interface KeyDbRow {
  id: string;
  project_id: string;
  role: string;
  hash: string;
  label: string | null;
  created_at: number;
  revoked_at: number | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function keyOf(r: KeyDbRow): ApiKeyRow {
  return {
    id: r.id,
    projectId: r.project_id,
    role: r.role as KeyRole,
    hash: r.hash,
    label: r.label,
    createdAt: iso(r.created_at),
    revokedAt: r.revoked_at === null ? null : iso(r.revoked_at),
  };
}
