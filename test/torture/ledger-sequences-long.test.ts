/**
 * The ledger property of test/property/ledger-sequences.test.ts, run four times as often
 * with longer sequences (more state: more runs, holds, windows crossed), where the
 * time budget of the torture suite allows it.
 */
import { afterAll, describe, it } from 'vitest';
import { checkLedgerSequences } from '../helpers/reliability/sequence-property.js';
import { ledgerTempDir } from '../helpers/reliability/temp.js';

const { dir, dispose } = ledgerTempDir('noburn-prop-long-');
afterAll(dispose);

describe('ledger command sequences against a reference model (long)', () => {
  it('holds over 400 sequences of up to 120 steps', async () => {
    await checkLedgerSequences(dir, { numRuns: 400, maxSteps: 120 });
  });
});
