/**
 * contract §3 against a reference model, after every step of random command sequences
 * (see sequence-property.ts). A longer run of the same property is in test/torture.
 */
import { afterAll, describe, it } from 'vitest';
import { checkLedgerSequences } from '../helpers/reliability/sequence-property.js';
import { ledgerTempDir } from '../helpers/reliability/temp.js';

const { dir, dispose } = ledgerTempDir('noburn-prop-');
afterAll(dispose);

describe('ledger command sequences against a reference model', () => {
  it('decides, holds, settles and expires exactly as contract §3 says, after every step', async () => {
    await checkLedgerSequences(dir, { numRuns: 100, maxSteps: 60 });
  });
});
