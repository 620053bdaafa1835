import { afterAll, describe, it } from 'vitest';
import { defineLedgerSuite } from '../ledger/semantics.suite.js';
import { PG_URL, SKIP_TITLE, dropDisposedSchemas, freshStore } from './pg-env.js';

// The same semantic suite as test/ledger/sqlite.test.ts, on PostgreSQL.
if (PG_URL === '') {
  console.warn(SKIP_TITLE);
  describe('ledger semantics: postgres', () => {
    it.skip(SKIP_TITLE, () => undefined);
  });
} else {
  afterAll(dropDisposedSchemas);
  defineLedgerSuite('postgres', () => freshStore(), { moneyRecords: 100_000, moneyNote: '(the full million is proven on SQLite)' });
}
