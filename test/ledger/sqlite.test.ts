import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { defineLedgerSuite } from './semantics.suite.js';

// Each test gets a real ledger file in its own temporary folder.
defineLedgerSuite(
  'sqlite',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'noburn-ledger-'));
    const store = new SqliteStore(join(dir, 'noburn.db'));
    return Promise.resolve({
      store,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  },
  { moneyRecords: 1_000_000 },
);
