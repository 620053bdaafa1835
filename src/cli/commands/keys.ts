import { resolveConfig } from '../../lib/config.js';
import type { KeyStore } from '../../lib/ledger/key-store.js';
import { ExitCodes } from '../exit-codes.js';
import { printList } from '../format.js';
import type { Output } from '../output.js';
import type { KeysCreateOptions, KeysListOptions, KeysRevokeOptions } from '../specs.js';

/** `noburn keys create|list|revoke`: API keys in the store `serve` uses (--store, NOBURN_STORE, $NOBURN_HOME/noburn.db). */
async function withStore<T>(opts: Pick<KeysRevokeOptions, 'store'>, fn: (s: KeyStore) => Promise<T>): Promise<T> {
  const config = resolveConfig(opts.store !== undefined ? { store: opts.store } : {});
  const { openStore } = await import('../../lib/ledger/open-store.js');
  const store = await openStore(config.store);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Prints the new key alone on stdout (KEY=$(noburn keys create)); it is never shown again. */
export async function keysCreateCommand(opts: KeysCreateOptions, out: Output): Promise<number> {
  const { createApiKey, keyView } = await import('../../server/keys.js');
  const { key, row } = await withStore(opts, (s) => createApiKey(s, { projectId: opts.project ?? 'default', role: opts.role ?? 'app', label: opts.label ?? null }));
  if (opts.json) {
    out.json({ ...keyView(row), key });
  } else {
    out.out(key);
    out.err(`created ${row.role} key ${row.id} for project "${row.projectId}"; it is shown only now, store it safely`);
  }
  return ExitCodes.OK;
}

export async function keysListCommand(opts: KeysListOptions, out: Output): Promise<number> {
  const { keyView } = await import('../../server/keys.js');
  const keys = (await withStore(opts, (s) => s.listKeys(opts.project ?? null))).map(keyView);
  printList(out, opts.json, keys, {
    empty: 'no keys (create one with: noburn keys create --role admin)',
    head: ['ID', 'PROJECT', 'ROLE', 'LABEL', 'CREATED', 'REVOKED'],
    row: (k) => [k.id, k.projectId, k.role, k.label ?? '', k.createdAt, k.revokedAt ?? ''],
  });
  return ExitCodes.OK;
}

export async function keysRevokeCommand(id: string, opts: KeysRevokeOptions, out: Output): Promise<number> {
  const { keyView } = await import('../../server/keys.js');
  const row = await withStore(opts, async (s) => {
    await s.revokeKey(id, Date.now());
    return (await s.listKeys(null)).find((k) => k.id === id);
  });
  if (opts.json) out.json(row ? keyView(row) : { id });
  else out.err(`revoked key ${id} (a running server stops accepting it within a second)`);
  return ExitCodes.OK;
}
