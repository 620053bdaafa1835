import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreCheck } from '../../src/lib/ledger/store.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const check = (now: number): StoreCheck => ({
  projectId: 'p', userId: 'u', runId: null, model: 'm', estimateNano: 1000, tokensIn: 1, tokensOut: 1, unpriced: false, now, holdTtlMs: 600_000,
});

describe('SQLite hold ids', () => {
  // Rule: reservation ids are time-ordered, so the holds' primary key grows at its end
  // (a commit then writes a few index pages, not one per new hold).
  it('are in the order of the checks that took them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'noburn-holdids-'));
    const store = new SqliteStore(join(dir, 'noburn.db'));
    try {
      const t0 = 1_764_650_000_000;
      const ds = await store.checkBatch(Array.from({ length: 200 }, (_, i) => check(t0 + i * 7)));
      const ids = ds.map((d) => d.reservationId as string);
      expect(ids.every((id) => /^res_[\w-]+$/.test(id))).toBe(true);
      expect([...ids].sort()).toEqual(ids);
      const rows = store.db.prepare('SELECT id FROM holds ORDER BY id').all() as { id: string }[];
      expect(rows.map((r) => r.id)).toEqual(ids);
    } finally {
      await store.close();
    }
  });
});
