/**
 * contract §3 against a reference model, after every step of random command sequences
 * (see sequence-property.ts), on each store: a SQLite file, and PostgreSQL when
 * NOBURN_TEST_PG is set. A longer run of the same property is in test/torture.
 */
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { postgresLedgers, sqliteUnderTest } from '../helpers/reliability/backend.js';
import { checkLedgerSequences } from '../helpers/reliability/sequence-property.js';
import { ledgerTempDir } from '../helpers/reliability/temp.js';
import { PG_URL, SKIP_TITLE, dropSchemas, newSchemaName } from '../postgres/pg-env.js';

const { dir, dispose } = ledgerTempDir('noburn-prop-');
afterAll(dispose);

describe('ledger command sequences against a reference model', () => {
  it('decides, holds, settles and expires exactly as contract §3 says, after every step (sqlite)', async () => {
    let n = 0;
    await checkLedgerSequences(() => Promise.resolve(sqliteUnderTest(join(dir, `ledger-${n++}.db`))), { numRuns: 100, maxSteps: 60 });
  });

  if (!PG_URL) {
    it.skip(SKIP_TITLE, () => {});
  } else {
    it('the same on PostgreSQL, one schema emptied between sequences', async () => {
      const schema = newSchemaName();
      const pg = await postgresLedgers(PG_URL, schema);
      try {
        await checkLedgerSequences(pg.next, { numRuns: 100, maxSteps: 60 });
      } finally {
        await pg.close();
        await dropSchemas([schema]);
      }
    }, 600_000);
  }
});
