/**
 * The ledger property of test/property/ledger-sequences.test.ts, run four times as often
 * with longer sequences (more state: more runs, holds, windows crossed), where the
 * time budget of the torture suite allows it.
 */
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { sqliteUnderTest } from '../helpers/reliability/backend.js';
import { checkLedgerSequences } from '../helpers/reliability/sequence-property.js';
import { ledgerTempDir } from '../helpers/reliability/temp.js';

const { dir, dispose } = ledgerTempDir('noburn-prop-long-');
afterAll(dispose);

describe('ledger command sequences against a reference model (long)', () => {
  it('holds over 400 sequences of up to 120 steps', async () => {
    let n = 0;
    await checkLedgerSequences(() => Promise.resolve(sqliteUnderTest(join(dir, `ledger-${n++}.db`))), { numRuns: 400, maxSteps: 120 });
  });
});
