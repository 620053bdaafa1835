import { describe } from 'vitest';
import { defineAlertTests } from './alerts.suite.js';
import { defineCapTests } from './caps.suite.js';
import { defineClampTests } from './clamp.suite.js';
import type { StoreFactory, SuiteOptions } from './harness.js';
import { defineHoldAndClockTests } from './holds-clock.suite.js';
import { defineNestedRunTests } from './nested-runs.suite.js';
import { defineRecordTests } from './records.suite.js';
import { defineRunAndReportTests } from './runs-reports.suite.js';
import { defineTagTests } from './tags.suite.js';

export type { StoreFactory, StoreHandle, SuiteOptions } from './harness.js';

/**
 * The ledger's semantic suite (contract §3), one set of tests for every store: each test
 * goes through Ledger over a fresh store from `makeStore`, with an injected clock and
 * config prices so that every amount is known exactly.
 */
export function defineLedgerSuite(name: string, makeStore: StoreFactory, opts: SuiteOptions = { moneyRecords: 1_000_000 }): void {
  describe(`ledger semantics: ${name}`, () => {
    defineCapTests(makeStore);
    defineRecordTests(makeStore, opts);
    defineRunAndReportTests(makeStore);
    defineClampTests(makeStore);
    defineNestedRunTests(makeStore);
    defineHoldAndClockTests(makeStore);
    defineTagTests(makeStore);
    defineAlertTests(makeStore);
  });
}
