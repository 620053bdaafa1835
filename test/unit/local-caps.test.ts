/**
 * What a guard counts for a run it started when the authority cannot be asked
 * (docs/contract.md, "Outages"): its own records at their cost, and spend by others as the
 * server last showed it. A record still on its way is counted by the server at its hold:
 * that difference is this guard's own call, never spend by others.
 */
import { describe, expect, it } from 'vitest';
import { LocalCaps } from '../../src/lib/local-caps.js';
import type { Decision, RunInfo } from '../../src/lib/types.js';

const HOUR = 3_600_000;
const run: RunInfo = {
  runId: 'run_a',
  label: null,
  parentRunId: null,
  status: 'open',
  exhausted: false,
  budgetCapUsd: 0.01,
  spendUsd: 0,
  heldUsd: 0,
  calls: 0,
  blockedCalls: 0,
  unpricedCalls: 0,
  clampedCalls: 0,
  overHolds: 0,
  startedAt: new Date(0).toISOString(),
  endedAt: null,
};

/** A server approval with the room it reports left on the run after holding `estUsd`. */
function approval(reservationId: string, estUsd: number, runLeftUsd: number): Decision {
  return {
    blocked: false,
    blockReason: null,
    estimatedCostUsd: estUsd,
    reservationId,
    remaining: { runUsd: runLeftUsd },
    source: 'server',
    unpriced: false,
    tokensIn: 10,
    tokensOut: 100,
    clamped: false,
    estimate: { inputUsd: 0, outputUsd: estUsd },
    limit: null,
    maxTokensOut: null,
    hint: null,
  };
}

describe('LocalCaps: spend by others on a tracked run', () => {
  it('a settled record the server still holds at its estimate is not counted as others’ spend', () => {
    const caps = new LocalCaps(() => 0, HOUR, null);
    caps.trackRun(run);
    // Call 1: held $0.001 by the server, recorded at $0.0003 here; the record is on its way.
    caps.noteServerDecision('run_a', approval('rsv_1', 0.001, 0.009));
    caps.settle('rsv_1', 'run_a', false, 300_000);
    // Call 2: the server still counts call 1 at its hold: used = 0.001 + 0.001.
    caps.noteServerDecision('run_a', approval('rsv_2', 0.001, 0.008));
    caps.settle('rsv_2', 'run_a', false, 300_000);
    expect(caps.runView('run_a')?.spendUsd).toBe(0.0006);
  });

  it('once delivered, a rise the server shows beyond this guard’s own calls is others’ spend', () => {
    const caps = new LocalCaps(() => 0, HOUR, null);
    caps.trackRun(run);
    caps.noteServerDecision('run_a', approval('rsv_1', 0.001, 0.009));
    caps.settle('rsv_1', 'run_a', false, 300_000);
    caps.delivered(['rsv_1']);
    // Server: call 1 at its cost, this hold, and $0.002 spent by another process on the run.
    caps.noteServerDecision('run_a', approval('rsv_2', 0.001, 0.01 - 0.0003 - 0.001 - 0.002));
    caps.settle('rsv_2', 'run_a', false, 300_000);
    expect(caps.runView('run_a')?.spendUsd).toBe(0.0026);
  });

  it('a record never confirmed stops being discounted when the server’s hold would have expired', () => {
    let now = 0;
    const caps = new LocalCaps(() => now, 1000, null);
    caps.trackRun(run);
    caps.noteServerDecision('run_a', approval('rsv_1', 0.001, 0.009));
    caps.settle('rsv_1', 'run_a', false, 300_000);
    now = 2000;
    // The hold has expired on the server; it counts call 1 at its cost and $0.002 by others.
    caps.noteServerDecision('run_a', approval('rsv_2', 0.001, 0.01 - 0.0003 - 0.001 - 0.002));
    caps.settle('rsv_2', 'run_a', false, 300_000);
    expect(caps.runView('run_a')?.spendUsd).toBe(0.0026);
  });
});
